// rope: rotary position embedding, one block per row of x[rows, num_heads * head_dim].
//
// The row's cos/sin table (rotary_dim / 2 angles, angle = float(position) * inv_freq[i] in f32 as HF computes it)
// is built once in shared memory and shared by every head. neox pairs element i with i + rotary_dim/2, gptj pairs
// 2i with 2i+1; (a, b) -> (a cos - b sin, b cos + a sin). Elements past rotary_dim are copied. With a row
// stride (ld) and x == out it rotates the leading heads of a wider row in place: linear_rope, whose linear wrote
// the row (each pair is read and written by one thread, so in place is safe).
//   grid: rows   block: kRowThreads   rotary_dim <= 512 (checked by the launcher)
#include "common.cuh"

namespace llmc_rope_k {

using namespace llmc_dev;

LLMC_KERNEL void __launch_bounds__(kRowThreads) llmc_rope(const RopeParams p) {
  __shared__ float cs[2 * 256];  // cos[0:half] | sin[half:2*half]
  const int64_t r = blockIdx.x;
  const int half = p.rotary_dim / 2;
  const float pos = float(p.positions[r]);
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    const float angle = pos * p.inv_freq[i];
    cs[i] = cosf(angle);
    cs[half + i] = sinf(angle);
  }
  __syncthreads();
  const int64_t ld = p.ld > 0 ? int64_t(p.ld) : int64_t(p.num_heads) * p.head_dim;
  const float* x = p.x + r * ld;  // [num_heads, head_dim] (then, with ld, columns that stay)
  float* y = p.out + r * ld;
  // Rotated pairs: num_heads * half of them.
  for (int idx = threadIdx.x; idx < p.num_heads * half; idx += blockDim.x) {
    const int h = idx / half, i = idx % half;
    const int ia = p.style == kRopeNeox ? i : 2 * i;
    const int ib = p.style == kRopeNeox ? i + half : 2 * i + 1;
    const float* xh = x + int64_t(h) * p.head_dim;
    float* yh = y + int64_t(h) * p.head_dim;
    const float a = xh[ia], b = xh[ib], c = cs[i], s = cs[half + i];
    yh[ia] = a * c - b * s;
    yh[ib] = b * c + a * s;
  }
  // Pass-through tail of each head.
  const int tail = p.head_dim - p.rotary_dim;
  if (tail > 0 && x != y) {
    for (int idx = threadIdx.x; idx < p.num_heads * tail; idx += blockDim.x) {
      const int h = idx / tail, i = p.rotary_dim + idx % tail;
      y[int64_t(h) * p.head_dim + i] = x[int64_t(h) * p.head_dim + i];
    }
  }
}

}  // namespace llmc_rope_k
