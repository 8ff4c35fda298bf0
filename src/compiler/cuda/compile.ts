// Kernel sources -> one fatbin (SASS per --cuda-arch + PTX of the lowest), through nvcc, cached by content hash.
// The cache key covers everything that changes the output: nvcc's version, the flags (archs, -D specialisation),
// and the bytes of every kernel source and header, so rebuilding an engine (or another model with the same
// specialisation) reuses the fatbin instead of recompiling. Cache: $LLMC_CACHE_DIR, else $XDG_CACHE_HOME/llmc,
// else ~/.cache/llmc; entries are fatbin/<sha256>.fatbin, written atomically (temp file + rename), checked with
// the fatbin parser when read back (a damaged entry is recompiled); the 32 most recently used are kept.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fail, LlmcError } from '../../errors.js';
import { parseFatbin, ptxKernelNames, type FatbinEntry } from '../engine/fatbin.js';
import { gencodeFlags, ptxTarget, type CudaArch } from './arch.js';
import { unityUnit, type KernelSources } from './kernels.js';
import type { Nvcc } from './nvcc.js';

export interface FatbinBuild {
  bytes: Buffer;
  sha256: string;
  entries: FatbinEntry[];
  kernels: string[];        // entry points found in the PTX
  cached: boolean;
  cachePath: string | null; // null when the cache is not writable
  seconds: number;
}

export interface CompileInput {
  nvcc: Nvcc;
  archs: CudaArch[];
  sources: KernelSources;
  defines: Record<string, number>;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LLMC_CACHE_DIR) return env.LLMC_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'llmc');
}

/** nvcc flags besides the input and output (the same flags in the cache key and on the command line). */
export function nvccFlags(nvcc: Nvcc, archs: CudaArch[], sources: KernelSources, defines: Record<string, number>): string[] {
  return [
    '-fatbin', '-O3', '-std=c++17',
    // Stored plain: every driver reads it, and the PTX stays readable (llmc inspect lists its kernels).
    ...(nvcc.compressMode ? ['--compress-mode=none'] : []),
    '--threads', '2',        // the gencode targets in parallel; these machines have 2 cores
    '-I', sources.dir,
    ...Object.entries(defines).map(([k, v]) => `-D${k}=${v}`),
    ...gencodeFlags(archs),
  ];
}

function cacheKey(nvcc: Nvcc, flags: string[], sources: KernelSources): string {
  const h = createHash('sha256');
  h.update(`llmc fatbin v1\0nvcc ${nvcc.version}\0${flags.join(' ')}\0`);
  for (const f of [...sources.units, ...sources.headers]) {
    h.update(`${f.rel}\0${createHash('sha256').update(f.text).digest('hex')}\0`);
  }
  return h.digest('hex');
}

export function compileFatbin(input: CompileInput): FatbinBuild {
  const started = performance.now();
  const { nvcc, archs, sources, defines } = input;
  const log = input.log ?? (() => {});
  const flags = nvccFlags(nvcc, archs, sources, defines);
  const key = cacheKey(nvcc, flags, sources);
  const dir = join(cacheDir(input.env), 'fatbin');
  const path = join(dir, `${key}.fatbin`);
  const what = `${archs.map((a) => a.name).join(', ')} + PTX ${ptxTarget(archs)}`;

  if (existsSync(path)) {
    const bytes = readFileSync(path);
    const checked = check(bytes, archs, path);
    if (checked) {
      touch(path);
      return done(bytes, checked, true, path);
    }
    log(`cuda: cached fatbin ${path} is damaged; compiling again`);
  }
  log(`cuda: compiling ${sources.units.length} kernel file(s) for ${what} with nvcc ${nvcc.version}`);
  const bytes = runNvcc(nvcc, flags, sources, what);
  const entries = check(bytes, archs, 'the fatbin nvcc wrote');
  if (!entries) throw new Error(`nvcc ${nvcc.version} wrote a fatbin without code for every one of ${what}`);
  return done(bytes, entries, false, store(dir, path, bytes, log));

  function done(b: Buffer, entries: FatbinEntry[], cached: boolean, cachePath: string | null): FatbinBuild {
    const kernels = [...new Set(entries.flatMap((e) => ptxKernelNames(b, e)))].sort();
    const seconds = (performance.now() - started) / 1000;
    log(`cuda: fatbin ${(b.length / 1024).toFixed(1)} KB, ${kernels.length} kernels, ${cached ? `from the cache (${cachePath})` : `compiled in ${seconds.toFixed(1)} s`}`);
    return { bytes: b, sha256: createHash('sha256').update(b).digest('hex'), entries, kernels, cached, cachePath, seconds };
  }
}

/** The entries when the fatbin holds SASS for every arch and the PTX; null when something is missing or unreadable. */
function check(bytes: Buffer, archs: CudaArch[], where: string): FatbinEntry[] | null {
  let entries: FatbinEntry[];
  try {
    entries = parseFatbin(bytes, where);
  } catch (e) {
    if (e instanceof LlmcError) return null;
    throw e;
  }
  const have = new Set(entries.map((e) => e.target));
  const want = [...archs.map((a) => a.name), ptxTarget(archs)];
  return want.every((t) => have.has(t)) ? entries : null;
}

function runNvcc(nvcc: Nvcc, flags: string[], sources: KernelSources, what: string): Buffer {
  const work = mkdtempSync(join(tmpdir(), 'llmc-nvcc-'));
  try {
    const unit = join(work, 'llmc_kernels.cu');
    const out = join(work, 'llmc.fatbin');
    writeFileSync(unit, unityUnit(sources));
    const r = spawnSync(nvcc.path, [...flags, '-o', out, unit], { cwd: work, encoding: 'utf8', timeout: 30 * 60_000, maxBuffer: 64 << 20 });
    if (r.status !== 0 || !existsSync(out)) {
      const logText = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`;
      const logPath = join(tmpdir(), `llmc-nvcc-${randomBytes(4).toString('hex')}.log`);
      writeFileSync(logPath, `${nvcc.path} ${[...flags, '-o', out, unit].join(' ')}\n${logText}`);
      const first = logText.split('\n').find((l) => /error/i.test(l)) ?? logText.split('\n').find((l) => l.trim() !== '') ?? `exit ${r.status ?? r.signal}`;
      // Every .cu is one translation unit (kernels.ts): two files defining the same helper collide.
      const unity = /redefinition|already been defined|already defined/.test(logText)
        ? ' (the kernel files compile as one translation unit: file-local helpers need distinct names)' : '';
      fail('UNSUPPORTED', `nvcc ${nvcc.version} failed to compile the CUDA kernels for ${what}: ${first.trim()}${unity}`, `full log: ${logPath}`);
    }
    return readFileSync(out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Entries kept: the most recently used (a hit refreshes the mtime); each kernel edit adds one of a few MB. */
const CACHE_KEEP = 32;

function touch(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // a read-only cache still serves hits
  }
}

function evict(dir: string, log: (line: string) => void): void {
  try {
    const entries = readdirSync(dir).filter((f) => f.endsWith('.fatbin')).map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }));
    entries.sort((a, b) => b.t - a.t);
    for (const e of entries.slice(CACHE_KEEP)) rmSync(join(dir, e.f), { force: true });
  } catch (e) {
    log(`warning: cannot prune the fatbin cache ${dir} (${(e as Error).message})`);
  }
}

/** Writes the cache entry atomically; a cache that cannot be written only costs a recompile next time. */
function store(dir: string, path: string, bytes: Buffer, log: (line: string) => void): string | null {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
    evict(dir, log);
    return path;
  } catch (e) {
    rmSync(tmp, { force: true });
    log(`warning: cannot write the fatbin cache ${dir} (${(e as Error).message}); the next build compiles again`);
    return null;
  }
}
