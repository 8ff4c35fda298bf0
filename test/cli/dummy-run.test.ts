// The runtime side of issue 5's build features, through the CLI: a dummy-weight engine (llama-110m) is filled at
// load and runs (`llmc run --json`, `llmc bench`) with a warning that its outputs are meaningless, the same seed
// gives the same logits, another seed others; the native loader refuses dummy settings it does not know; and the
// CPU runtime refuses an engine built for cuda with the command that rebuilds it for the CPU.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectCleanError, llmc, tempDir } from '../helpers/cli.js';
import { loadFixture } from '../helpers/golden.js';

const root = tempDir('llmc-dummy-run-');
const engine = (name: string) => join(root, name);
const WARNING = 'warning: this engine has dummy weights (llmc build --dummy-weights): the outputs are meaningless; use it to measure speed and memory';

function build(name: string, extra: string[]): void {
  const r = llmc(['build', '--dummy-weights', '--config', 'llama-110m', '-o', engine(name), '--max-seq-len', '128', ...extra]);
  if (r.code !== 0) throw new Error(r.stderr);
}

function run(name: string, logits: string) {
  const r = llmc(['run', engine(name), '--token-ids', '1,15043,3186,29892,590', '--max-new-tokens', '6', '--ignore-eos', '--json', '--logits-out', logits]);
  return { ...r, json: r.code === 0 ? JSON.parse(r.stdout) : null, logits: existsSync(logits) ? readFileSync(logits) : Buffer.alloc(0) };
}

beforeAll(() => {
  build('f32', []);
  build('f32-seed1', ['--dummy-seed', '1']);
  build('bf16', ['--dtype', 'bfloat16']);
}, 120_000);

describe('a dummy-weight engine runs', () => {
  test('llmc run --json: a warning on stderr, the JSON on stdout, realistic logits (finite, not flat)', () => {
    const r = run('f32', join(root, 'a.f32'));
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toBe(WARNING);
    expect(r.json.output_ids).toHaveLength(6);
    const x = new Float32Array(r.logits.buffer, r.logits.byteOffset, r.logits.length / 4);
    expect(x.length).toBe((5 + 6 - 1) * 32000);
    let sum = 0;
    let sq = 0;
    let bad = 0;
    for (const v of x) {
      if (!Number.isFinite(v)) bad++;
      sum += v;
      sq += v * v;
    }
    expect(bad).toBe(0);
    const sd = Math.sqrt(sq / x.length - (sum / x.length) ** 2);
    expect(sd).toBeGreaterThan(0.05);     // a flat (all-zero weights) model would give 0
    expect(sd).toBeLessThan(20);
  });

  test('the same seed gives identical logits twice; --dummy-seed 1 gives others', () => {
    const a = run('f32', join(root, 'b1.f32'));
    const b = run('f32', join(root, 'b2.f32'));
    expect(b.json.output_ids).toEqual(a.json.output_ids);
    expect(b.logits.equals(a.logits)).toBe(true);
    const c = run('f32-seed1', join(root, 'c.f32'));
    expect(c.code).toBe(0);
    expect(c.logits.equals(a.logits)).toBe(false);
  });

  test('bfloat16 weights are generated in their dtype and run', () => {
    const r = run('bf16', join(root, 'd.f32'));
    expect(r.code).toBe(0);
    expect(r.json.output_ids).toHaveLength(6);
  });

  test('llmc bench works as for any engine', () => {
    const r = llmc(['bench', engine('f32'), '--prompt-len', '16', '--gen-len', '4']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/decode, batch 1\s+[\d.]+ tok\/s/);
  });

  test('dummy settings the runtime does not know: one VERSION line naming the field', () => {
    build('unknown-kind', []);
    const path = join(engine('unknown-kind'), 'rank0.engine');
    const bytes = readFileSync(path);
    bytes.write('"kind":"xavier"', bytes.indexOf('"kind":"normal"'), 'latin1');
    writeFileSync(path, bytes);
    expectCleanError(llmc(['run', engine('unknown-kind'), '--token-ids', '1,2', '--max-new-tokens', '1']),
      /dummy\.kind "xavier" is a dummy-weight kind this runtime does not know \(normal, ones, const\); rebuild the engine with this llmc version/);
  });
});

test('the CPU runtime refuses an engine built for cuda, naming the command that rebuilds it for the CPU', () => {
  const fx = loadFixture('llama');
  const dir = engine('cuda');
  expect(llmc(['build', fx.modelDir, '-o', dir, '--dtype', 'float16']).code).toBe(0);
  // Written as `llmc build --target cuda` would (no nvcc needed here: the refusal comes before the fatbin is read).
  const cfgPath = join(dir, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.target = { backend: 'cuda', archs: ['sm_80', 'sm_90a'], ptx: 'compute_80', fatbin: 'kernels/llmc.fatbin' };
  writeFileSync(cfgPath, JSON.stringify(cfg));
  // --backend cpu: without it a cuda engine goes to the CUDA backend (the engine's target; test/cuda covers that).
  const r = llmc(['run', dir, '--token-ids', '1,2,3', '--max-new-tokens', '2', '--backend', 'cpu']);
  expectCleanError(r, /^error: this engine was built for cuda \(sm_80, sm_90a\); run it on a GPU machine or rebuild with --target cpu: `llmc build \S+ -o \S+ --dtype float16 --target cpu --force`$/);
  expect(r.stderr).toContain(`llmc build ${fx.modelDir} -o ${dir} --dtype float16 --target cpu --force`);
});
