// plan_memory: gives every activation an offset in its activation arena.
//
// Two f32 arenas, one per row kind:
//   token arena   floats_per_token * max_num_tokens floats: the `tokens` values. A value of width w at offset o
//                 occupies floats [o * max_num_tokens, (o + w) * max_num_tokens) as a [rows, w] row-major matrix.
//   logits arena  logit_floats_per_row * max_logit_rows floats: the `logit_rows` values (the LM head's rows and the
//                 [R, vocab] logits), laid out the same way at max_logit_rows rows (plan.ts maxLogitRows), so the
//                 vocab-wide logits cost max_logit_rows rows, not max_num_tokens.
// Within an arena, two activations whose live ranges overlap (liveness.ts: from the defining node to the last
// reader) get disjoint [o, o + w) ranges; the verifier checks it. The arenas are separate buffers, so a `tokens`
// value never conflicts with a `logit_rows` one.
//
// Greedy first fit, largest first (ties: earlier definition, then lower id, so the plan is deterministic).
// Offsets and sizes are rounded up to ALIGN floats so every activation starts 64-byte aligned whatever
// max_num_tokens or max_logit_rows is.
import { cloneGraph, type Activation, type Graph, type Rows } from '../compiler/ir/graph.js';
import { liveRanges, rangesOverlap, type LiveRange } from '../compiler/ir/liveness.js';
import type { Pass } from './pass.js';

export const ARENA_ALIGN_FLOATS = 16;
const roundUp = (x: number) => Math.ceil(x / ARENA_ALIGN_FLOATS) * ARENA_ALIGN_FLOATS;

/** First fit of `acts` into one arena; sets their arenaOffset and returns the arena's width (floats per row). */
function fitArena(acts: Activation[], live: Map<number, LiveRange>): number {
  const order = [...acts].sort((a, b) =>
    b.width - a.width || live.get(a.id)!.start - live.get(b.id)!.start || a.id - b.id);
  const placed: { range: LiveRange; start: number; end: number }[] = [];
  let width = 0;
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
    width = Math.max(width, offset + size);
  }
  return width;
}

function run(input: Graph): Graph {
  const g = cloneGraph(input);
  const live = liveRanges(g);
  const of = (rows: Rows) => [...g.acts.values()].filter((a) => a.rows === rows);
  g.arena = { floatsPerToken: fitArena(of('tokens'), live), logitFloatsPerRow: fitArena(of('logit_rows'), live) };
  return g;
}

export const planMemory: Pass = { name: 'plan_memory', run };
