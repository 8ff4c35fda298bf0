// KV cache storage dtypes (llmc build --kv-cache-dtype; docs/kv-cache.md). The plan's kv_cache.dtype names the
// storage; the runtime (native/cpu/kv_dtype.h kv_block_layout) lays blocks out the same way this file counts them:
//   per block and layer: k and v [num_kv_heads, block_size, head_dim] elements, the pair padded to 16 bytes, then
//   for int8/fp8 one f32 scale per (token, kv head) for k and for v, padded to 16 bytes.
import { fail } from '../../errors.js';

export type KvCacheDType = 'float32' | 'float16' | 'bfloat16' | 'int8' | 'fp8';
export type PlanKvDType = 'f32' | 'f16' | 'bf16' | 'i8' | 'f8e4m3';

interface KvDTypeInfo { plan: PlanKvDType; elemBytes: number; scaled: boolean; what: string }

export const KV_CACHE_DTYPES: Record<KvCacheDType, KvDTypeInfo> = {
  float32: { plan: 'f32', elemBytes: 4, scaled: false, what: 'f32' },
  float16: { plan: 'f16', elemBytes: 2, scaled: false, what: 'f16' },
  bfloat16: { plan: 'bf16', elemBytes: 2, scaled: false, what: 'bf16' },
  int8: { plan: 'i8', elemBytes: 1, scaled: true, what: 'int8, one f32 scale per token and kv head' },
  fp8: { plan: 'f8e4m3', elemBytes: 1, scaled: true, what: 'fp8 e4m3, one f32 scale per token and kv head' },
};

export const DEFAULT_KV_CACHE_DTYPE: KvCacheDType = 'float32';

export function resolveKvCacheDType(v: string | undefined): KvCacheDType {
  if (v === undefined) return DEFAULT_KV_CACHE_DTYPE;
  if (!(v in KV_CACHE_DTYPES)) fail('BAD_ARGUMENT', `--kv-cache-dtype ${v} is not supported`, `use one of ${Object.keys(KV_CACHE_DTYPES).join(', ')}`);
  return v as KvCacheDType;
}

const align16 = (x: number) => Math.ceil(x / 16) * 16;

/** Bytes of one KV block of one layer (the runtime's kv_block_layout(...).block_bytes). */
export function kvBlockBytes(dtype: KvCacheDType, numKvHeads: number, blockSize: number, headDim: number): number {
  const info = KV_CACHE_DTYPES[dtype];
  const rows = numKvHeads * blockSize;
  const data = align16(2 * rows * headDim * info.elemBytes);
  return info.scaled ? align16(data + 2 * rows * 4) : data;
}
