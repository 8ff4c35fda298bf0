// plan_memory: gives every activation an offset in the activation arena, in floats per token.
//
// The arena is one f32 buffer of floats_per_token * max_num_tokens floats; an activation of width w at offset o
// occupies floats [o * max_num_tokens, (o + w) * max_num_tokens) as a [rows, w] row-major matrix. logit_rows
// values share it with tokens values (logit_rows <= max_num_tokens). Two activations whose live ranges overlap
// (liveness.ts: from the defining node to the last reader) get disjoint [o, o + w) ranges; the verifier checks it.
//
// Greedy first fit, largest first (ties: earlier definition, then lower id, so the plan is deterministic).
// Offsets and sizes are rounded up to ALIGN floats so every activation starts 64-byte aligned whatever
// max_num_tokens is.
import { cloneGraph, type Graph } from '../compiler/ir/graph.js';
import { liveRanges, rangesOverlap, type LiveRange } from '../compiler/ir/liveness.js';
import type { Pass } from './pass.js';

export const ARENA_ALIGN_FLOATS = 16;
const roundUp = (x: number) => Math.ceil(x / ARENA_ALIGN_FLOATS) * ARENA_ALIGN_FLOATS;

function run(input: Graph): Graph {
  const g = cloneGraph(input);
  const live = liveRanges(g);
  const order = [...g.acts.values()].sort((a, b) =>
    b.width - a.width || live.get(a.id)!.start - live.get(b.id)!.start || a.id - b.id);

  const placed: { range: LiveRange; start: number; end: number }[] = [];
  let floatsPerToken = 0;
  for (const a of order) {
    const range = live.get(a.id)!;
    const size = roundUp(a.width);
    // Occupied spans of the activations live at the same time, by offset; take the first gap that fits.
    const busy = placed.filter((p) => rangesOverlap(p.range, range)).sort((x, y) => x.start - y.start);
    let offset = 0;
    for (const b of busy) {
      if (offset + size <= b.start) break;
      offset = Math.max(offset, b.end);
    }
    a.arenaOffset = offset;
    placed.push({ range, start: offset, end: offset + size });
    floatsPerToken = Math.max(floatsPerToken, offset + size);
  }
  g.arena = { floatsPerToken };
  return g;
}

export const planMemory: Pass = { name: 'plan_memory', run };
