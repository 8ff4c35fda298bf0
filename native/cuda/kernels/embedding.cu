// embedding and pos_embedding: one block per token row, threads over the row's columns.
//
//   llmc_embedding      out[r, :] = table[ids[r], :] * scale            grid: rows   block: kRowThreads
//   llmc_pos_embedding  out[r, :] = x[r, :] + table[positions[r] + offset, :]
//
// Table rows are widened from their dtype to f32; ids and positions were validated by the runtime. A negative id
// (embedding_shard's tokens owned by another rank) gives a zero row.
#include "common.cuh"

namespace llmc_embedding_k {

using namespace llmc_dev;

LLMC_KERNEL void __launch_bounds__(kRowThreads) llmc_embedding(const EmbeddingParams p) {
  const int64_t r = blockIdx.x;
  const int64_t row = p.ids[r];
  float* y = p.out + r * p.width;  // [width]
  if (row < 0) {  // embedding_shard: a token outside this rank's rows of the table (all_reduce adds the owner's)
    for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x) y[i] = 0.0f;
    return;
  }
  if (p.dtype == kF32) {
    const float* t = static_cast<const float*>(p.table) + row * p.width;
    for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x) y[i] = t[i] * p.scale;
  } else {
    const uint16_t* t = static_cast<const uint16_t*>(p.table) + row * p.width;
    if (p.dtype == kF16) {
      for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x) y[i] = f16_to_f32(t[i]) * p.scale;
    } else {
      for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x) y[i] = bf16_to_f32(t[i]) * p.scale;
    }
  }
}

LLMC_KERNEL void __launch_bounds__(kRowThreads) llmc_pos_embedding(const PosEmbeddingParams p) {
  const int64_t r = blockIdx.x;
  const int64_t row = int64_t(p.positions[r]) + p.offset;
  const float* x = p.x + r * p.width;  // [width]
  float* y = p.out + r * p.width;
  for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x) y[i] = x[i] + load_weight(p.table, p.dtype, row * p.width + i);
}

}  // namespace llmc_embedding_k
