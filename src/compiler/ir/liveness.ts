// Live ranges of activations, in node indices: an activation is live from the node that defines it to the last
// node that reads it, inclusive (a node's inputs and outputs are live together: no op works in place). The graph
// output stays live past the last node.
import type { Graph } from './graph.js';

export interface LiveRange { id: number; start: number; end: number }

export function liveRanges(g: Graph): Map<number, LiveRange> {
  const ranges = new Map<number, LiveRange>();
  g.nodes.forEach((n, i) => {
    for (const o of n.outputs) ranges.set(o, { id: o, start: i, end: i });
  });
  g.nodes.forEach((n, i) => {
    for (const x of n.inputs) {
      if (x?.kind !== 'act') continue;
      const r = ranges.get(x.id);
      if (r) r.end = Math.max(r.end, i);
    }
  });
  const out = ranges.get(g.outputs.logits);
  if (out) out.end = g.nodes.length;
  return ranges;
}

export function rangesOverlap(a: LiveRange, b: LiveRange): boolean {
  return a.start <= b.end && b.start <= a.end;
}
