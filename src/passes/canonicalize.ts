// canonicalize: the cleanup every later pass can rely on.
//   activation(x) {kind=identity}  ->  x          (uses of the output read x instead)
//   a node none of whose outputs is read  ->  removed   (unless the schema marks its op side_effects: attention
//                                                       writes the KV cache, collectives meet the other ranks)
//   weights and activations nothing reads  ->  removed
import { cloneGraph, removeUnusedValues, type Graph, type Node } from '../compiler/ir/graph.js';
import { SIDE_EFFECT_OPS } from '../compiler/ir/ops.generated.js';
import type { Pass } from './pass.js';

function run(input: Graph): Graph {
  const g = cloneGraph(input);
  foldIdentities(g);
  removeDeadNodes(g);
  removeUnusedValues(g);
  return g;
}

function foldIdentities(g: Graph): void {
  const replace = new Map<number, number>();    // output id -> the id it equals
  const resolve = (id: number): number => (replace.has(id) ? resolve(replace.get(id)!) : id);
  g.nodes = g.nodes.filter((n) => {
    if (n.op !== 'activation' || n.attrs.kind !== 'identity' || n.inputs[0]?.kind !== 'act') return true;
    replace.set(n.outputs[0], n.inputs[0].id);
    return false;
  });
  if (replace.size === 0) return;
  for (const n of g.nodes) n.inputs = n.inputs.map((x) => (x?.kind === 'act' ? { kind: 'act', id: resolve(x.id) } : x));
  g.outputs.logits = resolve(g.outputs.logits);
}

function removeDeadNodes(g: Graph): void {
  // Walk backwards so a chain of dead nodes goes in one sweep.
  const live: Node[] = [];
  const read = new Set<number>([g.outputs.logits]);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!SIDE_EFFECT_OPS.has(n.op) && !n.outputs.some((o) => read.has(o))) continue;
    for (const x of n.inputs) if (x?.kind === 'act') read.add(x.id);
    live.push(n);
  }
  g.nodes = live.reverse();
}

export const canonicalize: Pass = { name: 'canonicalize', run };
