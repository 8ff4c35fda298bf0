// fuse_add_norm: a residual add followed by the norm that reads it becomes one op, so the norm reads the sum while
// it is still in registers instead of in a second pass over [rows, width] in memory.
//   %s = add(%a, %b); %n = rms_norm(%s, @w) {eps, weight_offset}  ->  %s, %n = add_rms_norm(%a, %b, @w) {eps, weight_offset}
//   %s = add(%a, %b); %n = layer_norm(%s, @w, @bias) {eps}        ->  %s, %n = add_layer_norm(%a, %b, @w, @bias) {eps}
// The sum is still written (the next residual add reads it) and keeps its value id and name, as does the norm's
// output, so everything downstream is unchanged. The fused node takes the add's place in the order (the norm's
// weight operands are constants, so it may move up) and the norm's node name. An add feeding two norms (parallel
// attention + MLP norms) is fused with the first only.
import { cloneGraph, type Graph, type Node } from '../compiler/ir/graph.js';
import type { Pass } from './pass.js';

function run(input: Graph): Graph {
  const g = cloneGraph(input);
  const definer = new Map<number, Node>();
  for (const n of g.nodes) for (const o of n.outputs) definer.set(o, n);
  const fusedInto = new Map<Node, Node>();  // add -> its fused node
  const removed = new Set<Node>();          // norms folded into a fused node

  for (const norm of g.nodes) {
    if (norm.op !== 'rms_norm' && norm.op !== 'layer_norm') continue;
    const x = norm.inputs[0];
    if (x?.kind !== 'act') continue;
    const add = definer.get(x.id);
    if (!add || add.op !== 'add' || fusedInto.has(add)) continue;
    const [a, b] = add.inputs;
    if (a?.kind !== 'act' || b?.kind !== 'act') continue;
    const fused: Node = {
      op: norm.op === 'rms_norm' ? 'add_rms_norm' : 'add_layer_norm',
      name: norm.name,
      inputs: [a, b, ...norm.inputs.slice(1)],
      outputs: [add.outputs[0], norm.outputs[0]],
      attrs: { ...norm.attrs },
    };
    fusedInto.set(add, fused);
    removed.add(norm);
  }
  g.nodes = g.nodes.filter((n) => !removed.has(n)).map((n) => fusedInto.get(n) ?? n);
  return g;
}

export const fuseAddNorm: Pass = { name: 'fuse_add_norm', run };
