// Which reference values an optimized engine's activation computes. Most keep their name through the passes (a
// fused node keeps its output values, so `l0.mlp` is `l0.mlp` in both plans). A value that only the optimized
// plan has is mapped through the node that consumes it: the input of a split (the fused `l0.qkv` of
// fuse_sibling_linears) is its outputs side by side, so columns [0, q) of `l0.qkv` are the reference `l0.q`,
// and so on. Values with neither are listed as unmapped (nothing to compare them with).
import type { Plan, PlanActivationValue, PlanNode } from '../compiler/engine/format.js';

export interface RefPart { ref: string; col0: number; col1: number }
export interface MappedValue {
  name: string;
  width: number;
  node: PlanNode;              // the node that computes it in the optimized plan
  parts: RefPart[] | null;     // null: no reference value (unmapped)
  fused: boolean;              // parts are slices of this value
}

export function activations(plan: Plan): Map<string, PlanActivationValue> {
  const out = new Map<string, PlanActivationValue>();
  for (const v of plan.values) if (v.kind === 'activation') out.set(v.name, v);
  return out;
}

/** The reference side: value name -> width (from its plan, or from the index of reference dumps). */
export function planWidths(plan: Plan): Map<string, number> {
  return new Map([...activations(plan)].map(([k, v]) => [k, v.width]));
}

/** Every activation of the optimized plan, in execution order, with what it is compared against. */
export function mapValues(engine: Plan, refWidths: Map<string, number>): MappedValue[] {
  const name = (id: number) => engine.values[id].name;
  const splitOf = new Map<number, PlanNode>();   // value id -> the split that reads it
  for (const n of engine.nodes) if (n.op === 'split') splitOf.set(n.inputs[0], n);
  const out: MappedValue[] = [];
  for (const node of engine.nodes) {
    for (const id of node.outputs) {
      const v = engine.values[id] as PlanActivationValue;
      if (refWidths.get(v.name) === v.width) {
        out.push({ name: v.name, width: v.width, node, parts: [{ ref: v.name, col0: 0, col1: v.width }], fused: false });
        continue;
      }
      const split = splitOf.get(id);
      const sizes = split?.attrs.sizes;
      if (split && Array.isArray(sizes) && sizes.length === split.outputs.length) {
        let col = 0;
        const parts = split.outputs.map((o, i) => ({ ref: name(o), col0: col, col1: (col += sizes[i]) }));
        const ok = parts.every((p) => refWidths.get(p.ref) === p.col1 - p.col0);
        out.push({ name: v.name, width: v.width, node, parts: ok ? parts : null, fused: ok });
        continue;
      }
      out.push({ name: v.name, width: v.width, node, parts: null, fused: false });
    }
  }
  return out;
}

/** The layer a value belongs to: `l3` for `l3.attn`, else the value's own name (embed, final_norm, logits). */
export function layerOf(value: string): string {
  const m = /^(l\d+)\./.exec(value);
  return m ? m[1] : value;
}
