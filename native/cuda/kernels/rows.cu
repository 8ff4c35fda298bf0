// Row movement: split (column blocks of a fused projection), select_rows (rows wanted by the LM head) and a plain
// 16-byte copy used to measure device bandwidth.
//
//   llmc_split        outs[i][r, :] = x[r, col0 + sum(widths[:i]) : + widths[i]]    grid: rows   block: kRowThreads
//   llmc_select_rows  out[i, :] = x[row_ids[i], :]                                  grid: count  block: kRowThreads
//   llmc_copy         dst[i] = src[i], i < n16 (16-byte words)                      grid-stride
#include "common.cuh"

namespace llmc_rows_k {

using namespace llmc_dev;

LLMC_KERNEL void __launch_bounds__(kRowThreads) llmc_split(const SplitParams p) {
  const int64_t r = blockIdx.x;
  const float* x = p.x + r * p.total + p.col0;  // [sum(widths)]
  int col = 0;
  for (int o = 0; o < p.count; ++o) {
    const int w = p.widths[o];
    float* y = p.outs[o] + r * w;
    for (int i = threadIdx.x; i < w; i += blockDim.x) y[i] = x[col + i];
    col += w;
  }
}

LLMC_KERNEL void __launch_bounds__(kRowThreads) llmc_select_rows(const SelectRowsParams p) {
  const int64_t i = blockIdx.x;
  const float* x = p.x + int64_t(p.row_ids[i]) * p.width;
  float* y = p.out + i * p.width;
  for (int64_t c = threadIdx.x; c < p.width; c += blockDim.x) y[c] = x[c];
}

LLMC_KERNEL void __launch_bounds__(kEltThreads) llmc_copy(const CopyParams p) {
  const uint4* src = static_cast<const uint4*>(p.src);
  uint4* dst = static_cast<uint4*>(p.dst);
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < p.n16; i += stride) dst[i] = load_stream16(src + i);
}

}  // namespace llmc_rows_k
