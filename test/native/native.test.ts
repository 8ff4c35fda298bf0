// The native side on its own: builds native/ with CMake (library, llmc-run, tests), runs the runtime self test and
// the backend-ops kernel comparison (every SIMD kernel against its scalar reference), and checks that the
// standalone runner (for machines without Node) gives HF's greedy tokens on a golden engine.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { llmc, repoRoot, tempDir } from '../helpers/cli.js';
import { loadFixture } from '../helpers/golden.js';

const buildDir = join(repoRoot, 'native', 'build');

function sh(cmd: string, args: string[], timeoutMs = 900_000) {
  const r = spawnSync(cmd, args, { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

beforeAll(() => {
  const cfg = sh('cmake', ['-S', 'native', '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release']);
  if (cfg.code !== 0) throw new Error(`cmake configure failed:\n${cfg.out}`);
  const b = sh('cmake', ['--build', buildDir, '-j', '2']);
  if (b.code !== 0) throw new Error(`cmake build failed:\n${b.out.slice(-4000)}`);
}, 900_000);

test('runtime self test: decode vs recompute, batching, refused engines, sampling', () => {
  const r = sh(join(buildDir, 'runtime_selftest'), []);
  if (r.code !== 0) throw new Error(r.out.slice(-4000));
  expect(r.code).toBe(0);
});

test('sampler: the copy-free sampler picks the ids and draws the random numbers of the copy-based reference', () => {
  const r = sh(join(buildDir, 'sampler_test'), []);
  if (r.code !== 0) throw new Error(r.out.slice(-4000));
  expect(r.out).toMatch(/sampler_test: [1-9]\d* cases, 0 failed/);
});

test('backend ops: every SIMD kernel matches the scalar reference', () => {
  const r = sh(join(buildDir, 'backend_ops'), []);
  if (r.code !== 0) throw new Error(r.out.slice(-4000));
  expect(r.out).toMatch(/PASS/);
  expect(r.out).not.toMatch(/FAIL/);
});

test('quantized linear: every SIMD level matches the scalar reference, which matches an f64 sum', () => {
  const r = sh(join(buildDir, 'quant_ops'), []);
  if (r.code !== 0) throw new Error(r.out.slice(-4000));
  expect(r.out).toMatch(/\d+ cases, 0 failed/);
  expect(r.out).not.toMatch(/FAIL/);
});

test('attention ops: every attention path and KV dtype at every SIMD level matches the scalar and dense references', () => {
  const r = sh(join(buildDir, 'attention_ops'), []);
  if (r.code !== 0) throw new Error(r.out.slice(-4000));
  expect(r.out).toMatch(/\d+ cases, 0 failed/);
  expect(r.out).toMatch(/PASS  attention /);
  expect(r.out).not.toMatch(/FAIL/);
});

test('targets and dummy weights: GPU code rules, cuda engines refused by the CPU backend, the dummy generator', () => {
  const r = sh(join(buildDir, 'target_dummy_test'), []);
  if (r.code !== 0) throw new Error(r.out.slice(-4000));
  expect(r.out).toMatch(/target_dummy_test: \d+ checks, 0 failed/);
});

test('llmc-run (no Node) gives the HF greedy tokens on a golden engine', () => {
  const fx = loadFixture('llama');
  const engine = join(tempDir('llmc-native-'), 'llama');
  const b = llmc(['build', fx.modelDir, '-o', engine, '--dtype', 'float32']);
  expect(b.code).toBe(0);
  const r = sh(join(buildDir, 'llmc-run'), [engine, '--token-ids', fx.json.prompts[1].join(','), '--max-new-tokens', '24',
    '--temperature', '0', '--ignore-eos', '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out.trim().split('\n').pop()!).output_ids).toEqual(fx.json.greedy[1].new_tokens);
});
