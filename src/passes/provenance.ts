// Which passes made each node: `llmc verify` names the passes behind the first value that goes wrong. A node is
// credited to every pass after which it is new or different (its op, inputs by value name, or attrs), in order;
// nodes the layer builders wrote and no pass touched are not listed. Recorded in the manifest (`provenance.nodes`).
import type { Graph, Node } from '../compiler/ir/graph.js';

function signature(g: Graph, n: Node): string {
  const inputs = n.inputs.map((x) => (x === null ? '-' : x.kind === 'weight' ? `@${x.name}` : `%${g.acts.get(x.id)?.name}`));
  const outputs = n.outputs.map((id) => g.acts.get(id)?.name);
  return JSON.stringify([n.op, inputs, outputs, n.attrs]);
}

export class NodeProvenance {
  private readonly byNode = new Map<string, string[]>();
  private before: Map<string, string>;

  constructor(input: Graph) {
    this.before = this.signatures(input);
  }

  /** Call after each pass with its result. */
  record(passName: string, g: Graph): void {
    const now = this.signatures(g);
    for (const [name, sig] of now) {
      if (this.before.get(name) === sig) continue;
      const list = this.byNode.get(name) ?? [];
      if (list[list.length - 1] !== passName) list.push(passName);
      this.byNode.set(name, list);
    }
    for (const name of [...this.byNode.keys()]) if (!now.has(name)) this.byNode.delete(name);
    this.before = now;
  }

  /** node name -> the passes that made or changed it, in node-name order (deterministic manifests). */
  nodes(): Record<string, string[]> {
    return Object.fromEntries([...this.byNode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  private signatures(g: Graph): Map<string, string> {
    return new Map(g.nodes.map((n) => [n.name, signature(g, n)]));
  }
}
