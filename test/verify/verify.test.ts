// llmc verify: an engine against its float32 unfused reference. Engines broken on purpose (a wrong weight in one
// layer, a planted bug in a fused kernel) must be traced to exactly that layer and cause; every golden fixture
// verifies clean; bad input gets one line.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPlan } from '../../src/compiler/engine/reader.js';
import { expectCleanError, llmc, tempDir } from '../helpers/cli.js';
import { fixtureNames, loadFixture } from '../helpers/golden.js';

const work = tempDir('llmc-verify-');
const llama = loadFixture('llama');
const f32 = join(work, 'f32');

function build(model: string, out: string, extra: string[] = []): void {
  const r = llmc(['build', model, '-o', out, '--force', ...extra]);
  if (r.code !== 0) throw new Error(r.stdout + r.stderr);
}

function verifyJson(engine: string, extra: string[] = [], env?: NodeJS.ProcessEnv) {
  const r = llmc(['verify', engine, '--json', ...extra], { env });
  if (r.code !== 0 && r.code !== 3) throw new Error(r.stdout + r.stderr);
  return { code: r.code, report: JSON.parse(r.stdout.trim().split('\n').pop()!) };
}

beforeAll(() => build(llama.modelDir, f32, ['--dtype', 'float32']));
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('a float32 engine verifies clean: batch of 4 prompts, prefill + decode steps, fused values mapped to their parts', () => {
  const r = llmc(['verify', f32]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/4 prompts, 4 new tokens: 4 steps, 4 compared; tolerance 0.0001 relative \(f32 weights\)/);
  expect(r.stdout).toMatch(/^ {2}l1 +15 /m);   // fuse_linear_rope: the split hands out q_rope and k_rope, no unrotated q, k
  expect(r.stdout).toMatch(/greedy tokens: identical/);
  expect(r.stdout).toMatch(/^ok: \d+ values within 0.0001$/m);
  const { report } = verifyJson(f32);
  const qkv = report.values.find((v: { value: string }) => v.value === 'l0.qkv');
  expect(qkv.parts.map((p: { ref: string }) => p.ref)).toEqual(['l0.q_rope', 'l0.k_rope', 'l0.v']);   // fuse_linear_rope: q and k rotated
  expect(qkv.steps).toBe(4);
  expect(report.values.find((v: { value: string }) => v.value === 'logits').steps).toBe(4);
  expect(report.values_unmapped).toEqual([]);
});

test('a wrong weight in one layer: verify names that layer, the part of the fused value, and the weight', () => {
  const broken = join(work, 'wrong-weight');
  cpSync(f32, broken, { recursive: true });
  const ep = readPlan(broken);
  const w = ep.plan.values.find((v) => v.kind === 'weight' && v.name === 'l1.qkv.weight')!;
  if (w.kind !== 'weight' || w.offset === undefined) throw new Error('no l1.qkv.weight');
  const [, cols] = w.shape;
  const qRows = ep.plan.model.num_heads * ep.plan.model.head_dim;
  const file = join(broken, 'rank0.engine');
  const bytes = readFileSync(file);
  for (let c = 0; c < cols; c++) {                 // the first k row: every element + 0.5
    const at = ep.header.dataOffset + w.offset + ((qRows + 0) * cols + c) * 4;
    bytes.writeFloatLE(bytes.readFloatLE(at) + 0.5, at);
  }
  writeFileSync(file, bytes);
  const r = llmc(['verify', broken]);
  expect(r.code).toBe(3);
  expect(r.stdout).toMatch(/^ {2}l0 .* ok$/m);
  expect(r.stdout).toMatch(/FAIL: first value past 0.0001: l1.k_rope \(its columns of the fused l1.qkv\), layer l1, step 0, node l1.qkv \(linear_rope\)/);
  expect(r.stdout).toMatch(new RegExp(`cause: its weight l1.qkv.weight differs from the reference's l1.q.weight \\+ l1.k.weight \\+ l1.v.weight beyond f32 rounding \\(${cols} elements, max abs 5.000e-1, first at element ${qRows * cols}\\)`));
  // The integrity check sees the same damage, by file.
  const i = llmc(['verify', broken, '--integrity']);
  expect(i.code).toBe(3);
  // Segment digests (docs/verify.md): the byte range is l1.k.weight's part of the fused weight, copied whole.
  const k0 = ep.header.dataOffset + w.offset + qRows * cols * 4, k1 = k0 + ep.plan.model.num_kv_heads * ep.plan.model.head_dim * cols * 4;
  expect(i.stdout).toContain(`FAIL: rank0.engine has the recorded size but its sha256 differs in bytes [${k0}, ${k1}), weight l1.qkv.weight (its bytes were changed)`);
});

test('a planted bug in a fused kernel (LLMC_TEST_FAULT_OP): verify names its first node and the pass that made it', () => {
  const { code, report } = verifyJson(f32, [], { LLMC_TEST_FAULT_OP: 'gated_activation' });
  expect(code).toBe(3);
  expect(report.first_bad.value).toBe('l0.mlp_act');
  expect(report.first_bad.op).toBe('gated_activation');
  expect(report.first_bad.first_bad_step).toBe(0);
  expect(report.first_bad.diagnosis.pass).toBe('fuse_gated_activation');
  expect(report.first_bad.diagnosis.kernel).toBe('gated_activation on cpu');
  expect(report.first_bad.diagnosis.weights).toEqual([]);
  // Everything before it in execution order is clean.
  const idx = report.values.findIndex((v: { value: string }) => v.value === 'l0.mlp_act');
  expect(report.values.slice(0, idx).every((v: { ok: boolean }) => v.ok)).toBe(true);
});

test('the same planted bug in an unfused op kernel is blamed on the kernel, not a pass', () => {
  const { report } = verifyJson(f32, [], { LLMC_TEST_FAULT_OP: 'attention' });
  expect(report.first_bad.value).toBe('l0.attn');
  expect(report.first_bad.diagnosis.pass).toBeNull();
  expect(report.first_bad.diagnosis.cause).toBe('kernel attention on cpu (node l0.attn is as the layer builders wrote it)');
});

test('a planted bug in the rope epilogue (linear_rope): the rotated q columns of the fused qkv, the passes, the weights', () => {
  const { code, report } = verifyJson(f32, [], { LLMC_TEST_FAULT_OP: 'linear_rope' });
  expect(code).toBe(3);
  expect(report.first_bad).toMatchObject({ value: 'l0.qkv', part: 'l0.q_rope', op: 'linear_rope', first_bad_step: 0 });
  expect(report.first_bad.diagnosis.pass).toBe('fuse_sibling_linears then fuse_linear_rope');
  expect(report.first_bad.diagnosis.kernel).toBe('linear_rope on cpu');
  // Its weight is checked against the reference linears before the rope (l0.q/k/v), and matches.
  expect(report.first_bad.diagnosis.weights).toEqual([expect.objectContaining({ weight: 'l0.qkv.weight', reference: ['l0.q.weight', 'l0.k.weight', 'l0.v.weight'], ok: true })]);
});

test('float16 weights: within the f16 default, and with --tolerance 1e-5 the first value past it is the embedding', () => {
  const f16 = join(work, 'f16');
  build(llama.modelDir, f16, ['--dtype', 'float16']);
  expect(llmc(['verify', f16]).code).toBe(0);
  const { code, report } = verifyJson(f16, ['--tolerance', '1e-5', '--random-prompts', '2', '--max-new-tokens', '2']);
  expect(code).toBe(3);
  expect(report.first_bad.value).toBe('embed');
  expect(report.first_bad.diagnosis.weights[0]).toMatchObject({ weight: 'embed.weight', dtype: 'f16', ok: true });
  expect(report.prompts).toBe(2);
  expect(report.steps).toBe(2);
});

test('a quantized (int8) engine is judged by its scheme budget; a planted linear_q bug past a tighter one is named', () => {
  const q = join(work, 'int8');
  build(llama.modelDir, q, ['--quantize', 'int8', '--no-accuracy-gate']);
  const ok = llmc(['verify', q]);
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/tolerance 0.06 relative \(i8 weights\)/);
  const { code, report } = verifyJson(q, ['--tolerance', '0.01'], { LLMC_TEST_FAULT_OP: 'linear_q' });
  expect(code).toBe(3);
  expect(report.first_bad).toMatchObject({ value: 'l0.qkv', part: 'l0.q', op: 'linear_q', first_bad_step: 0 });
  expect(report.first_bad.diagnosis.kernel).toBe('linear_q on cpu');
});

test('--prompts FILE (token ids per line); llmc build --verify runs verify at the end', () => {
  const file = join(work, 'prompts.txt');
  writeFileSync(file, '5,17,42\n1,2,3,4,5,6,7,8,9,10\n');
  const { report } = verifyJson(f32, ['--prompts', file, '--max-new-tokens', '3']);
  expect(report.prompts).toBe(2);
  expect(report.ok).toBe(true);
  const r = llmc(['build', llama.modelDir, '-o', join(work, 'bv'), '--verify']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^ok: \d+ values within/m);
});

test('every golden fixture verifies clean on CPU', () => {
  for (const name of fixtureNames()) {
    const fx = loadFixture(name);
    const out = join(work, `g-${name}`);
    build(fx.modelDir, out);
    const r = llmc(['verify', out, '--random-prompts', '3', '--max-new-tokens', '3']);
    if (r.code !== 0) throw new Error(`${name}: ${r.stdout}${r.stderr}`);
    expect(r.stdout).toMatch(/^ok: /m);
    rmSync(out, { recursive: true, force: true });
  }
}, 300_000);

describe('bad input', () => {
  test('a reference checkpoint of another model', () => {
    expectCleanError(llmc(['verify', f32, '--reference', loadFixture('gpt2').modelDir]), /the reference checkpoint .* does not match the engine: model\.\w+ is/);
  });
  test('a dummy-weight engine', () => {
    const d = join(work, 'dummy');
    const r = llmc(['build', '--dummy-weights', '-o', d, '--config', 'llama-110m', '--max-seq-len', '64']);
    expect(r.code).toBe(0);
    expectCleanError(llmc(['verify', d]), /has dummy weights .*there is no checkpoint to verify it against/);
  });
  test('the checkpoint is gone', () => {
    const ck = join(work, 'ck');
    cpSync(llama.modelDir, ck, { recursive: true });
    const e = join(work, 'gone');
    build(ck, e);
    rmSync(ck, { recursive: true });
    expectCleanError(llmc(['verify', e]), /the checkpoint .* this engine was built from is not there any more; pass --reference HF_DIR/);
    expect(llmc(['verify', e, '--reference', llama.modelDir]).code).toBe(0);
  });
  test('missing reference dumps, bad prompts, both prompt flags', () => {
    expectCleanError(llmc(['verify', f32, '--reference-dumps', join(work, 'nope')]), /--reference-dumps .* does not exist/);
    const p = join(work, 'bad-prompts.txt');
    writeFileSync(p, '5,17,999999\n');
    expectCleanError(llmc(['verify', f32, '--prompts', p]), /--prompts line 1: token id 999999 is outside the vocabulary/);
    expectCleanError(llmc(['verify', f32, '--prompts', p, '--random-prompts', '2']), /not both/);
    expectCleanError(llmc(['verify', join(work, 'no-engine')]), /does not exist/);
    expectCleanError(llmc(['verify', f32, '--engine-dumps', join(work, 'nope')]), /--engine-dumps .* does not exist/);
    expectCleanError(llmc(['verify', f32, '--engine-dumps', work, '--random-prompts', '2']), /--engine-dumps brings its own prompts/);
  });
});
