// --cuda-arch: which GPUs a cuda engine carries machine code (SASS) for. Spelled as nvcc spells real
// architectures: sm_XY (major X, minor Y: sm_80 = 8.0, sm_100 = 10.0), sm_XYa for arch-specific code (features of
// exactly that GPU, e.g. Hopper's wgmma on sm_90a) and sm_XYf for family-specific code (CUDA 12.9+). The engine
// also carries PTX for the lowest listed architecture (suffix dropped), which the driver JIT-compiles on GPUs
// newer than every SASS in the fatbin; docs/cuda.md has the rules for which GPU runs what.
import { fail } from '../../errors.js';

export type ArchVariant = '' | 'a' | 'f';

export interface CudaArch {
  name: string;       // "sm_90a"
  major: number;      // 9
  minor: number;      // 0
  variant: ArchVariant;
}

export const DEFAULT_CUDA_ARCHS = 'sm_80,sm_90a';
/** llmc's kernels use Ampere features (bf16 tensor cores, cp.async): nothing older. */
export const MIN_CUDA_SM = 80;
const VALID_FORMS = 'sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_100f, sm_103, sm_120 ...';
const ARCH = /^sm_(\d{2,3})([af]?)$/;

/** "sm_80,sm_90a" -> sorted, de-duplicated architectures; BAD_ARGUMENT naming the bad item and the valid forms. */
export function parseCudaArchs(spec: string): CudaArch[] {
  const items = spec.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) fail('BAD_ARGUMENT', '--cuda-arch is empty', `list GPU architectures, e.g. --cuda-arch ${DEFAULT_CUDA_ARCHS} (valid forms: ${VALID_FORMS})`);
  const byName = new Map<string, CudaArch>();
  for (const item of items) {
    const m = ARCH.exec(item);
    if (!m) {
      fail('BAD_ARGUMENT', `--cuda-arch ${item} is not a GPU architecture`,
        `use comma-separated sm_XY names with an optional a/f suffix (valid forms: ${VALID_FORMS})`);
    }
    const num = Number(m[1]);
    if (num < MIN_CUDA_SM) {
      fail('BAD_ARGUMENT', `--cuda-arch ${item}: llmc's CUDA kernels need sm_${MIN_CUDA_SM} (Ampere) or newer`, `valid forms: ${VALID_FORMS}`);
    }
    byName.set(item, { name: item, major: Math.floor(num / 10), minor: num % 10, variant: m[2] as ArchVariant });
  }
  return [...byName.values()].sort((a, b) => archNumber(a) - archNumber(b) || a.variant.localeCompare(b.variant));
}

export function archNumber(a: Pick<CudaArch, 'major' | 'minor'>): number {
  return a.major * 10 + a.minor;
}

/** PTX of the lowest architecture, without the a/f suffix (suffixed PTX only JITs on that exact GPU/family). */
export function ptxTarget(archs: readonly CudaArch[]): string {
  return `compute_${Math.min(...archs.map(archNumber))}`;
}

/** nvcc -gencode flags: SASS for every architecture, plus the PTX. */
export function gencodeFlags(archs: readonly CudaArch[]): string[] {
  const flags: string[] = [];
  for (const a of archs) flags.push('-gencode', `arch=compute_${archNumber(a)}${a.variant},code=${a.name}`);
  const ptx = ptxTarget(archs);
  flags.push('-gencode', `arch=${ptx},code=${ptx}`);
  return flags;
}
