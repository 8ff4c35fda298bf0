// llmc build --quantize as a user runs it: the example model quantized (the accuracy gate passes and its figures
// land in the manifest and `inspect`), a deliberately tight budget that fails the build with one line and leaves
// the previous engine as it was, and every bad quantization input with its one-line error. Pre-quantized
// checkpoints with broken packing are made from copies of the golden-quant fixtures.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expectCleanError, llmc, repoRoot, tempDir } from '../helpers/cli.js';
import { addTensor, copyFixture, dropTensor, editConfig, goldenQuantDir, readSt } from '../compiler/helpers.js';

const kjv = join(repoRoot, 'examples', 'kjv-tiny');
const calib = join(kjv, 'heldout-excerpt.txt');
const work = tempDir('llmc-quant-cli-');

describe('llmc build --quantize on the example model', () => {
  const engine = join(work, 'kjv-int8');

  test('int8: the gate measures it, the manifest and inspect show the scheme and the figures, it generates', () => {
    const b = llmc(['build', kjv, '-o', engine, '--quantize', 'int8', '--calib', calib]);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/quantization: 28 linears int8 per-channel, 1 linear float/);
    expect(b.stdout).toMatch(/accuracy gate \(\d+ tokens of heldout-excerpt.txt, [\d.]+ s\): perplexity [\d.]+ -> [\d.]+ \([+-][\d.]+%, budget \+1%\), top-1 agreement [\d.]+%/);
    const m = JSON.parse(readFileSync(join(engine, 'config.json'), 'utf8'));
    expect(m.quantization.scheme).toBe('int8 per-channel');
    expect(m.quantization.accuracy.passed).toBe(true);
    expect(m.quantization.accuracy.top1_agreement_pct).toBeGreaterThanOrEqual(99);
    expect(m.quantization.layers).toHaveLength(29);
    const i = llmc(['inspect', engine]);
    expect(i.code).toBe(0);
    expect(i.stdout).toMatch(/int8 per-channel/);
    expect(i.stdout).toMatch(/perplexity/);
    const r = llmc(['run', engine, '--prompt', 'And God said', '--max-new-tokens', '8', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).output_ids).toHaveLength(8);
  });

  test('a budget it cannot meet fails the build in one line naming the figure, the budget and the worst layer; the old engine stays', () => {
    const before = readFileSync(join(engine, 'config.json'), 'utf8');
    const r = llmc(['build', kjv, '-o', engine, '--quantize', 'int4', '--group-size', '32', '--calib', calib, '--accuracy-budget', 'ppl=+0.0001%,top1=99.99%']);
    expectCleanError(r, /accuracy gate: int4 g32 asym: (perplexity \+[\d.]+% is past the budget \+0\.0001%|top-1 agreement [\d.]+% is below the budget 99\.99%); the linear that moved most is l\d+\.\w+ .*--keep-float/);
    expect(readFileSync(join(engine, 'config.json'), 'utf8')).toBe(before);
    expect(readdirSync(dirname(engine)).filter((f) => f.includes('llmc-tmp'))).toEqual([]);
  });

  test('int4 with --calib: AWQ scales searched on the calibration activations, never worse than round-to-nearest there', () => {
    const dir = join(work, 'kjv-awq');
    const r = llmc(['build', kjv, '-o', dir, '--quantize', 'int4', '--calib', calib]);
    expect(r.code).toBe(0);
    const m = /awq: scales searched on \d+ tokens of heldout-excerpt.txt in [\d.]+ s; (\d+) of (\d+) inputs scaled: (.*)/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBe(12);                          // attn_norm, attn, mlp_norm in each of 4 layers (mlp_act feeds float down_proj)
    for (const c of m![3].split(', ')) expect(c).toMatch(/^l\d\.\w+ a=(0|0\.\d|1)( \(-\d+%\))?$/);
    const q = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).quantization;
    expect(q.layers.some((l: { scheme: string }) => l.scheme === 'int4 g128 asym awq')).toBe(true);
    expect(q.flags).toEqual(['--quantize', 'int4', '--calib', calib]);
  });

  test('--int8-activations: linear_q prefills with int8 activations, the gate measures it, the rebuild flags keep it', () => {
    const dir = join(work, 'kjv-a8');
    const r = llmc(['build', kjv, '-o', dir, '--quantize', 'int8', '--int8-activations', '--calib', calib]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/accuracy gate .*top-1 agreement/);
    const m = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(m.quantization.flags).toContain('--int8-activations');
    const plan = readFileSync(join(dir, 'rank0.engine')).subarray(40, 40 + 200000).toString('utf8');
    expect(plan).toMatch(/"op":"linear_q".*"activation_bits":8/);
  });

  test('--no-awq with --calib: round-to-nearest, the file only feeds the gate', () => {
    const r = llmc(['build', kjv, '-o', join(work, 'kjv-rtn'), '--quantize', 'int4', '--calib', calib, '--no-awq']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/awq:/);
    expect(r.stdout).toMatch(/accuracy gate \(\d+ tokens of heldout-excerpt.txt/);
  });

  test('--no-accuracy-gate builds without measuring and says so', () => {
    const r = llmc(['build', kjv, '-o', join(work, 'kjv-fp8'), '--quantize', 'fp8', '--no-accuracy-gate']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/accuracy gate skipped/);
    expect(JSON.parse(readFileSync(join(work, 'kjv-fp8', 'config.json'), 'utf8')).quantization.accuracy).toBeUndefined();
  });
});

describe('dummy-weight quantized engines (speed work at any shape)', () => {
  test.each(['int8', 'int4', 'fp8'])('%s: codes generated at load, no gate, deterministic', (scheme) => {
    const dir = join(work, `dummy-${scheme}`);
    const b = llmc(['build', '--dummy-weights', '--config', join(repoRoot, 'test', 'fixtures', 'golden', 'llama', 'model'), '-o', dir, '--quantize', scheme]);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/accuracy gate skipped: dummy weights/);
    const run = () => JSON.parse(llmc(['run', dir, '--token-ids', '5,6,7', '--max-new-tokens', '6', '--json']).stdout).output_ids;
    const first = run();
    expect(first).toHaveLength(6);
    expect(run()).toEqual(first);
  });
});

describe('bad quantization flags', () => {
  const out = join(work, 'never');
  test.each([
    [['--quantize', 'int3'], /argument 'int3' is invalid/],
    [['--quantize', 'int8', '--group-size', '64'], /--group-size needs --quantize int4/],
    [['--quantize', 'int4', '--group-size', '48'], /--group-size 48 is not supported; use 128, 64, 32/],
    [['--symmetric'], /--symmetric needs --quantize int4/],
    [['--keep-float', 'l0'], /--keep-float needs --quantize/],
    [['--quantize', 'int8', '--keep-float', '('], /--keep-float "\(" is not a valid regular expression/],
    [['--quantize', 'int8', '--calib', join(work, 'missing.txt')], /--calib: .*missing\.txt is not a file/],
    [['--quantize', 'int8', '--accuracy-budget', 'ppl=1'], /--accuracy-budget: "ppl=1" is not ppl=\+N% or top1=N%/],
    [['--quantize', 'int8', '--accuracy-budget', 'top1=99%', '--no-accuracy-gate'], /contradict/],
    [['--quantize', 'int8', '--no-awq'], /--no-awq only applies to --quantize int4 with --calib/],
    [['--quantize', 'fp8', '--int8-activations'], /--int8-activations applies to int8 and int4 codes, not fp8/],
    [['--int8-activations'], /--int8-activations needs quantized linears/],
  ])('%j', (flags, pattern) => {
    const r = llmc(['build', kjv, '-o', out, ...(flags as string[])]);
    expectCleanError(r, pattern as RegExp);
    expect(existsSync(out)).toBe(false);
  });

  test('an empty calibration file', () => {
    const empty = join(work, 'empty.txt');
    writeFileSync(empty, ' \n');
    expectCleanError(llmc(['build', kjv, '-o', out, '--quantize', 'int8', '--calib', empty]), /--calib: .*empty\.txt is empty/);
  });
});

describe('pre-quantized checkpoints with problems', () => {
  const out = join(work, 'never-pq');
  const gptq = () => copyFixture('gptq_int4_g32_sym', goldenQuantDir);
  const st = (dir: string) => join(dir, 'model.safetensors');
  const build = (dir: string, ...flags: string[]) => llmc(['build', dir, '-o', out, ...flags]);

  test('--quantize on an already-quantized checkpoint', () => {
    expectCleanError(build(gptq(), '--quantize', 'int8'), /--quantize int8 on a checkpoint that is already quantized \(gptq int4 g32 sym\)/);
  });
  test('bits other than 4 and 8', () => {
    const d = gptq();
    editConfig(d, (c) => { c.quantization_config.bits = 3; });
    expectCleanError(build(d), /quantization_config\.bits = 3 is not supported; llmc reads 4-bit and 8-bit/);
  });
  test('an unknown quant_method', () => {
    const d = gptq();
    editConfig(d, (c) => { c.quantization_config.quant_method = 'bitsandbytes'; });
    expectCleanError(build(d), /quantization_config\.quant_method = "bitsandbytes" is not supported/);
  });
  test('GPTQ v2 checkpoints', () => {
    const d = gptq();
    editConfig(d, (c) => { c.quantization_config.checkpoint_format = 'gptq_v2'; });
    expectCleanError(build(d), /checkpoint_format = "gptq_v2" is not supported/);
  });
  test('a GPTQ module without qzeros', () => {
    const d = gptq();
    dropTensor(st(d), 'model.layers.0.self_attn.q_proj.qzeros');
    expectCleanError(build(d), /quantized module model\.layers\.0\.self_attn\.q_proj has no model\.layers\.0\.self_attn\.q_proj\.qzeros/);
  });
  test('a g_idx of the wrong length', () => {
    const d = gptq();
    const name = 'model.layers.1.mlp.down_proj.g_idx';
    dropTensor(st(d), name);
    addTensor(st(d), name, 'I32', [100], Buffer.alloc(400));
    expectCleanError(build(d), /down_proj\.g_idx has shape \[100\], expected \[384\]/);
  });
  test('a group size that does not divide in_features', () => {
    const d = gptq();
    editConfig(d, (c) => { c.quantization_config.group_size = 256; });
    expectCleanError(build(d), /group_size 256 does not divide in_features (128|384); llmc needs whole groups/);
  });
  test('packed shapes that do not match config.json', () => {
    const d = gptq();
    editConfig(d, (c) => { c.intermediate_size = 512; });
    expectCleanError(build(d), /has shape \[384,128\] but config\.json implies \[512,128\]/);
  });
  test('integer tensors in a checkpoint without quantization_config', () => {
    const d = gptq();
    editConfig(d, (c) => { delete c.quantization_config; });
    expect(readSt(st(d)).header['model.layers.0.self_attn.q_proj.qweight'].dtype).toBe('I32');
    expectCleanError(build(d), /tensor model\.layers\.\d+\.\S+ has dtype I32; llmc reads F32, F16 and BF16 checkpoints/);
  });
});

// llmc bench --json names the path every quantized linear ran (kernel_paths, docs/cpu-kernels.md): on an engine whose
// every linear is linear_q (--quantize-lm-head), linear_decode and linear_prefill must name the quantized kernels,
// where they used to be null.
describe('llmc bench --json on an engine with only quantized linears', () => {
  const llama = join(repoRoot, 'test', 'fixtures', 'golden', 'llama', 'model');
  const cases: Array<[string[], RegExp]> = [
    [[], /^(scalar|avx2|avx512) q8$/],
    [['--int8-activations'], /^(scalar|avx2|avx512_vnni) q8 act8$/],
  ];
  for (const [extra, path] of cases) {
    test(`--quantize int8 --quantize-lm-head ${extra.join(' ')}: kernel_paths name the quantized linear path`, () => {
      const dir = join(work, `llama-int8-head${extra.length}`);
      const b = llmc(['build', llama, '-o', dir, '--quantize', 'int8', '--quantize-lm-head', ...extra, '--no-accuracy-gate']);
      if (b.code !== 0) throw new Error(b.stderr);
      const plan = JSON.parse(llmc(['inspect', dir, '--json']).stdout).plan;
      expect(plan.nodes_per_op.linear ?? 0).toBe(0);  // no float linear could fill the two keys instead
      expect(plan.nodes_per_op.linear_q).toBeGreaterThan(0);
      const r = llmc(['bench', dir, '--prompt-len', '12', '--gen-len', '4', '--threads', '1', '--json']);
      if (r.code !== 0) throw new Error(r.stderr);
      const row = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(row.kernel_paths.linear_decode).toMatch(path);   // 1 row per decode step
      expect(row.kernel_paths.linear_prefill).toMatch(path);  // the 12-token prompt
    });
  }
});
