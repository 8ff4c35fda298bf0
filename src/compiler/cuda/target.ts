// The build's target: `--target cpu` (default) needs nothing; `--target cuda [--cuda-arch LIST]` compiles the
// kernel sources into ENGINE/kernels/llmc.fatbin and describes it in the manifest's `target`. Everything that can
// be wrong with the flags or the toolchain is checked by resolveTarget, before the checkpoint is read.
import { fail } from '../../errors.js';
import { DEFAULT_CUDA_ARCHS, parseCudaArchs, ptxTarget, type CudaArch } from './arch.js';
import { compileFatbin } from './compile.js';
import { kernelDefines, readKernelSources, type KernelShape, type KernelSources } from './kernels.js';
import { checkArchsSupported, findNvcc, type Nvcc } from './nvcc.js';

export type TargetBackend = 'cpu' | 'cuda';
export const TARGETS: readonly TargetBackend[] = ['cpu', 'cuda'];
export const FATBIN_FILE = 'kernels/llmc.fatbin';

export type ResolvedTarget =
  | { backend: 'cpu' }
  | { backend: 'cuda'; archs: CudaArch[]; nvcc: Nvcc; sources: KernelSources };

export interface TargetOutput {
  manifest: Record<string, unknown>;              // the manifest's `target`
  files: { path: string; bytes: Buffer }[];        // written into the engine directory
}

export function resolveTarget(target: string | undefined, cudaArch: string | undefined, env: NodeJS.ProcessEnv): ResolvedTarget {
  const backend = target ?? 'cpu';
  if (!TARGETS.includes(backend as TargetBackend)) {
    fail('BAD_ARGUMENT', `--target ${backend} is not a target`, `use one of ${TARGETS.join(', ')}`);
  }
  if (backend === 'cpu') {
    if (cudaArch !== undefined) fail('BAD_ARGUMENT', '--cuda-arch only applies to --target cuda', `add --target cuda or drop --cuda-arch ${cudaArch}`);
    return { backend: 'cpu' };
  }
  const archs = parseCudaArchs(cudaArch ?? DEFAULT_CUDA_ARCHS);
  const nvcc = findNvcc(env);
  checkArchsSupported(nvcc, archs);
  return { backend: 'cuda', archs, nvcc, sources: readKernelSources(env) };
}

export function buildTarget(t: ResolvedTarget, shape: KernelShape, env: NodeJS.ProcessEnv, log: (line: string) => void): TargetOutput {
  if (t.backend === 'cpu') return { manifest: { backend: 'cpu' }, files: [] };
  const defines = kernelDefines(t.sources, shape);
  const fb = compileFatbin({ nvcc: t.nvcc, archs: t.archs, sources: t.sources, defines, env, log });
  return {
    manifest: {
      backend: 'cuda',
      archs: t.archs.map((a) => a.name),
      ptx: ptxTarget(t.archs),
      fatbin: FATBIN_FILE,
      fatbin_sha256: fb.sha256,
      nvcc_version: t.nvcc.version,
      defines,
      kernels: fb.kernels,
    },
    files: [{ path: FATBIN_FILE, bytes: fb.bytes }],
  };
}
