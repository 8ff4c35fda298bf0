// llmc verify on sharded engines (docs/verify.md, "Sharded engines"): the ranks run under mpirun, each dumps its
// own values, and each value is compared with its part of the one-rank float32 reference (columns of a
// column-parallel value, the whole value after all_reduce / all_gather; partial sums are not compared alone).
// Every golden family verifies clean at TP=2 and PP=2, a subset at TP=2 x PP=2 (4 ranks, --oversubscribe on 2
// cores); one rank's shard of one layer's weight shifted on purpose is named by layer and rank; bad input.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildEngine } from '../../src/compiler/build.js';
import { readPlan } from '../../src/compiler/engine/reader.js';
import type { LayerRow, VerifyReport } from '../../src/verify/verify.js';
import { expectCleanError, llmc, tempDir } from '../helpers/cli.js';
import { fixtureNames, loadFixture } from '../helpers/golden.js';

const work = tempDir('llmc-verify-sharded-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Cfg = { tp: number; pp: number };
const tag = (c: Cfg) => `tp${c.tp}pp${c.pp}`;
const quiet = () => {};
type Value = VerifyReport['values'][number];
type Row = LayerRow;
// (llmc verify runs as a CLI: the native backend reads LLMC_DUMP_DIR from the real environment, which jest's
// sandboxed process.env does not reach.)

/** A fresh engine directory each time (a build into one whose files keep their sizes would be "up to date"). */
let built = 0;
async function buildSharded(name: string, c: Cfg): Promise<string> {
  const out = join(work, `${name}-${tag(c)}-${built++}`);
  await buildEngine({ modelDir: loadFixture(name).modelDir, outDir: out, dtype: 'float32', tpSize: c.tp, ppSize: c.pp, maxSeqLen: 64, force: true, log: quiet });
  return out;
}

/**
 * Rotates `count` rows of weight `name` in rank<rank>.engine by one (row i takes row i + 1): the rank holds a
 * shifted shard, as a slicing bug would leave it. Returns the plan's mapping of that rank.
 */
function shiftRows(engine: string, rank: number, name: string, first: (m: NonNullable<ReturnType<typeof readPlan>['plan']['mapping']>, headDim: number) => number, count: number) {
  const ep = readPlan(engine, rank);
  const w = ep.plan.values.find((v) => v.kind === 'weight' && v.name === name);
  if (!w || w.kind !== 'weight' || w.offset === undefined || w.dtype !== 'f32') throw new Error(`rank ${rank} has no f32 weight ${name}`);
  const m = ep.plan.mapping!;
  const row0 = first(m, ep.plan.model.head_dim);
  const rowBytes = w.shape[1] * 4;
  const file = join(engine, `rank${rank}.engine`);
  const bytes = readFileSync(file);
  const at = (r: number) => ep.header.dataOffset + w.offset! + r * rowBytes;
  const saved = Buffer.from(bytes.subarray(at(row0), at(row0 + 1)));
  bytes.copy(bytes, at(row0), at(row0 + 1), at(row0 + count));
  saved.copy(bytes, at(row0 + count - 1));
  writeFileSync(file, bytes);
  return m;
}

function verifyJson(engine: string, extra: string[] = []) {
  const r = llmc(['verify', engine, '--json', '--random-prompts', '2', '--max-new-tokens', '2', ...extra]);
  if (r.code !== 0 && r.code !== 3) throw new Error(r.stdout + r.stderr);
  return { code: r.code, report: JSON.parse(r.stdout.trim().split('\n').pop()!) };
}

describe('every golden family verifies clean', () => {
  const SUBSET_4 = new Set(['llama', 'gptj', 'falcon_mqa', 'bloom']);   // sequential, parallel residual, MQA, ALiBi
  test.each(fixtureNames())('%s at TP=2 and PP=2 (TP=2 x PP=2 for a subset)', async (name) => {
    const cfgs: Cfg[] = [{ tp: 2, pp: 1 }, { tp: 1, pp: 2 }, ...(SUBSET_4.has(name) ? [{ tp: 2, pp: 2 }] : [])];
    for (const c of cfgs) {
      const e = await buildSharded(name, c);
      const { report: r } = verifyJson(e);
      const bad = r.first_bad ? `${r.first_bad.value}@rank${r.first_bad.rank}: ${r.first_bad.diagnosis?.cause}` : '';
      expect(`${tag(c)} ${r.ok ? 'ok' : bad}`).toBe(`${tag(c)} ok`);
      expect(r.ranks).toBe(c.tp * c.pp);
      expect(r.tokens_agree).toBe(true);
      expect(r.values_unmapped).toEqual([]);
      // Every rank's values were compared, and the last layer comes from the last stage.
      const ranksSeen = new Set(r.values.filter((v: Value) => v.steps > 0).map((v: Value) => v.rank));
      expect(ranksSeen.size).toBe(c.tp * c.pp);
      const layers = r.layers.map((l: Row) => l.layer).filter((l: string) => /^l\d+$/.test(l));
      const lastLayer = layers[layers.length - 1];
      expect(Math.max(...r.layers.filter((l: Row) => l.layer === lastLayer).map((l: Row) => l.rank))).toBe(c.tp * c.pp - 1);
      if (c.tp > 1) {
        // Column-sharded values are compared with their columns of the reference's; partial sums are left out.
        expect(r.values.some((v: Value) => v.steps > 0 && (v.ref_cols || v.parts?.some((p) => p.ref_cols)))).toBe(true);
        expect(r.values.some((v: Value) => v.steps > 0 && v.op === 'all_reduce')).toBe(true);
        expect(r.values_partial).toBeGreaterThan(0);
      }
      rmSync(e, { recursive: true, force: true });
    }
  }, 300_000);
});

test('a quantized (int8) TP=2 engine: each rank\'s linear_q outputs against their columns, within the int8 budget', async () => {
  const out = join(work, 'int8-tp2');
  await buildEngine({ modelDir: loadFixture('llama').modelDir, outDir: out, tpSize: 2, quantize: 'int8', accuracyGate: false, maxSeqLen: 64, force: true, log: quiet });
  const { code, report: r } = verifyJson(out);
  expect(code).toBe(0);
  expect(r.tolerance_from).toBe('i8 weights');
  expect(r.values.some((v: Value) => v.op === 'linear_q' && v.rank === 1 && v.steps > 0 && v.parts?.some((p) => p.ref_cols))).toBe(true);
});

describe('one rank of a sharded engine with a shifted shard: verify names that layer and that rank', () => {
  test('TP=2, rank 1: the k rows of l1\'s fused qkv (column-parallel)', async () => {
    const e = await buildSharded('llama', { tp: 2, pp: 1 });
    // Rank 1's rows of l1.qkv.weight: its q heads, then its kv heads' k rows, then v.
    const m = shiftRows(e, 1, 'l1.qkv.weight', (mm, d) => mm.num_heads * d, readPlan(e, 1).plan.model.head_dim * readPlan(e, 1).plan.mapping!.num_kv_heads);
    const r = llmc(['verify', e, '--random-prompts', '2', '--max-new-tokens', '2']);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^ {2}layer +rank +values/m);
    expect(r.stdout).toMatch(/^ {2}l0 +0 .* ok$/m);
    expect(r.stdout).toMatch(/^ {2}l0 +1 .* ok$/m);
    expect(r.stdout).toMatch(/FAIL: first value past 0.0001: l1.k_rope \(its columns of the fused l1.qkv\), layer l1, rank 1, step 0, node l1.qkv \(linear_rope\)/);
    const kv0 = m.num_kv_heads * readPlan(e, 1).plan.model.head_dim;     // rank 1's k rows start at its kv heads
    expect(r.stdout).toMatch(new RegExp(`cause: its weight l1.qkv.weight differs from the reference's l1.q.weight rows \\d+-\\d+ \\+ l1.k.weight rows ${kv0}-${2 * kv0 - 1} \\+ l1.v.weight rows`));
    const { report } = verifyJson(e);
    expect(report.first_bad).toMatchObject({ value: 'l1.qkv', part: 'l1.k_rope', rank: 1 });
    const at = report.values.indexOf(report.values.find((v: { value: string; rank: number }) => v.value === 'l1.qkv' && v.rank === 1));
    expect(report.values.slice(0, at).every((v: { ok: boolean }) => v.ok)).toBe(true);
  });

  test('TP=2, rank 1: rows of l0\'s o_proj (row-parallel: its partial sum is only seen after the all_reduce)', async () => {
    const e = await buildSharded('llama', { tp: 2, pp: 1 });
    shiftRows(e, 1, 'l0.o.weight', () => 0, 8);
    const { code, report } = verifyJson(e);
    expect(code).toBe(3);
    expect(report.first_bad).toMatchObject({ value: 'l0.attn_out.all_reduce', ref: 'l0.attn_out', rank: 1, op: 'all_reduce' });
    expect(report.first_bad.diagnosis.weights.find((w: { ok: boolean }) => !w.ok)).toMatchObject({ weight: 'l0.o.weight' });
    expect(report.first_bad.diagnosis.cause).toMatch(/partial sums of l0.attn_out \(row-parallel\) on rank 1, and there that node's weight l0.o.weight differs from the reference's l0.o.weight columns \d+-\d+/);
    // The same corruption on rank 0 is named on rank 0.
    const e0 = await buildSharded('llama', { tp: 2, pp: 1 });
    shiftRows(e0, 0, 'l0.o.weight', () => 0, 8);
    expect(verifyJson(e0).report.first_bad).toMatchObject({ value: 'l0.attn_out.all_reduce', rank: 0 });
  });

  test('TP=2, rank 1: its rows of the embedding table (vocab-parallel: its partial sum is only seen after the all_reduce)', async () => {
    const e = await buildSharded('llama', { tp: 2, pp: 1 });
    const rows = readPlan(e, 1).plan.values.find((v) => v.name === 'embed.weight')!;
    if (rows.kind !== 'weight') throw new Error('embed.weight is not a weight');
    shiftRows(e, 1, 'embed.weight', () => 0, rows.shape[0]);   // every row of rank 1's part, so any prompt meets one
    const { code, report } = verifyJson(e);
    expect(code).toBe(3);
    expect(report.first_bad).toMatchObject({ value: 'embed.all_reduce', ref: 'embed', rank: 1, op: 'all_reduce' });
    expect(report.first_bad.diagnosis.weights.find((w: { ok: boolean }) => !w.ok)).toMatchObject({ weight: 'embed.weight' });
    expect(report.first_bad.diagnosis.cause).toMatch(new RegExp(`partial sums of embed \\(vocab-parallel\\) on rank 1, and there that node's weight embed.weight differs from the reference's embed.weight rows ${512 - rows.shape[0]}-511`));
  });

  test.each([[{ tp: 1, pp: 2 }, 1], [{ tp: 2, pp: 2 }, 3]] as const)('%o, rank %i (the last stage): l1\'s gate/up rows', async (c, rank) => {
    const e = await buildSharded('llama', c);
    shiftRows(e, rank, 'l1.gate_up.weight', () => 0, 4);
    const { code, report } = verifyJson(e);
    expect(code).toBe(3);
    expect(report.first_bad).toMatchObject({ value: 'l1.gate_up', rank });
    expect(report.layers.filter((l: { layer: string }) => l.layer === 'l0').every((l: { ok: boolean }) => l.ok)).toBe(true);
    expect(report.first_bad.diagnosis.cause).toMatch(/its weight l1.gate_up.weight differs/);
  });
});

test('llmc build --tp-size 2 --verify verifies every rank; llmc run --dump-dir writes one folder per rank', () => {
  const fx = loadFixture('gpt2');
  const out = join(work, 'bv-tp2');
  const r = llmc(['build', fx.modelDir, '-o', out, '--tp-size', '2', '--max-seq-len', '64', '--verify']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/2 ranks \(tp 2 x pp 1\) under mpirun/);
  expect(r.stdout).toMatch(/^ok: \d+ values within/m);
  const d = join(work, 'run-dump');
  expect(llmc(['run', out, '--token-ids', '1,2,3', '--max-new-tokens', '2', '--dump-dir', d]).code).toBe(0);
  for (const k of [0, 1]) expect(readFileSync(join(d, `rank${k}`, 'index.tsv'), 'utf8')).toMatch(/^step\top\tvalue/);
});

describe('bad input', () => {
  let e = '';
  beforeAll(async () => { e = await buildSharded('llama', { tp: 2, pp: 1 }); });

  test('--engine-dumps of a sharded engine: one folder per rank (a missing one is named)', () => {
    const w = join(work, 'wd');
    expect(llmc(['verify', e, '--work-dir', w, '--random-prompts', '2', '--max-new-tokens', '2']).code).toBe(0);
    const dumps = join(w, 'engine-dump');
    const job = JSON.parse(readFileSync(join(dumps, 'job.json'), 'utf8'));
    writeFileSync(join(dumps, 'prompts.json'), JSON.stringify({ prompts: job.prompts, max_new_tokens: job.maxNewTokens }));
    const ok = llmc(['verify', e, '--engine-dumps', dumps]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok: /m);
    rmSync(join(dumps, 'rank1'), { recursive: true });
    expectCleanError(llmc(['verify', e, '--engine-dumps', dumps]), /rank 1's dump .*rank1 does not exist; a sharded engine's dump has one folder per rank/);
  });

  test('mpirun missing: one line saying how to install it', () => {
    const r = llmc(['verify', e], { env: { PATH: tempDir('llmc-no-mpi-'), LLMC_MPIRUN: '' } });
    expectCleanError(r, /has 2 ranks and verify runs them under mpirun, which is not on PATH; install OpenMPI/);
  });

  test('started under mpirun itself: one line saying to run it without', () => {
    const r = llmc(['verify', e], { env: { OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '2' } });
    expectCleanError(r, /llmc verify was started under mpirun; run it without mpirun: it starts `mpirun -np 2`/);
  });

  test('a rank that fails: one line from the job', () => {
    const broken = join(work, 'broken-rank');
    rmSync(broken, { recursive: true, force: true });
    llmc(['build', loadFixture('llama').modelDir, '-o', broken, '--tp-size', '2', '--max-seq-len', '64']);
    writeFileSync(join(broken, 'rank1.engine'), 'not an engine');
    const r = llmc(['verify', broken]);
    expectCleanError(r, /rank1.engine/);
    expect(existsSync(join(broken, 'rank0.engine'))).toBe(true);
  });
});
