// `llmc build --target cuda`: flag checks, nvcc discovery (a missing toolkit is one clean line), the fatbin of the
// llama golden fixture (SASS for every --cuda-arch + PTX of the lowest, -D specialisation, manifest fields), the
// fatbin cache, and `llmc inspect` on the result. Builds use the placeholder kernels in test/fixtures/cuda unless
// the real native/cuda/kernels are present (then one test compiles those too). The nvcc tests skip without nvcc.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildEngine } from '../../src/compiler/build.js';
import { parseCudaArchs, ptxTarget, gencodeFlags } from '../../src/compiler/cuda/arch.js';
import { findNvcc } from '../../src/compiler/cuda/nvcc.js';
import { parseFatbin } from '../../src/compiler/engine/fatbin.js';
import { expectCleanError, llmc } from '../helpers/cli.js';
import { cleanupTemps, expectOneLine, fixtureModel, llmcError, repoRoot, tempDir } from './helpers.js';

afterAll(cleanupTemps);

const FIXTURE_KERNELS = join(repoRoot, 'test', 'fixtures', 'cuda', 'kernels');
const nvcc = (() => {
  try {
    return findNvcc();
  } catch {
    return null;
  }
})();
const withNvcc = nvcc ? test : test.skip;

describe('--cuda-arch', () => {
  test('parses, sorts and de-duplicates; PTX is the lowest arch without its suffix', () => {
    const archs = parseCudaArchs(' sm_90a,sm_80 ,sm_86,sm_80,sm_100f');
    expect(archs.map((a) => a.name)).toEqual(['sm_80', 'sm_86', 'sm_90a', 'sm_100f']);
    expect(archs[3]).toEqual({ name: 'sm_100f', major: 10, minor: 0, variant: 'f' });
    expect(ptxTarget(parseCudaArchs('sm_90a'))).toBe('compute_90');
    expect(gencodeFlags(parseCudaArchs('sm_80,sm_90a'))).toEqual([
      '-gencode', 'arch=compute_80,code=sm_80', '-gencode', 'arch=compute_90a,code=sm_90a', '-gencode', 'arch=compute_80,code=compute_80',
    ]);
  });

  test.each([
    ['sm80', /--cuda-arch sm80 is not a GPU architecture; .*valid forms: sm_80, sm_86, .*sm_90a/],
    ['compute_80', /--cuda-arch compute_80 is not a GPU architecture/],
    ['sm_90x', /--cuda-arch sm_90x is not a GPU architecture/],
    ['sm_75', /--cuda-arch sm_75: llmc's CUDA kernels need sm_80 \(Ampere\) or newer/],
    [',', /--cuda-arch is empty/],
  ])('%s is BAD_ARGUMENT naming the valid forms', async (spec, pattern) => {
    expectOneLine(await llmcError(() => parseCudaArchs(spec)), 'BAD_ARGUMENT', pattern);
  });
});

describe('llmc build --target cuda: flags and toolchain (CLI)', () => {
  const model = fixtureModel('llama');
  const noNvcc = { LLMC_NVCC: '/nonexistent/nvcc' };

  test('without nvcc: one line saying what is missing and the way out', () => {
    const r = llmc(['build', model, '-o', join(tempDir(), 'e'), '--target', 'cuda'], { env: noNvcc });
    expectCleanError(r, /^error: --target cuda needs nvcc \(CUDA toolkit\), not found on PATH or CUDA_HOME .*; install the CUDA toolkit or build with --target cpu$/);
  });

  test('without nvcc, --target cpu (and the default) still build', () => {
    for (const extra of [['--target', 'cpu'], []]) {
      const r = llmc(['build', model, '-o', join(tempDir(), 'e'), ...extra], { env: noNvcc });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  });

  test.each([
    [['--target', 'cuda', '--cuda-arch', 'ampere'], /--cuda-arch ampere is not a GPU architecture; .*valid forms: sm_80/],
    [['--target', 'cuda', '--cuda-arch', 'sm_80,sm_70'], /--cuda-arch sm_70: llmc's CUDA kernels need sm_80/],
    [['--cuda-arch', 'sm_80'], /--cuda-arch only applies to --target cuda/],
    [['--target', 'rocm'], /option '--target <backend>' argument 'rocm' is invalid\. Allowed choices are cpu, cuda/],
  ])('%j is refused before any work', (flags, pattern) => {
    const out = join(tempDir(), 'e');
    expectCleanError(llmc(['build', model, '-o', out, ...flags], { env: noNvcc }), pattern);
    expect(existsSync(out)).toBe(false);
  });
});

describe('llmc build --target cuda with nvcc', () => {
  const cache = tempDir('llmc-fatbin-cache-');
  const env = { ...process.env, LLMC_CUDA_KERNELS: FIXTURE_KERNELS, LLMC_CACHE_DIR: cache };
  let engine = '';
  let manifest: Record<string, any> = {};

  withNvcc('the llama fixture: fatbin with SASS sm_80 + sm_90a and PTX compute_80, described in the manifest', async () => {
    engine = join(tempDir(), 'llama-cuda');
    const lines: string[] = [];
    const report = await buildEngine({ modelDir: fixtureModel('llama'), outDir: engine, target: 'cuda', env, log: (l) => lines.push(l) });
    manifest = report.manifest;
    const t = manifest.target;
    expect(t).toMatchObject({ backend: 'cuda', archs: ['sm_80', 'sm_90a'], ptx: 'compute_80', fatbin: 'kernels/llmc.fatbin', nvcc_version: nvcc!.version });
    expect(t.defines).toEqual({ LLMC_HEAD_DIM: 16 });       // only the macro the kernels name, from the plan's head_dim
    expect(t.kernels).toEqual(['llmc_test_fill', 'llmc_test_scale_heads']);
    const bytes = readFileSync(join(engine, 'kernels', 'llmc.fatbin'));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(t.fatbin_sha256);
    const entries = parseFatbin(bytes, 'llmc.fatbin');
    expect(entries.filter((e) => e.kind === 'sass').map((e) => e.target).sort()).toEqual(['sm_80', 'sm_90a']);
    expect(entries.filter((e) => e.kind === 'ptx').map((e) => e.target)).toEqual(['compute_80']);
    expect(entries.every((e) => e.compression === 'none')).toBe(true);
    expect(lines.some((l) => /^cuda: compiling 2 kernel file\(s\) for sm_80, sm_90a \+ PTX compute_80/.test(l))).toBe(true);
    // Weights are the same engine format as for the CPU: rank0.engine does not depend on the target.
    const cpu = join(tempDir(), 'llama-cpu');
    await buildEngine({ modelDir: fixtureModel('llama'), outDir: cpu, env });
    expect(readFileSync(join(engine, 'rank0.engine')).equals(readFileSync(join(cpu, 'rank0.engine')))).toBe(true);
  });

  withNvcc('a rebuild takes the fatbin from the cache; a changed kernel source or arch list compiles again', async () => {
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const out = join(tempDir(), 'again');
    const again = await buildEngine({ modelDir: fixtureModel('llama'), outDir: out, target: 'cuda', env, log });
    expect(lines.some((l) => l.includes('from the cache'))).toBe(true);
    expect(lines.some((l) => l.startsWith('cuda: compiling'))).toBe(false);
    expect((again.manifest.target as any).fatbin_sha256).toBe(manifest.target.fatbin_sha256);
    expect(readdirSync(join(cache, 'fatbin')).filter((f) => f.endsWith('.fatbin'))).toHaveLength(1);

    const kernels = join(tempDir(), 'kernels');
    cpSync(FIXTURE_KERNELS, kernels, { recursive: true });
    writeFileSync(join(kernels, 'fill.cu'), `${readFileSync(join(kernels, 'fill.cu'), 'utf8')}\n// edited\n`);
    lines.length = 0;
    await buildEngine({ modelDir: fixtureModel('llama'), outDir: out, target: 'cuda', cudaArch: 'sm_90a', env: { ...env, LLMC_CUDA_KERNELS: kernels }, log });
    expect(lines.some((l) => l.startsWith('cuda: compiling 2 kernel file(s) for sm_90a + PTX compute_90'))).toBe(true);
    const entries = parseFatbin(readFileSync(join(out, 'kernels', 'llmc.fatbin')), 'x');
    expect(entries.map((e) => e.target).sort()).toEqual(['compute_90', 'sm_90a']);
  });

  withNvcc('the cache keeps the 32 most recently used fatbins', async () => {
    const small = tempDir('llmc-fatbin-cache-');
    mkdirSync(join(small, 'fatbin'));
    const old = new Date(Date.now() - 3600_000);
    for (let i = 0; i < 40; i++) {
      writeFileSync(join(small, 'fatbin', `${String(i).padStart(64, '0')}.fatbin`), 'x');
      utimesSync(join(small, 'fatbin', `${String(i).padStart(64, '0')}.fatbin`), old, new Date(old.getTime() + i * 1000));
    }
    await buildEngine({ modelDir: fixtureModel('llama'), outDir: join(tempDir(), 'e'), target: 'cuda', env: { ...env, LLMC_CACHE_DIR: small } });
    const left = readdirSync(join(small, 'fatbin'));
    expect(left).toHaveLength(32);
    expect(left.filter((f) => !f.startsWith('0'.repeat(60)))).toHaveLength(1);   // the new entry
    expect(left).not.toContain(`${'0'.repeat(64)}.fatbin`);              // the oldest went first
    expect(left).toContain(`${'0'.repeat(62)}39.fatbin`);
  });

  withNvcc('a dummy-weight 7B preset for cuda: the fatbin specialised for its head size, still no weight bytes', async () => {
    const out = join(tempDir(), 'llama2-dummy-cuda');
    const report = await buildEngine({ dummyWeights: true, config: 'llama-2-7b', outDir: out, target: 'cuda', cudaArch: 'sm_90a', env });
    const m = report.manifest as Record<string, any>;
    expect(m.dummy_weights).toBe(true);
    expect(m.target).toMatchObject({ backend: 'cuda', archs: ['sm_90a'], ptx: 'compute_90', defines: { LLMC_HEAD_DIM: 128 } });
    expect(readFileSync(join(out, 'rank0.engine')).length).toBeLessThan(256 * 1024);
    expect(parseFatbin(readFileSync(join(out, 'kernels', 'llmc.fatbin')), 'x').map((e) => e.target).sort()).toEqual(['compute_90', 'sm_90a']);
  });

  withNvcc('a kernel that does not compile: one line with the first nvcc error and where the full log is', async () => {
    const kernels = join(tempDir(), 'kernels');
    cpSync(FIXTURE_KERNELS, kernels, { recursive: true });
    writeFileSync(join(kernels, 'broken.cu'), 'extern "C" __global__ void broken() { this is not cuda; }\n');
    const e = await llmcError(() => buildEngine({ modelDir: fixtureModel('llama'), outDir: join(tempDir(), 'e'), target: 'cuda', env: { ...env, LLMC_CUDA_KERNELS: kernels } }));
    expectOneLine(e, 'UNSUPPORTED', /^nvcc [\d.]+ failed to compile the CUDA kernels for sm_80, sm_90a \+ PTX compute_80: .*broken\.cu.*error.*; full log: \S+\.log$/);
  });

  withNvcc('no kernel sources: UNSUPPORTED naming the directory', async () => {
    const empty = tempDir();
    const e = await llmcError(() => buildEngine({ modelDir: fixtureModel('llama'), outDir: join(tempDir(), 'e'), target: 'cuda', env: { ...env, LLMC_CUDA_KERNELS: empty } }));
    expectOneLine(e, 'UNSUPPORTED', /no CUDA kernel sources \(\*\.cu\) in .*; this llmc was installed without native\/cuda\/kernels; build with --target cpu/);
  });

  withNvcc('llmc inspect lists the fatbin: archs, PTX, kernels; --json carries the entries', () => {
    const text = llmc(['inspect', engine]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/target\s+cuda sm_80,sm_90a \+ PTX compute_80/);
    expect(text.stdout).toMatch(/code\s+PTX compute_80 \([\d.]+ KB\)\n\s+SASS sm_80 \([\d.]+ KB\)\n\s+SASS sm_90a/);
    expect(text.stdout).toMatch(/kernels\s+2: llmc_test_fill, llmc_test_scale_heads/);
    const j = JSON.parse(llmc(['inspect', engine, '--json']).stdout);
    expect(j.fatbin.sha256_ok).toBe(true);
    expect(j.fatbin.entries.map((e: { target: string }) => e.target).sort()).toEqual(['compute_80', 'sm_80', 'sm_90a']);
  });

  const realKernels = join(repoRoot, 'native', 'cuda', 'kernels');
  const haveReal = existsSync(realKernels) && readdirSync(realKernels).some((f) => f.endsWith('.cu'));
  (nvcc && haveReal ? test : test.skip)('the real kernels in native/cuda/kernels compile for the default archs', async () => {
    const out = join(tempDir(), 'real');
    const report = await buildEngine({ modelDir: fixtureModel('llama'), outDir: out, target: 'cuda', env: { ...process.env, LLMC_CUDA_KERNELS: '' } });
    const entries = parseFatbin(readFileSync(join(out, 'kernels', 'llmc.fatbin')), 'llmc.fatbin');
    expect(entries.map((e) => e.target).sort()).toEqual(['compute_80', 'sm_80', 'sm_90a']);
    const kernels = (report.manifest.target as any).kernels as string[];
    expect(kernels.length).toBeGreaterThan(0);
    // Every kernel the host side launches (the X(name, params) list of kernel_abi.h) is in the fatbin's PTX.
    const abi = join(realKernels, 'kernel_abi.h');
    if (existsSync(abi)) {
      const wanted = [...readFileSync(abi, 'utf8').matchAll(/^\s*X\((llmc_\w+),/gm)].map((m) => m[1]);
      expect(wanted.length).toBeGreaterThan(0);
      expect(wanted.filter((k) => !kernels.includes(k))).toEqual([]);
    }
  }, 600_000);
});
