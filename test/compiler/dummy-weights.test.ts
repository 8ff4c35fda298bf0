// `llmc build --dummy-weights --config PRESET`: every preset builds through its family file at full size with no
// weight bytes in rank0.engine (only build-time constants), with the published parameter counts; the plan's
// dummy settings (kinds, magnitudes, seeds); the flag checks; and the reader refusing dummy settings it does not
// know. The runtime side (values generated at load, run, bench) is in test/cli/dummy-run.test.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildEngine } from '../../src/compiler/build.js';
import { readManifest, readPlan, readWeightBytes } from '../../src/compiler/engine/reader.js';
import { ENGINE_FILE, type PlanWeightValue } from '../../src/compiler/engine/format.js';
import { PRESETS, presetNames } from '../../src/compiler/dummy/presets.js';
import { dummyInitFor, weightSeed } from '../../src/compiler/dummy/init.js';
import { formatSource, type WeightSource } from '../../src/compiler/ir/weight-source.js';
import { parseGraph } from '../../src/compiler/ir/parse.js';
import { printGraph } from '../../src/compiler/ir/print.js';
import type { ModelConfig } from '../../src/compiler/models/config.js';
import { expectCleanError, llmc } from '../helpers/cli.js';
import { cleanupTemps, expectOneLine, fixtureModel, llmcError, tempDir } from './helpers.js';

afterAll(cleanupTemps);

/** Build-time constants: the only weights stored for real in a dummy engine. */
const CONSTANTS = new Set(['rope.inv_freq', 'alibi.slopes']);

// Parameter counts of the published checkpoints (what HF's model.num_parameters() reports; tied embeddings once).
const PARAMS: Record<string, number> = {
  'llama-2-7b': 6_738_415_616,
  'llama-3-8b': 8_030_261_248,
  'mistral-7b': 7_241_732_096,
  'gpt-j-6b': 6_050_882_784,
  'falcon-7b': 6_921_720_704,
  'mpt-7b': 6_649_286_656,
  'bloom-7b1': 7_069_016_064,
  'tinyllama-1.1b': 1_100_048_384,
  'llama-110m': 109_529_856,
};

// What each preset must normalise to (a few fields that differ between them).
const SHAPES: Record<string, Partial<ModelConfig>> = {
  'llama-2-7b': { num_kv_heads: 32, head_dim: 128, intermediate_size: 11008, tie_word_embeddings: false, torch_dtype: 'float16' },
  'llama-3-8b': { num_kv_heads: 8, vocab_size: 128256, rope_theta: 500000 },
  'mistral-7b': { num_kv_heads: 8, sliding_window: 4096 },
  'gpt-j-6b': { rope_style: 'gptj', rotary_dim: 64, parallel_residual: true, lm_head_bias: true, head_dim: 256 },
  'falcon-7b': { num_heads: 71, num_kv_heads: 1, head_dim: 64, parallel_residual: true, tie_word_embeddings: true },
  'mpt-7b': { position: 'alibi', norm_bias: false, intermediate_size: 16384 },
  'bloom-7b1': { position: 'alibi', embedding_norm: true, vocab_size: 250880 },
  'tinyllama-1.1b': { num_layers: 22, num_kv_heads: 4 },
  'llama-110m': { hidden_size: 768, num_layers: 12, num_heads: 12, intermediate_size: 2048, vocab_size: 32000, tie_word_embeddings: true },
};

describe('every preset builds with dummy weights (--target cpu)', () => {
  test('the preset list is the one the tests know', () => {
    expect(presetNames().sort()).toEqual(Object.keys(PARAMS).sort());
  });

  test.each(presetNames())('%s: published shapes and parameter count, no weight bytes stored', async (preset) => {
    const out = join(tempDir(), preset);
    const lines: string[] = [];
    const report = await buildEngine({ dummyWeights: true, config: preset, outDir: out, target: 'cpu', maxSeqLen: 512, log: (l) => lines.push(l) });
    const m = report.manifest as Record<string, any>;
    expect(m.dummy_weights).toBe(true);
    expect(m.source).toEqual({ dummy_weights: true, config: preset, seed: 0 });
    expect(m.model).toMatchObject({ architecture: (PRESETS[preset].architectures as string[])[0], ...SHAPES[preset] });
    expect(lines[0]).toMatch(new RegExp(`from --config ${preset}, weights \\w+ \\(dummy: generated at load\\)`));

    const { header, plan } = readPlan(out);
    const weights = plan.values.filter((v): v is PlanWeightValue => v.kind === 'weight');
    const stored = weights.filter((w) => w.dummy === undefined);
    expect(stored.every((w) => CONSTANTS.has(w.name))).toBe(true);
    expect(weights.filter((w) => w.dummy !== undefined).every((w) => w.offset === undefined)).toBe(true);
    expect(header.dataSize).toBe(stored.length ? Math.max(...stored.map((w) => w.offset! + w.nbytes)) : 0);
    expect(readFileSync(join(out, ENGINE_FILE)).length).toBeLessThan(256 * 1024);
    const params = weights.filter((w) => w.dummy !== undefined).reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
    expect(params).toBe(PARAMS[preset]);
    expect(m.memory_plan.weights_bytes).toBe(weights.reduce((a, w) => a + w.nbytes, 0));  // the runtime's memory
  });

  test('llama-2-7b in float16: 13.5 GB of weights in the memory plan, none in the file', async () => {
    const out = join(tempDir(), 'llama-2-7b');
    const m = (await buildEngine({ dummyWeights: true, config: 'llama-2-7b', outDir: out })).manifest as Record<string, any>;
    expect(m.build.dtype).toBe('float16');
    expect(m.memory_plan.weights_bytes).toBe(6_738_415_616 * 2 + 64 * 4);     // + rope.inv_freq (f32)
    expect(readPlan(out).header.dataSize).toBe(64 * 4);
  });
});

describe('dummy settings in the plan', () => {
  let plan: ReturnType<typeof readPlan>['plan'];
  const byName = (n: string) => plan.values.find((v) => v.name === n) as PlanWeightValue;
  beforeAll(async () => {
    const out = join(tempDir(), 'llama-110m');
    await buildEngine({ dummyWeights: true, config: 'llama-110m', outDir: out, dtype: 'float16', maxSeqLen: 256 });
    plan = readPlan(out).plan;
  });

  test('realistic magnitudes per kind: embeddings 0.02, linears 1/sqrt(in), norms ones with noise', () => {
    expect(byName('embed.weight').dummy).toMatchObject({ kind: 'normal', std: 0.02 });
    expect(byName('l0.attn_norm.weight').dummy).toMatchObject({ kind: 'ones', std: 0.02 });
    expect(byName('l3.qkv.weight').dummy).toMatchObject({ kind: 'normal', std: Math.fround(1 / Math.sqrt(768)) });   // fused q/k/v
    expect(byName('l3.down.weight').dummy).toMatchObject({ kind: 'normal', std: Math.fround(1 / Math.sqrt(2048)) });
    expect(byName('l3.down.weight').dtype).toBe('f16');
    expect(byName('rope.inv_freq')).toMatchObject({ dtype: 'f32', offset: 0 });     // a constant, stored for real
  });

  test('every weight has its own seed', () => {
    const seeds = plan.values.filter((v): v is PlanWeightValue => v.kind === 'weight' && v.dummy !== undefined).map((w) => w.dummy!.seed);
    expect(new Set(seeds).size).toBe(seeds.length);
    expect(weightSeed(0, 'l0.o.weight')).not.toBe(weightSeed(1, 'l0.o.weight'));
    expect(weightSeed(7, 'l0.o.weight')).toBe(weightSeed(7, 'l0.o.weight'));
  });

  test('llmc inspect says the weights are dummy', () => {
    const out = join(tempDir(), 'e');
    expect(llmc(['build', '--dummy-weights', '--config', 'llama-110m', '-o', out, '--dummy-seed', '5']).code).toBe(0);
    expect(llmc(['inspect', out]).stdout).toMatch(/source\s+--config llama-110m: DUMMY WEIGHTS generated at load \(seed 5\); outputs are meaningless/);
  });

  test('a dummy weight has no bytes to read', async () => {
    expectOneLine(await llmcError(() => readWeightBytes(join(tempDir(), 'x'), { header: {} as never, plan }, 'l0.o.weight')), 'BAD_ARGUMENT',
      /weight l0\.o\.weight is a dummy weight: its values are generated when the engine loads/);
  });

  test('classification: gemma-style norm offsets get small gains around 0, biases and 1-D fall back to 0.02', () => {
    const cfg = { norm_weight_offset: 1 } as ModelConfig;
    expect(dummyInitFor('l0.attn_norm.weight', [64], cfg)).toEqual({ kind: 'normal', std: 0.02 });
    expect(dummyInitFor('l0.qkv.bias', [192], cfg)).toEqual({ kind: 'normal', std: 0.02 });
    expect(dummyInitFor('lm_head.weight', [512, 64], cfg)).toEqual({ kind: 'normal', std: 0.02 });
    expect(dummyInitFor('proj_in.weight', [64, 16], cfg)).toEqual({ kind: 'normal', std: 0.25 });
  });

  test('the IR prints and parses dummy sources', () => {
    const src: WeightSource = { op: 'dummy', shape: [4, 8], init: { kind: 'ones', std: 0.02 }, seed: 3 };
    expect(formatSource(src)).toBe('dummy(ones, 0.02, [4,8], seed 3)');
    const text = [
      'weight @w: f32[4,8] = dummy(ones, 0.02, [4,8], seed 3)',
      'weight @c: f32[2] = concat(dummy(const, 0.5, [1], seed 0), dummy(normal, 1e-3, [1], seed 0))',
      'output logits = %0',
    ].join('\n');
    const g = parseGraph(text);
    expect(g.weights.get('w')!.source).toEqual(src);
    expect(printGraph(g)).toContain('dummy(const, 0.5, [1], seed 0)');
  });
});

describe('dummy builds: determinism, config sources, errors', () => {
  test('same seed, byte-identical engine; another seed, other seeds in the plan', async () => {
    const [a, b, c] = [tempDir(), tempDir(), tempDir()].map((d) => join(d, 'e'));
    await buildEngine({ dummyWeights: true, config: 'llama-110m', outDir: a, maxSeqLen: 128 });
    await buildEngine({ dummyWeights: true, config: 'llama-110m', outDir: b, maxSeqLen: 128 });
    await buildEngine({ dummyWeights: true, config: 'llama-110m', outDir: c, maxSeqLen: 128, dummySeed: 1 });
    const bytes = (d: string) => readFileSync(join(d, ENGINE_FILE));
    expect(bytes(a).equals(bytes(b))).toBe(true);
    expect(bytes(a).equals(bytes(c))).toBe(false);
    expect((readManifest(c).source as Record<string, unknown>).seed).toBe(1);
  });

  test('--config takes a config.json or a checkpoint directory; HF_DIR with --dummy-weights reads only its config', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'my.json'), JSON.stringify({ ...PRESETS['llama-110m'], num_hidden_layers: 2 }));
    const a = await buildEngine({ dummyWeights: true, config: join(dir, 'my.json'), outDir: join(dir, 'a') });
    expect((a.manifest.model as ModelConfig).num_layers).toBe(2);
    expect((a.manifest.source as Record<string, unknown>).config).toBe(join(dir, 'my.json'));
    const b = await buildEngine({ dummyWeights: true, modelDir: fixtureModel('llama'), outDir: join(dir, 'b') });
    expect(b.manifest.model).toEqual((await buildEngine({ modelDir: fixtureModel('llama'), outDir: join(dir, 'c') })).manifest.model);
    expect(b.manifest.generation).toEqual(readManifest(join(dir, 'c')).generation);
  });

  test('a config whose shapes do not fit is caught without weights', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...PRESETS['llama-2-7b'], num_attention_heads: 30, num_key_value_heads: 30 }));
    expectOneLine(await llmcError(() => buildEngine({ dummyWeights: true, config: dir, outDir: join(dir, 'e') })), 'BAD_CHECKPOINT',
      /hidden_size 4096 is not a multiple of num_attention_heads 30/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...PRESETS['mpt-7b'], attn_config: { alibi: true, qk_ln: true } }));
    expectOneLine(await llmcError(() => buildEngine({ dummyWeights: true, config: dir, outDir: join(dir, 'e') })), 'UNSUPPORTED', /qk_ln/);
  });

  test.each([
    [['--dummy-weights', '-o', 'E'], /--dummy-weights needs --config; pass --config with a preset \(llama-2-7b, .*llama-110m\)/],
    [['--dummy-weights', '--config', 'llama-9000', '-o', 'E'], /--config llama-9000 is neither a preset nor an existing file; pass --config with a preset \(llama-2-7b/],
    [['HF', '--config', 'llama-110m', '-o', 'E'], /--config only applies to --dummy-weights/],
    [['HF', '--dummy-weights', '--config', 'llama-110m', '-o', 'E'], /both HF_DIR and --config given for --dummy-weights/],
    [['--dummy-weights', '--config', 'llama-110m', '--dummy-seed', '-1', '-o', 'E'], /option '--dummy-seed <n>' argument '-1' is invalid/],
    [['-o', 'E'], /missing the checkpoint directory; usage: llmc build HF_DIR -o ENGINE \(or llmc build --dummy-weights --config PRESET -o ENGINE\)/],
  ])('llmc build %j: one clean error line', (args, pattern) => {
    const dir = tempDir();
    const fixed = args.map((a) => (a === 'E' ? join(dir, 'e') : a === 'HF' ? fixtureModel('llama') : a));
    expectCleanError(llmc(['build', ...fixed]), pattern);
  });

  test('the reader refuses dummy settings it does not know (a newer llmc wrote them): VERSION', async () => {
    const out = join(tempDir(), 'e');
    await buildEngine({ dummyWeights: true, config: 'llama-110m', outDir: out, maxSeqLen: 128 });
    const path = join(out, ENGINE_FILE);
    const bytes = readFileSync(path);
    const at = bytes.indexOf('"kind":"normal"');
    bytes.write('"kind":"xavier"', at, 'latin1');     // same length: the header's plan length stays right
    writeFileSync(path, bytes);
    expectOneLine(await llmcError(() => readPlan(out)), 'VERSION', /weight embed\.weight: dummy kind "xavier" is not one this llmc knows \(normal, ones, const\)/);
  });
});
