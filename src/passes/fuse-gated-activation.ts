// fuse_gated_activation: the SwiGLU / GeGLU pattern becomes one op.
//   %a = activation(%gate) {kind=K}; %m = mul(%a, %up)  ->  %m = gated_activation(%gate, %up) {kind=K}
// (mul(%up, %a) too: mul commutes). Only when %a has no other reader, so nothing else needs it materialised.
// The fused node keeps the mul's name and output value, so everything downstream is unchanged.
import { actUsers, cloneGraph, removeUnusedValues, type Graph, type Node } from '../compiler/ir/graph.js';
import type { Pass } from './pass.js';

function run(input: Graph): Graph {
  const g = cloneGraph(input);
  const users = actUsers(g);
  const definer = new Map<number, Node>();
  for (const n of g.nodes) for (const o of n.outputs) definer.set(o, n);
  const fusedAway = new Set<Node>();

  for (const m of g.nodes) {
    if (m.op !== 'mul') continue;
    for (const side of [0, 1]) {
      const a = m.inputs[side];
      const other = m.inputs[1 - side];
      if (a?.kind !== 'act' || other?.kind !== 'act') break;
      const act = definer.get(a.id);
      if (!act || act.op !== 'activation' || fusedAway.has(act)) continue;
      if ((users.get(a.id) ?? []).length !== 1 || a.id === g.outputs.logits || a.id === other.id) continue;
      m.op = 'gated_activation';
      m.inputs = [act.inputs[0], other];                       // gate, up
      m.attrs = { kind: act.attrs.kind };
      fusedAway.add(act);
      break;
    }
  }
  g.nodes = g.nodes.filter((n) => !fusedAway.has(n));
  removeUnusedValues(g);
  return g;
}

export const fuseGatedActivation: Pass = { name: 'fuse_gated_activation', run };
