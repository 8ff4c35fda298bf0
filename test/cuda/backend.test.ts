// The CUDA backend on a machine without a GPU:
//   - asking for it without an NVIDIA driver gives the one-line UNSUPPORTED error and a non-zero exit (CLI run and
//     bench, the standalone runner), and a cuda-target engine asks for it by default;
//   - cuda_backend_ops exits 77 with "no CUDA driver: skipped";
//   - on the CPU emulator (native/cuda/emu: the real kernel sources run on CPU fibers) every kernel matches the CPU
//     kernel, and the whole backend matches the CPU backend on a synthetic engine and on the golden-fixture engines,
//     whose greedy tokens must also be HF's;
//   - the driver declarations match cuda.h (when the toolkit is installed) and the host pieces pass their self test.
// The native test programs are built with CMake into their own tree (native/build/cuda-tests), incrementally.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expectCleanError, llmc, repoRoot, tempDir } from '../helpers/cli.js';
import { loadFixture } from '../helpers/golden.js';

const buildDir = join(repoRoot, 'native', 'build', 'cuda-tests');
const noDriver = /^error: CUDA backend unavailable: libcuda\.so\.1 not found \(no NVIDIA driver on this machine\); run on a GPU machine or use --backend cpu$/;
const env = { ...process.env, LLMC_CUDA_QUIET: '1' };

function sh(cmd: string, args: string[], timeoutMs = 900_000, extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs, env: { ...env, ...extraEnv }, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const bin = (name: string) => join(buildDir, name);
// With a driver present (a GPU machine), the no-driver expectations do not apply.
const hasDriver = ['/usr/lib/x86_64-linux-gnu/libcuda.so.1', '/usr/lib64/libcuda.so.1', '/usr/local/nvidia/lib64/libcuda.so.1']
  .some((p) => existsSync(p));
const noDriverTest = hasDriver ? test.skip : test;

beforeAll(() => {
  const cfg = sh('cmake', ['-S', 'native', '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release']);
  if (cfg.code !== 0) throw new Error(`cmake configure failed:\n${cfg.out}`);
  const targets = ['cuda_host_selftest', 'cuda_backend_ops', 'cuda_emu_backend_test', 'cuda_bench', 'llmc-run'];
  if (existsSync('/usr/local/cuda/include/cuda.h')) targets.push('cuda_driver_abi_check');
  const b = sh('cmake', ['--build', buildDir, '-j', '2', '--target', ...targets]);
  if (b.code !== 0) throw new Error(`cmake build failed:\n${b.out.slice(-4000)}`);
}, 1_200_000);

test('host pieces: Philox known answers, fatbin rules, attention tiling, the no-driver message', () => {
  const r = sh(bin('cuda_host_selftest'), []);
  if (r.code !== 0) throw new Error(r.out);
  expect(r.out).not.toMatch(/FAIL/);
});

test('the driver API declarations match cuda.h', () => {
  if (!existsSync(bin('cuda_driver_abi_check'))) {
    console.warn('no /usr/local/cuda/include/cuda.h: the driver declaration check is not built');
    return;
  }
  const r = sh(bin('cuda_driver_abi_check'), []);
  expect(r.code).toBe(0);
});

noDriverTest('cuda_backend_ops without a driver: "no CUDA driver: skipped", exit 77', () => {
  const r = sh(bin('cuda_backend_ops'), []);
  expect(r.code).toBe(77);
  expect(r.stdout).toMatch(/^cuda_backend_ops: no CUDA driver: skipped/);
});

test('cuda_backend_ops --emulate: every CUDA kernel matches the CPU kernel', () => {
  const r = sh(bin('cuda_backend_ops'), ['--emulate']);
  if (r.code !== 0) throw new Error(r.out.split('\n').filter((l) => /FAIL|error/.test(l)).join('\n') || r.out.slice(-4000));
  expect(r.out).toMatch(/\d+ cases, 0 failed/);
  expect(r.out).toMatch(/PASS {2}attention/);
  expect(r.out).toMatch(/PASS {2}linear/);
  expect(r.out).toMatch(/PASS {2}sampling/);
}, 300_000);

test('the CUDA backend on the emulator matches the CPU backend (synthetic engine: prefill, decode, split-K, graphs, batching)', () => {
  const r = sh(bin('cuda_emu_backend_test'), []);
  if (r.code !== 0) throw new Error(r.out);
  expect(r.out).toMatch(/0 failed/);
  expect(r.out).toMatch(/decode steps replayed as CUDA graphs/);
  expect(r.out).toMatch(/device argmax/);
}, 300_000);

describe('golden fixtures on the emulated CUDA backend', () => {
  const names = ['llama', 'llama_bf16', 'llama_fp16', 'gemma', 'bloom', 'falcon_mqa', 'gpt2', 'gptj', 'phi', 'mistral', 'opt', 'mpt'];
  const dir = tempDir('llmc-cuda-golden-');
  for (const name of names) {
    test(`${name}: CUDA (emulated) = CPU logits and tokens, and HF's greedy tokens`, () => {
      const fx = loadFixture(name);
      const engine = join(dir, name);
      const b = llmc(['build', fx.modelDir, '-o', engine]);
      if (b.code !== 0) throw new Error(b.stderr);
      const want = fx.json.greedy[1].new_tokens.slice(0, 12);
      const r = sh(bin('cuda_emu_backend_test'), [engine, '--token-ids', fx.json.prompts[1].join(','), '--max-new-tokens', String(want.length)]);
      if (r.code !== 0) throw new Error(r.out);
      const greedy = /greedy tokens +cpu [\d,]+ \| cuda ([\d,]+)/.exec(r.out);
      expect(greedy).not.toBeNull();
      expect(greedy![1].split(',').map(Number)).toEqual(want);
    }, 300_000);
  }
});

noDriverTest('llmc run / bench --backend cuda without a driver: one error line, non-zero exit', () => {
  const fx = loadFixture('llama');
  const engine = join(tempDir('llmc-cuda-cli-'), 'llama');
  expect(llmc(['build', fx.modelDir, '-o', engine]).code).toBe(0);
  expectCleanError(llmc(['run', engine, '--token-ids', '1,2,3', '--backend', 'cuda']), noDriver);
  expectCleanError(llmc(['bench', engine, '--backend', 'cuda', '--prompt-len', '4', '--gen-len', '4']), noDriver);
  expectCleanError(llmc(['run', engine, '--token-ids', '1,2,3', '--backend', 'gpu']), /--backend/);
  // The standalone runner (machines without Node): same message, exit 1.
  const r = sh(bin('llmc-run'), [engine, '--token-ids', '1,2,3', '--backend', 'cuda']);
  expect(r.code).toBe(1);
  expect(r.stderr.trim()).toMatch(noDriver);
  // And the CPU backend still runs it.
  expect(llmc(['run', engine, '--token-ids', '1,2,3', '--max-new-tokens', '2', '--backend', 'cpu']).code).toBe(0);
}, 300_000);

noDriverTest('a cuda-target engine runs on the CUDA backend by default', () => {
  const nvcc = existsSync('/usr/local/cuda/bin/nvcc') || (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, 'nvcc')));
  if (!nvcc) {
    console.warn('nvcc not found: skipping the cuda-target engine check (llmc build --target cuda needs it)');
    return;
  }
  const fx = loadFixture('llama');
  const engine = join(tempDir('llmc-cuda-target-'), 'llama');
  const b = llmc(['build', fx.modelDir, '-o', engine, '--target', 'cuda'], { timeoutMs: 900_000 });
  if (b.code !== 0) throw new Error(b.stderr);
  expectCleanError(llmc(['run', engine, '--token-ids', '1,2,3']), noDriver);
  const r = sh(bin('llmc-run'), [engine, '--token-ids', '1,2,3']);
  expect(r.code).toBe(1);
  expect(r.stderr.trim()).toMatch(noDriver);
}, 900_000);

test('cuda_bench runs end to end (emulated, --quick)', () => {
  const fx = loadFixture('llama');
  const engine = join(tempDir('llmc-cuda-bench-'), 'llama');
  expect(llmc(['build', fx.modelDir, '-o', engine]).code).toBe(0);
  const r = sh(bin('cuda_bench'), [engine, '--emulate', '--quick', '--json']);
  if (r.code !== 0) throw new Error(r.out);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  expect(j.batch1.tok_s).toBeGreaterThan(0);
  expect(Object.keys(j.ttft_ms).length).toBeGreaterThan(0);
  expect(Object.keys(j.decode).length).toBeGreaterThan(0);
}, 300_000);
