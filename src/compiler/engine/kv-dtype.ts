// KV cache storage dtypes (llmc build --kv-cache-dtype; docs/kv-cache.md). The table (ids, names, element bytes,
// scales, block padding) is generated from schema/kv-cache-dtypes.json into kv-dtype.generated.ts, as it is for the
// runtime. The plan's kv_cache.dtype names the storage; the runtime (native/cpu/kv_dtype.h kv_block_layout) lays
// blocks out the same way this file counts them:
//   per block and layer: k and v [num_kv_heads, block_size, head_dim] elements, the pair padded to KV_BLOCK_ALIGN
//   bytes, then for int8/fp8 one f32 scale per (token, kv head) for k and for v, padded to KV_BLOCK_ALIGN bytes.
import { fail } from '../../errors.js';
import { DEFAULT_KV_CACHE_DTYPE, KV_BLOCK_ALIGN, KV_CACHE_DTYPES, KV_SCALE_BYTES, type KvCacheDType } from './kv-dtype.generated.js';

export { DEFAULT_KV_CACHE_DTYPE, KV_CACHE_DTYPES, type KvCacheDType, type KvDTypeInfo, type PlanKvDType } from './kv-dtype.generated.js';

export function resolveKvCacheDType(v: string | undefined): KvCacheDType {
  if (v === undefined) return DEFAULT_KV_CACHE_DTYPE;
  if (!(v in KV_CACHE_DTYPES)) fail('BAD_ARGUMENT', `--kv-cache-dtype ${v} is not supported`, `use one of ${Object.keys(KV_CACHE_DTYPES).join(', ')}`);
  return v as KvCacheDType;
}

const alignBlock = (x: number) => Math.ceil(x / KV_BLOCK_ALIGN) * KV_BLOCK_ALIGN;

/** Bytes of one KV block of one layer (the runtime's kv_block_layout(...).block_bytes). */
export function kvBlockBytes(dtype: KvCacheDType, numKvHeads: number, blockSize: number, headDim: number): number {
  const info = KV_CACHE_DTYPES[dtype];
  const rows = numKvHeads * blockSize;
  const data = alignBlock(2 * rows * headDim * info.elemBytes);
  return info.scaled ? alignBlock(data + 2 * rows * KV_SCALE_BYTES) : data;
}
