#!/usr/bin/env node
// Compares two activation dumps (llmc run --dump-dir A / LLMC_DUMP_DIR) value by value, in execution order, and
// names the first activation whose max abs difference exceeds the tolerance: the first wrong layer.
//   node scripts/compare-dumps.mjs DIR_A DIR_B [--tol 1e-4]
// A reference from another tool can be compared too: write its tensors as raw little-endian f32 [rows, width] and an
// index.tsv with the columns step, op, value, rows, width, file, using llmc's value names (see `llmc build --dump-ir`).
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const [a, b] = args.filter((x, i) => !x.startsWith('--') && args[i - 1] !== '--tol');
const tolIdx = args.indexOf('--tol');
const tol = tolIdx >= 0 ? Number(args[tolIdx + 1]) : 1e-4;
if (!a || !b || !(tol >= 0)) {
  console.error('usage: compare-dumps.mjs DIR_A DIR_B [--tol 1e-4]');
  process.exit(2);
}

function readIndex(dir) {
  const path = join(dir, 'index.tsv');
  if (!existsSync(path)) {
    console.error(`error: ${dir} has no index.tsv; make a dump with \`llmc run ENGINE ... --dump-dir ${dir}\``);
    process.exit(1);
  }
  const [, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  return rows.map((l) => {
    const [step, op, value, r, w, file] = l.split('\t');
    return { key: `${step}/${value}`, step: Number(step), op, value, rows: Number(r), width: Number(w), file };
  });
}

function f32(dir, file) {
  const buf = readFileSync(join(dir, file));
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
}

const A = readIndex(a);
const B = new Map(readIndex(b).map((e) => [e.key, e]));
let compared = 0;
for (const ea of A) {
  const eb = B.get(ea.key);
  if (!eb) continue;
  if (ea.rows !== eb.rows || ea.width !== eb.width) {
    console.log(`step ${ea.step} ${ea.value}: shapes differ ([${ea.rows}, ${ea.width}] vs [${eb.rows}, ${eb.width}])`);
    process.exit(1);
  }
  const x = f32(a, ea.file), y = f32(b, eb.file);
  let max = 0, at = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    if (!(d <= max)) { max = Number.isNaN(d) ? Infinity : d; at = i; }
  }
  compared++;
  if (max > tol) {
    const row = Math.floor(at / ea.width), col = at % ea.width;
    console.log(`first difference above ${tol}: step ${ea.step}, ${ea.op} -> ${ea.value} [${ea.rows}, ${ea.width}]: ` +
      `max abs diff ${max.toExponential(3)} at row ${row}, column ${col} (${x[at]} vs ${y[at]})`);
    process.exit(1);
  }
}
if (compared === 0) {
  console.error('error: the two dumps have no activation in common (same engine plan and steps?)');
  process.exit(1);
}
console.log(`${compared} activations agree within ${tol}`);
