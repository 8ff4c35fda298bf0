// GEMV for decode: y[rows, out] = x[rows, in] . w[out, in]^T + bias, rows = 1..8. Memory-bound: every weight byte
// is read exactly once per call, so the kernel is built around the weight stream.
//
// Each warp owns 4 consecutive output features (weight rows). Its lanes walk the 4 rows together in 16-byte vectors
// (4 f32 or 8 f16/bf16 weights per load, read-only path without L1 allocation), widen them to f32 and multiply with
// the matching x chunks of all R rows (x is tiny and stays in L1/L2), so every x load serves 4 weight rows.
// Accumulation is f32 per lane; the 4 x R partial sums are then reduced across the warp with a butterfly that
// leaves value k on lane k (31 shuffles for 32 values instead of 5 per value).
//
//   llmc_gemv_<f32|f16|bf16>_r<R>   in % (16 / sizeof(w)) == 0, x/w 16-byte aligned (the launcher checks)
//     grid: ceil(out / 16)   block: kGemvThreads (128 = 4 warps x 4 outputs)
//   llmc_gemv_generic               any shape, dtype and alignment: one warp per output, scalar loads
//     grid: ceil(out / 4)    block: 128
//
// Target: >= 85 % of measured DRAM bandwidth on H100 for the weight matrices of a 7B model (cuda_backend_ops --perf
// reports GB/s per shape). Later: an f16-activation variant and split-K for matrices with few rows (< 2 waves).
#include "common.cuh"

namespace llmc_gemv {

using namespace llmc_dev;

template <int DT, int R>
LLMC_DEVICE void run(const GemvParams& p) {
  using W = WeightType<DT>;
  constexpr int E = W::kElems, NO = kGemvOutPerWarp, NV = NO * R;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int o0 = (blockIdx.x * (kGemvThreads / 32) + warp) * NO;
  if (o0 >= p.out) return;  // whole warp
  const int64_t in = p.in;
  const int nvec = p.in / E;
  const char* wrow[NO];
#pragma unroll
  for (int i = 0; i < NO; ++i) wrow[i] = static_cast<const char*>(p.w) + int64_t(imin(o0 + i, p.out - 1)) * in * W::kBytes;

  float acc[NO][R];
#pragma unroll
  for (int i = 0; i < NO; ++i)
#pragma unroll
    for (int r = 0; r < R; ++r) acc[i][r] = 0.0f;

#pragma unroll 2
  for (int v = lane; v < nvec; v += 32) {
    uint4 wv[NO];
#pragma unroll
    for (int i = 0; i < NO; ++i) wv[i] = load_stream16(wrow[i] + int64_t(v) * 16);
    float wf[NO][E];
#pragma unroll
    for (int i = 0; i < NO; ++i) W::widen(wv[i], wf[i]);
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const float* xr = p.x + r * in + int64_t(v) * E;
      float xv[E];
#pragma unroll
      for (int e = 0; e < E; e += 4) {
        const float4 t = load_f4(xr + e);
        xv[e] = t.x;
        xv[e + 1] = t.y;
        xv[e + 2] = t.z;
        xv[e + 3] = t.w;
      }
#pragma unroll
      for (int i = 0; i < NO; ++i)
#pragma unroll
        for (int e = 0; e < E; ++e) acc[i][r] += wf[i][e] * xv[e];
    }
  }

  // Reduce: value k = acc[k / R][k % R] ends on lane k.
  float mine = warp_sums_to_lanes<NV>(&acc[0][0]);
  if (lane < NV) {
    const int i = lane / R, r = lane % R, o = o0 + i;
    if (o < p.out) {
      if (p.bias != nullptr) mine += W::load1(p.bias, o);
      p.y[int64_t(r) * p.out + o] = mine;
    }
  }
}


#define LLMC_GEMV(dt, DT, R)                                                                        \
  LLMC_KERNEL void __launch_bounds__(kGemvThreads) llmc_gemv_##dt##_r##R(const llmc::kabi::GemvParams p) { \
    llmc_gemv::run<llmc::kabi::DT, R>(p);                                                           \
  }
#define LLMC_GEMV_ROWS(dt, DT) \
  LLMC_GEMV(dt, DT, 1)         \
  LLMC_GEMV(dt, DT, 2)         \
  LLMC_GEMV(dt, DT, 3)         \
  LLMC_GEMV(dt, DT, 4)         \
  LLMC_GEMV(dt, DT, 5)         \
  LLMC_GEMV(dt, DT, 6)         \
  LLMC_GEMV(dt, DT, 7)         \
  LLMC_GEMV(dt, DT, 8)

LLMC_GEMV_ROWS(f32, kF32)
LLMC_GEMV_ROWS(f16, kF16)
LLMC_GEMV_ROWS(bf16, kBF16)

#undef LLMC_GEMV_ROWS
#undef LLMC_GEMV

LLMC_KERNEL void __launch_bounds__(128) llmc_gemv_generic(const llmc::kabi::GemvParams p) {
  using namespace llmc_dev;
  const int lane = threadIdx.x & 31;
  const int o = blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5);
  if (o >= p.out) return;
  const int64_t in = p.in;
  for (int r = 0; r < p.rows; ++r) {
    const float* x = p.x + r * in;
    float s = 0.0f;
    for (int64_t k = lane; k < in; k += 32) s += x[k] * load_weight(p.w, p.dtype, int64_t(o) * in + k);
    s = warp_sum(s);
    if (lane == 0) p.y[int64_t(r) * p.out + o] = p.bias != nullptr ? s + load_weight(p.bias, p.dtype, o) : s;
  }
}

}  // namespace llmc_gemv
