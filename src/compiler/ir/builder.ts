// Builds a Graph node by node. Layer builders (src/compiler/layers/) use it; every node is typed on the spot with
// the op rules, so a wrong width is reported where it is made, naming the node.
import type { OpName } from './ops.generated.js';
import { inferOutputs, OpRuleError, withDefaults } from './op-rules.js';
import type { Activation, Attrs, Graph, Operand, Weight, WeightDType } from './graph.js';
import type { WeightSource } from './weight-source.js';
import { verify } from './verify.js';

/** An activation handle: its id plus its type, for layer code that needs widths. */
export interface Act {
  kind: 'act';
  id: number;
  width: number;
  rows: Activation['rows'];
}

export type In = Act | Operand | null | undefined;

export class GraphBuilder {
  private readonly g: Graph = { weights: new Map(), acts: new Map(), nodes: [], outputs: { logits: -1 } };
  private nextId = 0;

  /** Declares a weight (idempotent for the same name and type) and returns a reference to it. */
  weight(w: Weight): Operand {
    const old = this.g.weights.get(w.name);
    if (old) {
      if (old.dtype !== w.dtype || old.shape.join(',') !== w.shape.join(',')) {
        throw new Error(`weight @${w.name} declared twice with different types`);
      }
    } else {
      this.g.weights.set(w.name, { name: w.name, dtype: w.dtype, shape: [...w.shape], source: w.source });
    }
    return { kind: 'weight', name: w.name };
  }

  hasWeight(name: string): boolean {
    return this.g.weights.has(name);
  }

  constWeight(name: string, dtype: WeightDType, shape: number[], source: WeightSource): Operand {
    return this.weight({ name, dtype, shape, source });
  }

  /** Adds a single-output node; its output activation gets the node's name. */
  node(op: OpName, name: string, inputs: In[], attrs: Attrs = {}): Act {
    return this.nodeN(op, name, inputs, attrs, [name])[0];
  }

  /** Adds a node with one output per entry of outNames (split). */
  nodeN(op: OpName, name: string, inputs: In[], attrs: Attrs, outNames: string[]): Act[] {
    const operands = inputs.map((x): Operand | null => (x ? (x.kind === 'act' ? { kind: 'act', id: x.id } : x) : null));
    while (operands.length > 0 && operands[operands.length - 1] === null) operands.pop();
    const full = withDefaults(op, attrs);
    let types;
    try {
      types = inferOutputs({ op, inputs: operands, attrs: full }, { weight: (n) => this.g.weights.get(n), act: (id) => this.g.acts.get(id) });
    } catch (e) {
      if (e instanceof OpRuleError) throw new Error(`building node ${name} (${op}): ${e.message}`);
      throw e;
    }
    if (types.length !== outNames.length) throw new Error(`node ${name} (${op}) has ${types.length} outputs, ${outNames.length} names given`);
    const outs = types.map((t, i): Act => {
      const id = this.nextId++;
      this.g.acts.set(id, { id, name: outNames[i], rows: t.rows, width: t.width });
      return { kind: 'act', id, rows: t.rows, width: t.width };
    });
    this.g.nodes.push({ op, name, inputs: operands, outputs: outs.map((o) => o.id), attrs: full });
    return outs;
  }

  /** Marks the logits activation and returns the verified graph. */
  finish(logits: Act): Graph {
    this.g.outputs.logits = logits.id;
    verify(this.g);
    return this.g;
  }
}
