// llmc_kv_write: stores each token's k and v rows into its sequence's paged KV-cache block (layout: kernel_abi.h
// KvLayer, the CPU backend's). Runs before the attention kernels of the same layer, which read only the cache.
//   k, v: [rows, num_kv_heads * head_dim]   grid: rows   block: kRowThreads
#include "common.cuh"

namespace llmc_kv_cache_k {

using namespace llmc_dev;

LLMC_KERNEL void __launch_bounds__(kRowThreads) llmc_kv_write(const KvWriteParams p) {
  const int64_t r = blockIdx.x;
  const int seq = p.seq_of_token[r];
  if (seq < 0) return;
  const int pos = p.positions[r];
  const int32_t* table = p.block_tables + int64_t(seq) * p.max_blocks_per_seq;
  const int hd = p.kv.head_dim;
  const int64_t row_width = int64_t(p.kv.num_kv_heads) * hd;
  const int64_t voff = kv_v_offset(p.kv);
  for (int idx = threadIdx.x; idx < row_width; idx += blockDim.x) {
    const int h = idx / hd, d = idx % hd;
    float* k_dst = kv_k_row(p.kv, table, pos, h);
    k_dst[d] = p.k[r * row_width + idx];
    k_dst[voff + d] = p.v[r * row_width + idx];
  }
}

}  // namespace llmc_kv_cache_k
