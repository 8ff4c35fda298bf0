// Finding nvcc for `llmc build --target cuda`: $LLMC_NVCC (an explicit path; tests point it at nothing to
// simulate a machine without the toolkit), then PATH, $CUDA_HOME/bin, $CUDA_PATH/bin, /usr/local/cuda/bin.
// Only the build needs nvcc: the runtime loads the fatbin with the driver API and never compiles.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fail } from '../../errors.js';
import { archNumber, type CudaArch } from './arch.js';

export interface Nvcc {
  path: string;
  version: string;                 // "13.0.88"
  /** Real architectures it compiles for (nvcc --list-gpu-code: sm_80, sm_90, ...); null when it cannot say. */
  codes: Set<string> | null;
  /** Whether it has --compress-mode (CUDA 12.8+), used to store the fatbin uncompressed. */
  compressMode: boolean;
}

const cache = new Map<string, Nvcc>();

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function candidates(env: NodeJS.ProcessEnv): string[] {
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const home of [env.CUDA_HOME, env.CUDA_PATH]) if (home) dirs.push(join(home, 'bin'));
  dirs.push('/usr/local/cuda/bin');
  return dirs.map((d) => join(d, 'nvcc'));
}

/** The nvcc this build uses, or UNSUPPORTED with the fix. */
export function findNvcc(env: NodeJS.ProcessEnv = process.env): Nvcc {
  const override = env.LLMC_NVCC;
  const path = override ? (isExecutable(override) ? override : undefined) : candidates(env).find(isExecutable);
  if (!path) {
    fail('UNSUPPORTED', `--target cuda needs nvcc (CUDA toolkit), not found on PATH or CUDA_HOME${override ? ` (LLMC_NVCC=${override} is not an executable)` : ''}`,
      'install the CUDA toolkit or build with --target cpu');
  }
  const known = cache.get(path);
  if (known) return known;
  const v = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  const m = /release [\d.]+, V(\d+\.\d+\.\d+)/.exec(v.stdout ?? '');
  if (v.status !== 0 || !m) {
    fail('UNSUPPORTED', `${path} --version failed${v.error ? ` (${v.error.message})` : ''}: not a working nvcc`, 'install the CUDA toolkit or build with --target cpu');
  }
  const list = spawnSync(path, ['--list-gpu-code'], { encoding: 'utf8', timeout: 60_000 });
  const codes = list.status === 0 ? new Set((list.stdout ?? '').split(/\s+/).filter((s) => s.startsWith('sm_'))) : null;
  const help = spawnSync(path, ['--help'], { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 << 20 });
  const nvcc: Nvcc = { path, version: m[1], codes, compressMode: (help.stdout ?? '').includes('--compress-mode') };
  cache.set(path, nvcc);
  return nvcc;
}

/** UNSUPPORTED when this nvcc cannot compile for one of the architectures (an a/f variant needs its base). */
export function checkArchsSupported(nvcc: Nvcc, archs: readonly CudaArch[]): void {
  if (!nvcc.codes) return;   // an nvcc without --list-gpu-code reports a bad arch itself
  for (const a of archs) {
    if (!nvcc.codes.has(`sm_${archNumber(a)}`)) {
      fail('UNSUPPORTED', `nvcc ${nvcc.version} (${nvcc.path}) cannot compile for ${a.name}`,
        `it supports ${[...nvcc.codes].join(', ')}; pick from those with --cuda-arch or install a newer CUDA toolkit`);
    }
  }
}
