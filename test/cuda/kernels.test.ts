// The CUDA kernel sources (native/cuda/kernels) compile with nvcc, cleanly:
//   - every .cu on its own (PTX for compute_80: each file includes what it uses);
//   - all of them as one translation unit, the way `llmc build --target cuda` compiles them, with
//     -fatbin -O3 -std=c++17 -gencode sm_80, sm_90a and compute_80 PTX;
//   - the fatbin holds exactly sm_80, sm_90a and compute_80 (read by the runtime's C++ fatbin reader), and its PTX
//     entry points are exactly the kernels kernel_abi.h lists (names the host looks up at load).
// Compiled once per run into a temporary directory. Without nvcc the tests are skipped with a visible message.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from '../helpers/cli.js';

const kernels = join(repoRoot, 'native', 'cuda', 'kernels');
const units = readdirSync(kernels).filter((f) => f.endsWith('.cu')).sort();

function findNvcc(): string | null {
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (d && existsSync(join(d, 'nvcc'))) return join(d, 'nvcc');
  }
  return existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null;
}

const nvcc = findNvcc();
if (!nvcc) {
  // Visible in the jest output: the compile checks need the CUDA toolkit.
  console.warn('test/cuda/kernels.test.ts: nvcc not found (PATH, /usr/local/cuda/bin): skipping the CUDA kernel compile checks');
}
const maybe = nvcc ? describe : describe.skip;

function run(cmd: string, args: string[], cwd: string, timeoutMs = 900_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** The LLMC_CUDA_KERNELS list of kernel_abi.h. */
function abiKernels(): string[] {
  return [...readFileSync(join(kernels, 'kernel_abi.h'), 'utf8').matchAll(/^\s*X\((llmc_\w+),\s*\w+\)/gm)].map((m) => m[1]).sort();
}

maybe('CUDA kernels compile with nvcc', () => {
  const dir = tempDir('llmc-cuda-kernels-');
  let perFile = { code: -1, out: '' };
  let unity = { code: -1, out: '' };
  const fatbin = join(dir, 'llmc.fatbin');

  beforeAll(() => {
    // One nvcc call compiles each file to its own PTX (no -o: one output per input).
    perFile = run(nvcc!, ['-ptx', '-std=c++17', '-arch=compute_80', ...units.map((u) => join(kernels, u))], dir);
    const unit = join(dir, 'llmc_kernels.cu');
    writeFileSync(unit, units.map((u) => `#include ${JSON.stringify(join(kernels, u))}`).join('\n') + '\n');
    const help = run(nvcc!, ['--help'], dir, 60_000).out;
    unity = run(nvcc!, [
      '-fatbin', '-O3', '-std=c++17',
      ...(help.includes('--compress-mode') ? ['--compress-mode=none'] : []),  // plain PTX: its entry names are readable
      '-gencode', 'arch=compute_80,code=sm_80',
      '-gencode', 'arch=compute_90a,code=sm_90a',
      '-gencode', 'arch=compute_80,code=compute_80',
      '-o', fatbin, unit,
    ], dir);
  }, 900_000);

  test('each .cu compiles on its own (PTX, compute_80), without warnings', () => {
    if (perFile.code !== 0) throw new Error(perFile.out.slice(-4000));
    for (const u of units) expect(existsSync(join(dir, u.replace(/\.cu$/, '.ptx')))).toBe(true);
    expect(perFile.out).not.toMatch(/warning/i);
  });

  test('all .cu as one module for sm_80 + sm_90a + compute_80 PTX, without warnings', () => {
    if (unity.code !== 0) throw new Error(unity.out.slice(-4000));
    expect(existsSync(fatbin)).toBe(true);
    expect(unity.out).not.toMatch(/warning/i);
  });

  test('the fatbin holds exactly the kernels of kernel_abi.h', () => {
    const text = readFileSync(fatbin).toString('latin1');
    const entries = [...new Set([...text.matchAll(/\.entry\s+(llmc_\w+)/g)].map((m) => m[1]))].sort();
    expect(entries.length).toBeGreaterThan(0);
    expect(entries).toEqual(abiKernels());
  });

  test('the C++ fatbin reader sees sm_80, sm_90a, compute_80 and applies the SASS / PTX-JIT rules', () => {
    // Built straight with g++ (a few host files): no CMake tree shared with other test files.
    const exe = join(dir, 'cuda_host_selftest');
    const n = join(repoRoot, 'native');
    const b = run('g++', ['-std=c++17', '-O1', '-I', join(n, 'include'), '-I', join(n, 'runtime'), '-I', join(n, 'cpu'),
      join(n, 'tests', 'cuda_host_selftest.cpp'), join(n, 'cuda', 'fatbin.cpp'), join(n, 'cuda', 'cuda_driver.cpp'),
      join(n, 'cuda', 'launch.cpp'), join(n, 'cuda', 'device.cpp'), join(n, 'cuda', 'cublaslt.cpp'), join(n, 'cuda', 'dynlib.cpp'),
      join(n, 'runtime', 'errors.cpp'),
      '-ldl', '-o', exe], dir);
    if (b.code !== 0) throw new Error(b.out.slice(-4000));
    const r = run(exe, ['--fatbin', fatbin, '--expect', 'sm_80,sm_90a,compute_80'], dir);
    if (r.code !== 0) throw new Error(r.out);
    expect(r.out).toMatch(/entries are sm_80,sm_90a,compute_80/);
    expect(r.out).not.toMatch(/FAIL/);
  }, 300_000);
});
