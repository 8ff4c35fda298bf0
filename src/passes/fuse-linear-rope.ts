// fuse_linear_rope: the rope ops on q and k move into the epilogue of the projection that makes them, so q and k
// are rotated while the GEMM's block of outputs is still in cache instead of being written, read back, rotated and
// written again by two rope ops. Two shapes, both as the layer builders (and fuse_sibling_linears) write them:
//   %qkv = linear(%x, @w, @b); %q, %k, %v = split(%qkv) {sizes}; %qr = rope(%q, @f); %kr = rope(%k, @f)
//     ->  %qkv = linear_rope(%x, @w, @f, @b) {num_heads = q heads + k heads, ...}; %qr, %kr, %v = split(%qkv)
//   %q = linear(%x, @w); %qr = rope(%q, @f)   ->   %qr = linear_rope(%x, @w, @f) {num_heads = q heads, ...}
// linear_rope rotates columns [0, num_heads*head_dim) of its output as heads of head_dim, so the rotated split
// outputs must be the leading ones, in order (q then k; v, the last, stays as computed). The ropes must agree on
// inv_freq, head_dim, rotary_dim and style, and each rotated value must have its rope as its only reader. The fused
// node keeps the linear's name; the split's (or the linear's) outputs become the ropes' output values, so every
// reader downstream (attention) is unchanged, and `llmc verify` maps the fused value's columns to the reference's
// rope outputs through the split. Quantized linears (linear_q) are left alone: their kernels have no rope epilogue.
import { actUsers, cloneGraph, removeUnusedValues, type Graph, type Node } from '../compiler/ir/graph.js';
import type { Pass } from './pass.js';

function ropeKey(n: Node): string {
  const f = n.inputs[1];
  return JSON.stringify([f?.kind === 'weight' ? f.name : null, n.attrs.head_dim, n.attrs.rotary_dim, n.attrs.style]);
}

function run(input: Graph): Graph {
  const g = cloneGraph(input);
  const users = actUsers(g);
  const readers = (id: number): Node[] => (users.get(id) ?? []).map((i) => g.nodes[i]);
  /** The rope that is the only reader of value `id` (and not the logits), or null. */
  const onlyRope = (id: number): Node | null => {
    const r = readers(id);
    return r.length === 1 && r[0].op === 'rope' && r[0].inputs[0]?.kind === 'act' && r[0].inputs[0].id === id && id !== g.outputs.logits ? r[0] : null;
  };
  const removed = new Set<Node>();

  for (const lin of g.nodes) {
    if (lin.op !== 'linear' || lin.outputs.length !== 1) continue;
    const h = lin.outputs[0];
    if (h === g.outputs.logits) continue;
    const hr = readers(h);
    let ropes: Node[];
    let split: Node | null = null;
    if (hr.length === 1 && hr[0].op === 'rope') {
      const r = onlyRope(h);
      if (!r) continue;
      ropes = [r];
    } else if (hr.length === 1 && hr[0].op === 'split') {
      split = hr[0];
      ropes = [];
      for (const o of split.outputs) {
        const r = onlyRope(o);
        if (!r) break;
        ropes.push(r);
      }
      if (ropes.length === 0) continue;
    } else {
      continue;
    }
    if (ropes.some((r) => removed.has(r) || ropeKey(r) !== ropeKey(ropes[0]))) continue;
    const headDim = ropes[0].attrs.head_dim as number;
    const heads = ropes.reduce((s, r) => s + (r.attrs.num_heads as number), 0);

    lin.op = 'linear_rope';
    lin.inputs = [lin.inputs[0], lin.inputs[1], ropes[0].inputs[1], ...(lin.inputs[2] ? [lin.inputs[2]] : [])];   // x, weight, inv_freq[, bias]
    lin.attrs = { num_heads: heads, head_dim: headDim, rotary_dim: ropes[0].attrs.rotary_dim, style: ropes[0].attrs.style };
    if (split) split.outputs = split.outputs.map((o, i) => (i < ropes.length ? ropes[i].outputs[0] : o));
    else lin.outputs = [ropes[0].outputs[0]];
    for (const r of ropes) removed.add(r);
  }
  g.nodes = g.nodes.filter((n) => !removed.has(n));
  removeUnusedValues(g);
  return g;
}

export const fuseLinearRope: Pass = { name: 'fuse_linear_rope', run };
