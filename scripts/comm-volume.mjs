#!/usr/bin/env node
// Bytes a sharded engine communicates per token (docs/parallel.md, "What goes over the wire"), read from the rank
// plans: each all_reduce / all_gather / send of rank 0's tensor-parallel group and of every stage boundary.
//   node scripts/comm-volume.mjs ENGINE_DIR
// Activations are f32: an all_reduce of width w moves 4w payload bytes per token (a ring all-reduce sends
// 2 (tp-1)/tp of that from every rank); rows 'logit_rows' are counted per logit row.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const { readPlan } = await import(new URL('../dist/compiler/engine/reader.js', import.meta.url).href);
const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/comm-volume.mjs ENGINE_DIR');
  process.exit(2);
}
const m = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const world = m.mapping?.world_size ?? 1;
const layers = m.model.num_layers;
const totals = { all_reduce: { tokens: 0, logit_rows: 0 }, all_gather: { tokens: 0, logit_rows: 0 }, send: { tokens: 0, logit_rows: 0 } };
const counts = { all_reduce: 0, all_gather: 0, send: 0 };
for (let r = 0; r < world; r++) {
  const { plan } = readPlan(dir, r);
  const tpRank = plan.mapping?.tp_rank ?? 0;
  for (const n of plan.nodes) {
    if (!(n.op in totals)) continue;
    if (n.op !== 'send' && tpRank !== 0) continue;      // a collective counted once per group (its payload)
    const v = plan.values[n.op === 'send' ? n.inputs[0] : n.outputs[0]];
    totals[n.op][v.rows] += 4 * v.width;
    counts[n.op]++;
  }
}
console.log(`${dir}: world ${world} (tp ${m.mapping?.tp ?? 1} x pp ${m.mapping?.pp ?? 1}), ${layers} layers, hidden ${m.model.hidden_size}, vocab ${m.model.vocab_size}`);
for (const op of Object.keys(totals)) {
  const t = totals[op];
  if (counts[op] === 0) continue;
  console.log(`  ${op.padEnd(10)} ${String(counts[op]).padStart(4)} ops: ${t.tokens} B per token (${(t.tokens / layers).toFixed(0)} B per token per layer), ${t.logit_rows} B per logit row`);
}
