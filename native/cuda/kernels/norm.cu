// rms_norm and layer_norm: one block per row, warp-shuffle + shared-memory block reductions in f32.
//
//   llmc_rms_norm    out = (x * inv) * (w + weight_offset),  inv = 1 / sqrt(mean(x^2) + eps)
//   llmc_layer_norm  out = (x - mean) * inv * w (+ b),       inv = 1 / sqrt(mean((x - mean)^2) + eps)
//                    (two passes, biased variance)           grid: rows   block: kRowThreads
//
// The rounding order of the final products follows the CPU reference (native/cpu/norm.cpp); only the order of the
// sums differs.
#include "common.cuh"

namespace llmc_norm_k {

using namespace llmc_dev;

LLMC_KERNEL void __launch_bounds__(kRowThreads) llmc_rms_norm(const NormParams p) {
  __shared__ float scratch[32];
  const int64_t r = blockIdx.x;
  const float* x = p.x + r * p.width;  // [width]
  float* y = p.out + r * p.width;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x) ss += x[i] * x[i];
  ss = block_sum(ss, scratch);
  const float inv = 1.0f / sqrtf(ss / float(p.width) + p.eps);
  for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x)
    y[i] = (x[i] * inv) * (load_weight(p.weight, p.dtype, i) + p.weight_offset);
}

LLMC_KERNEL void __launch_bounds__(kRowThreads) llmc_layer_norm(const NormParams p) {
  __shared__ float scratch[32];
  const int64_t r = blockIdx.x;
  const float* x = p.x + r * p.width;  // [width]
  float* y = p.out + r * p.width;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x) sum += x[i];
  const float mean = block_sum(sum, scratch) / float(p.width);
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x) ss += (x[i] - mean) * (x[i] - mean);
  ss = block_sum(ss, scratch);
  const float inv = 1.0f / sqrtf(ss / float(p.width) + p.eps);
  for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x) {
    const float v = (x[i] - mean) * inv * load_weight(p.weight, p.dtype, i);
    y[i] = p.bias != nullptr ? v + load_weight(p.bias, p.dtype, i) : v;
  }
}

}  // namespace llmc_norm_k
