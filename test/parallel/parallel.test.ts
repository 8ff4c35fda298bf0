// Tensor and pipeline parallelism end to end (docs/parallel.md): every golden family built with TP=2, PP=2 and
// TP=2 x PP=2 (4 ranks, --oversubscribe on 2 cores), run under mpirun, against the same model at TP=1: logits
// within 1e-5, greedy tokens identical. Quantized engines too: llmc's own (--quantize int4/int8/fp8) and the
// pre-quantized golden-quant checkpoints (GPTQ, AWQ, compressed-tensors) at TP=2 against their TP=1 engine. Two MPI jobs run everything (test/parallel/rank-driver.mjs), so the
// suite starts mpirun twice, not once per engine. Also: per-rank weight bytes, and the bad inputs (a tp size
// that does not divide the heads, mpirun missing, a wrong world size, a rank that hangs or dies).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { buildEngine } from '../../src/compiler/build.js';
import { readPlan } from '../../src/compiler/engine/reader.js';
import { findMpirun } from '../../src/runtime/ranks.js';
import { expectCleanError, llmc, repoRoot, tempDir } from '../helpers/cli.js';
import { loadFixture, maxAbsDiffRows, readF32 } from '../helpers/golden.js';
import { GOLDEN_FIXTURES } from '../golden/fixtures.js';
import { fixtureModel } from '../compiler/helpers.js';

const TOL = 1e-5;
const work = tempDir('llmc-parallel-');
const CONFIGS = [{ tp: 1, pp: 1 }, { tp: 2, pp: 1 }, { tp: 1, pp: 2 }, { tp: 2, pp: 2 }];
const tag = (c: { tp: number; pp: number }) => `tp${c.tp}pp${c.pp}`;
const engineDir = (name: string, c: { tp: number; pp: number }) => join(work, `${name}-${tag(c)}`);
const mpirun = findMpirun();
// Quantized engines: [label, checkpoint dir, build flags]. act-order GPTQ (a permuted input) shards by stages only.
const goldenQuant = (n: string) => join(repoRoot, 'test', 'fixtures', 'golden-quant', n, 'model');
const QUANT: [string, string, Partial<Parameters<typeof buildEngine>[0]>, { tp: number; pp: number }][] = [
  ['llama-int4-g32', fixtureModel('llama'), { quantize: 'int4', groupSize: 32 }, { tp: 2, pp: 1 }],
  ['gpt2-int8', fixtureModel('gpt2'), { quantize: 'int8' }, { tp: 2, pp: 1 }],
  ['bloom-fp8', fixtureModel('bloom'), { quantize: 'fp8' }, { tp: 2, pp: 1 }],
  ['gptq_int4_g32_asym', goldenQuant('gptq_int4_g32_asym'), {}, { tp: 2, pp: 1 }],
  ['awq_int4_g32_gemm', goldenQuant('awq_int4_g32_gemm'), {}, { tp: 2, pp: 1 }],
  ['ct_fp8_channel', goldenQuant('ct_fp8_channel'), {}, { tp: 2, pp: 1 }],
  ['gptq_int4_g32_desc_act', goldenQuant('gptq_int4_g32_desc_act'), {}, { tp: 1, pp: 2 }],
];
const driver = join(repoRoot, 'test', 'parallel', 'rank-driver.mjs');

function mpi(np: number, jobsFile: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 600_000) {
  const args = ['-np', String(np), ...(np > cpus().length ? ['--oversubscribe'] : []), ...(process.getuid?.() === 0 ? ['--allow-run-as-root'] : []),
    process.execPath, driver, jobsFile];
  const started = Date.now();
  const r = spawnSync(mpirun!, args, { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', seconds: (Date.now() - started) / 1000 };
}

interface Job { engine: string; prompt: number[]; maxNewTokens: number; logitsOut: string; resultOut: string; fault?: string }
const job = (name: string, c: { tp: number; pp: number }): Job => {
  const fx = loadFixture(name);
  return {
    engine: engineDir(name, c), prompt: fx.json.prompts[0], maxNewTokens: 6,
    logitsOut: join(work, `${name}-${tag(c)}.f32`), resultOut: join(work, `${name}-${tag(c)}.json`),
  };
};

test('mpirun is installed (npm install installs OpenMPI from apt: scripts/ensure-mpi.mjs, docs/parallel.md)', () => {
  expect(mpirun).not.toBeNull();
});

describe('golden families at TP=2, PP=2, TP=2 x PP=2 vs TP=1', () => {
  beforeAll(async () => {
    for (const name of GOLDEN_FIXTURES) {
      const fx = loadFixture(name);
      for (const c of CONFIGS) {
        await buildEngine({ modelDir: fx.modelDir, outDir: engineDir(name, c), dtype: 'float32', tpSize: c.tp, ppSize: c.pp, maxSeqLen: 128 });
      }
    }
    const quantJobs: Job[] = [];
    for (const [label, dir, flags, c] of QUANT) {
      for (const cc of [CONFIGS[0], c]) {
        await buildEngine({ modelDir: dir, outDir: engineDir(`q-${label}`, cc), dtype: 'float32', tpSize: cc.tp, ppSize: cc.pp, maxSeqLen: 128, accuracyGate: false, ...flags });
        quantJobs.push({ ...job('llama', cc), engine: engineDir(`q-${label}`, cc), logitsOut: join(work, `q-${label}-${tag(cc)}.f32`), resultOut: join(work, `q-${label}-${tag(cc)}.json`) });
      }
    }
    // Job 1: 2 ranks (TP=1 on rank 0 alone, TP=2, PP=2, the quantized engines); job 2: 4 ranks (TP=2 x PP=2).
    const two = join(work, 'jobs2.json');
    writeFileSync(two, JSON.stringify([...GOLDEN_FIXTURES.flatMap((n) => [job(n, CONFIGS[0]), job(n, CONFIGS[1]), job(n, CONFIGS[2])]), ...quantJobs]));
    const four = join(work, 'jobs4.json');
    writeFileSync(four, JSON.stringify(GOLDEN_FIXTURES.map((n) => job(n, CONFIGS[3]))));
    for (const [np, file] of [[2, two], [4, four]] as const) {
      const r = mpi(np, file);
      if (r.code !== 0) throw new Error(`mpirun -np ${np} failed (${r.code}):\n${r.stderr}`);
    }
  }, 900_000);

  describe.each(GOLDEN_FIXTURES)('%s', (name) => {
    const vocab = () => loadFixture(name).json.vocab_size;
    test.each(CONFIGS.slice(1).map(tag))('%s: logits within 1e-5 of TP=1, greedy identical', (t) => {
      const base = JSON.parse(readFileSync(join(work, `${name}-tp1pp1.json`), 'utf8'));
      const got = JSON.parse(readFileSync(join(work, `${name}-${t}.json`), 'utf8'));
      expect(got.output_ids).toEqual(base.output_ids);
      const a = readF32(join(work, `${name}-tp1pp1.f32`));
      const b = readF32(join(work, `${name}-${t}.f32`));
      expect(b.length).toBe(a.length);
      expect(maxAbsDiffRows(a, 0, b, 0, a.length / vocab(), vocab())).toBeLessThanOrEqual(TOL);
    });

    test('TP=2 ranks hold about half of the split weights plus the replicated ones', () => {
      const whole = readPlan(engineDir(name, CONFIGS[0])).plan.values.filter((v) => v.kind === 'weight');
      const wholeBytes = new Map(whole.map((v) => [v.name, v.nbytes]));
      const total = whole.reduce((s, v) => s + v.nbytes, 0);
      for (const r of [0, 1]) {
        const mine = readPlan(engineDir(name, CONFIGS[1]), r).plan.values.filter((v) => v.kind === 'weight');
        // Replicated: same bytes as the whole model's weight of that name (norms, rope, learned positions, biases).
        const replicated = mine.filter((v) => v.nbytes === wholeBytes.get(v.name)).reduce((s, v) => s + v.nbytes, 0);
        const split = mine.reduce((s, v) => s + v.nbytes, 0) - replicated;
        const splitWhole = total - replicated;
        // With fewer kv heads than ranks (MQA) each rank keeps the whole k/v projection inside its fused qkv.
        const m = readPlan(engineDir(name, CONFIGS[0])).plan.model;
        const kvCopy = m.num_kv_heads < 2 ? (m.num_layers * 2 * m.num_kv_heads * m.head_dim * m.hidden_size * 4) / 2 : 0;
        // Rank 1 drops the row-parallel biases (rank 0 adds them once); vocab parts differ by at most one row.
        expect(Math.abs(split - splitWhole / 2 - kvCopy)).toBeLessThanOrEqual(splitWhole * 0.02 + 4096);
        expect(split).toBeGreaterThan(0);
      }
    });
  });
});

describe('quantized engines shard too', () => {
  // The sums run in another order (partial products, then the all-reduce): 1e-5 relative to the largest logit.
  test.each(QUANT.map(([label, , , c]) => [label, tag(c)]))('%s at %s: logits within 1e-5 (relative) of its TP=1 engine, greedy identical', (label, t) => {
    const base = JSON.parse(readFileSync(join(work, `q-${label}-tp1pp1.json`), 'utf8'));
    const got = JSON.parse(readFileSync(join(work, `q-${label}-${t}.json`), 'utf8'));
    expect(got.output_ids).toEqual(base.output_ids);
    const a = readF32(join(work, `q-${label}-tp1pp1.f32`));
    const b = readF32(join(work, `q-${label}-${t}.f32`));
    expect(b.length).toBe(a.length);
    const vocab = readPlan(engineDir(`q-${label}`, CONFIGS[0])).plan.model.vocab_size;
    const scale = Math.max(1, ...Array.from(a, Math.abs));
    expect(maxAbsDiffRows(a, 0, b, 0, a.length / vocab, vocab)).toBeLessThanOrEqual(TOL * scale);
    const ops = readPlan(engineDir(`q-${label}`, CONFIGS[0])).plan.nodes.map((n) => n.op);
    expect(ops).toContain('linear_q');
  });

  test('act-order GPTQ (permuted input columns) is refused at TP=2 with one line naming the way that works', () => {
    const r = llmc(['build', goldenQuant('gptq_int4_g32_desc_act'), '-o', join(work, 'bad-perm'), '--tp-size', '2']);
    expectCleanError(r, /--tp-size 2 cannot split the quantized linear l0\.attn_out: its input columns are permuted \(GPTQ act-order\); shard this checkpoint with --pp-size only/);
  });
});

test('llmc serve on a TP=2 engine answers like the one-rank engine and stops cleanly on SIGTERM', async () => {
  const kjv = join(repoRoot, 'examples', 'kjv-tiny');
  const [one, two] = [join(work, 'kjv-1'), join(work, 'kjv-tp2')];
  await buildEngine({ modelDir: kjv, outDir: one, log: () => {} });
  await buildEngine({ modelDir: kjv, outDir: two, tpSize: 2, log: () => {} });
  const port = 20000 + (process.pid % 20000);
  const srv = spawn(process.execPath, [join(repoRoot, 'bin', 'llmc.js'), 'serve', two, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  srv.stderr!.on('data', (d) => { stderr += String(d); });
  try {
    let up = false;
    for (let i = 0; i < 120 && !up; i++) {
      await new Promise((r) => setTimeout(r, 500));
      up = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    }
    expect(up).toBe(true);
    const res = await fetch(`http://127.0.0.1:${port}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'kjv-tp2', prompt: 'In the beginning', max_tokens: 12, temperature: 0 }),
    });
    const text = (await res.json()).choices[0].text;
    const want = llmc(['run', one, '--prompt', 'In the beginning', '--max-new-tokens', '12']).stdout.replace(/\n$/, '');
    expect(text).toBe(want);
  } finally {
    srv.kill('SIGTERM');
  }
  const code = await new Promise<number | null>((r) => srv.on('close', (c) => r(c)));
  expect(code).toBe(0);
  expect(stderr).not.toMatch(/^error:/m);
}, 120_000);

test('llmc verify runs a sharded engine under mpirun and checks every rank (test/verify/sharded.test.ts has the rest)', () => {
  const e = engineDir('llama', CONFIGS[1]);
  const r = llmc(['verify', e, '--random-prompts', '2', '--max-new-tokens', '2']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/2 ranks \(tp 2 x pp 1\) under mpirun/);
  expect(r.stdout).toMatch(/^ {2}l0 +1 /m);
  expect(r.stdout).toMatch(/^ok: \d+ values within/m);
});

describe('bad input', () => {
  test('a tp size that does not divide the heads: one line naming the sizes that do', () => {
    const fx = loadFixture('mpt');   // 6 heads
    const r = llmc(['build', fx.modelDir, '-o', join(work, 'bad-tp'), '--tp-size', '4']);
    expectCleanError(r, /--tp-size 4 does not divide the model's 6 attention heads; use one of 1, 2, 3, 6/);
  });

  test('mpirun missing: one line saying how to install it', () => {
    const e = engineDir('llama', CONFIGS[1]);
    const r = llmc(['run', e, '--token-ids', '1,2,3'], { env: { PATH: tempDir('llmc-no-mpi-'), LLMC_MPIRUN: '' } });
    expectCleanError(r, /has 2 ranks and needs mpirun, which is not on PATH; install OpenMPI/);
  });

  test('a wrong world size: one line from rank 0 with the rebuild command', () => {
    const e = engineDir('llama', CONFIGS[1]);
    const args = ['-np', '3', '--oversubscribe', ...(process.getuid?.() === 0 ? ['--allow-run-as-root'] : []),
      process.execPath, join(repoRoot, 'bin', 'llmc.js'), 'run', e, '--token-ids', '1,2,3'];
    const r = spawnSync(mpirun!, args, { encoding: 'utf8', timeout: 120_000 });
    const lines = (r.stderr ?? '').split('\n').filter((l) => l.startsWith('error: '));
    expect(r.status).not.toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/has 2 ranks \(tp 2 x pp 1\) but mpirun started 3; .*--tp-size 3 --force/);
  });

  test.each(['hang', 'die'])('a follower that %ss: rank 0 reports it on one line within seconds and every rank exits', (fault) => {
    const file = join(work, `fault-${fault}.json`);
    writeFileSync(file, JSON.stringify([{ ...job('llama', CONFIGS[1]), fault }]));
    const r = mpi(2, file, { LLMC_RANK_TIMEOUT_S: '3' }, 120_000);
    expect(r.code).not.toBe(0);
    expect(r.seconds).toBeLessThan(60);
    if (fault === 'hang') {
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: rank 0: rank 1 did not reach .* within 3 s \(a rank died or hangs\)/);
    }
  });

  test('llmc run on a sharded engine starts mpirun itself and folds a failure into one line', () => {
    const e = engineDir('llama', CONFIGS[1]);
    const ok = llmc(['run', e, '--token-ids', '1,2,3,4', '--max-new-tokens', '4', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).output_ids).toHaveLength(4);
    expect(existsSync(join(e, 'rank1.engine'))).toBe(true);
    const bad = llmc(['run', e, '--token-ids', '1,2,3', '--max-new-tokens', '4'], { env: { LLMC_RANK_TIMEOUT_S: 'soon' } });
    expectCleanError(bad, /LLMC_RANK_TIMEOUT_S=soon is not a positive number of seconds/);
  });
});
