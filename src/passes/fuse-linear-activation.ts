// fuse_linear_activation: a linear whose only reader is an element-wise activation becomes one op that applies the
// bias and the activation in the GEMM's epilogue, on the block of outputs its thread has just computed, instead of
// in a separate pass over [rows, out] (the plain-MLP models: GPT-2, OPT, Falcon, BLOOM, Phi, GPT-J, ...).
//   %h = linear(%x, @w, @b); %a = activation(%h) {kind}  ->  %a = linear_act(%x, @w, @b) {kind}
// Gated MLPs are left alone: their activation is already fused with the mul (fuse_gated_activation). The fused
// node keeps the linear's name and the activation's output value, so everything downstream is unchanged.
import { actUsers, cloneGraph, removeUnusedValues, type Graph, type Node } from '../compiler/ir/graph.js';
import type { Pass } from './pass.js';

function run(input: Graph): Graph {
  const g = cloneGraph(input);
  const users = actUsers(g);
  const definer = new Map<number, Node>();
  for (const n of g.nodes) for (const o of n.outputs) definer.set(o, n);
  const removed = new Set<Node>();

  for (const act of g.nodes) {
    if (act.op !== 'activation') continue;
    const h = act.inputs[0];
    if (h?.kind !== 'act' || h.id === g.outputs.logits) continue;
    const lin = definer.get(h.id);
    if (!lin || lin.op !== 'linear' || (users.get(h.id) ?? []).length !== 1) continue;
    lin.op = 'linear_act';
    lin.outputs = [act.outputs[0]];
    lin.attrs = { kind: act.attrs.kind };
    removed.add(act);
  }
  g.nodes = g.nodes.filter((n) => !removed.has(n));
  removeUnusedValues(g);
  return g;
}

export const fuseLinearActivation: Pass = { name: 'fuse_linear_activation', run };
