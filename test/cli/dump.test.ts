// Per-layer activation dumps (llmc run --dump-dir) and scripts/compare-dumps.mjs: the tool for finding the first
// layer where two runs part ways.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { llmc, repoRoot, tempDir, goldenDir } from '../helpers/cli.js';
import { readF32 } from '../helpers/golden.js';

const work = tempDir('llmc-dump-');
const model = join(goldenDir, 'llama', 'model');
const ids = '5,17,42,7';

function compare(a: string, b: string, tol: string) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'compare-dumps.mjs'), a, b, '--tol', tol], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  for (const [name, dtype] of [['f32', 'float32'], ['f16', 'float16']]) {
    const r = llmc(['build', model, '-o', join(work, name), '--dtype', dtype]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
});

test('every step writes every named activation; the dumped logits are what --logits-out returns', () => {
  const dir = join(work, 'dump-f32');
  const logits = join(work, 'l.f32');
  const r = llmc(['run', join(work, 'f32'), '--token-ids', ids, '--max-new-tokens', '3', '--dump-dir', dir, '--logits-out', logits]);
  expect(r.code).toBe(0);
  const index = readFileSync(join(dir, 'index.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
  expect(new Set(index.map((e) => e[0]))).toEqual(new Set(['0', '1', '2']));   // prefill + 2 decode steps
  expect(index.map((e) => e[2])).toEqual(expect.arrayContaining(['embed', 'l0.attn_norm', 'l1.attn', 'logits']));
  const step0 = index.find((e) => e[0] === '0' && e[2] === 'logits')!;
  expect(step0.slice(3, 5)).toEqual(['4', '512']);                                // all prompt rows were asked for
  const dumped = readF32(join(dir, step0[5]));
  const written = readF32(logits);
  expect(Array.from(dumped)).toEqual(Array.from(written.subarray(0, dumped.length)));
});

test('compare-dumps: a dump agrees with itself, and f16 weights are caught at the first layer they change', () => {
  const a = join(work, 'dump-f32'), b = join(work, 'dump-f16');
  expect(llmc(['run', join(work, 'f16'), '--token-ids', ids, '--max-new-tokens', '3', '--dump-dir', b]).code).toBe(0);
  const same = compare(a, a, '0');
  expect(same.code).toBe(0);
  expect(same.out).toMatch(/activations agree within 0/);
  const diff = compare(a, b, '1e-3');
  expect(diff.code).toBe(1);
  expect(diff.out).toMatch(/first difference above 0.001: step 0, rms_norm -> l0.attn_norm/);
});

test('--dump-dir that cannot be created is a one-line error', () => {
  const r = llmc(['run', join(work, 'f32'), '--token-ids', ids, '--dump-dir', '/proc/nope/dump']);
  expect(r.code).not.toBe(0);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^error: .*LLMC_DUMP_DIR/);
});
