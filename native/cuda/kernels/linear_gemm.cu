// Tiled SIMT GEMM for prefill (rows > 8) when cuBLASLt is absent (always for f16/bf16 weights: activations are f32):
//   y[M, N] = x[M, K] . w[N, K]^T + bias,   f32 accumulation, no TF32.
//
// Block tile BM x BN (128x128 for large M, 64x64 for 9..127 rows), K in steps of 16. Each of the 256 threads loads
// BM*16/256 consecutive k of one x row and of one w row (16-byte vector loads when K % 8 == 0 and the bases are
// aligned, else bounds-checked scalars), widens w to f32, and stores both transposed into shared memory
// ([16][BM + 4]). The next k-tile is fetched into registers while the current one is multiplied (register
// prefetch). Threads form a 16x16 grid; each owns TM x TN = (BM/16) x (BN/16) outputs: rows ty*TM.., columns
// tx*4 + 64*c.. (c < TN/4, the split keeps the shared-memory reads of a quarter-warp on distinct banks).
//
// Split-K (few output tiles: decode batches of 9..64, small prefills): grid.z = splits; split z sums k in
// [z * k_per_split, ...) into workspace[z] and llmc_gemm_splitk_reduce adds the splits and the bias.
//   grid: (ceil(N / BN), ceil(M / BM), splits)   block: kGemmThreads (256)
// Later: an f16/bf16-activation path on tensor cores (mma.sync on sm_80, wgmma on sm_90a) with cp.async /
// TMA pipelines, which is where prefill throughput really comes from.
#include "common.cuh"

namespace llmc_gemm {

using namespace llmc_dev;

// E consecutive elements [k, k + E) of row `row` of a [rows, K] matrix as f32; zero past k_end or past the last row.
template <int DT, int E>
LLMC_DEVICE void load_chunk(const void* base, int64_t row, bool row_ok, int64_t K, int k, int k_end, bool vec,
                            float* out) {
  using W = WeightType<DT>;
  if (row_ok && vec && k + E <= k_end) {
    const char* p = static_cast<const char*>(base) + (row * K + k) * W::kBytes;
    if (DT == kF32) {
#pragma unroll
      for (int e = 0; e < E; e += 4) {
        const float4 t = load_f4(reinterpret_cast<const float*>(p) + e);
        out[e] = t.x;
        out[e + 1] = t.y;
        out[e + 2] = t.z;
        out[e + 3] = t.w;
      }
    } else if (E == 8) {
      W::widen(*reinterpret_cast<const uint4*>(p), out);
    } else {  // 4 x 16-bit = 8 bytes
      const uint2 t = *reinterpret_cast<const uint2*>(p);
      const uint4 q = make_uint4(t.x, t.y, 0u, 0u);
      float tmp[8];
      W::widen(q, tmp);
#pragma unroll
      for (int e = 0; e < E; ++e) out[e] = tmp[e];
    }
    return;
  }
#pragma unroll
  for (int e = 0; e < E; ++e) out[e] = (row_ok && k + e < k_end) ? W::load1(base, row * K + k + e) : 0.0f;
}

template <int DT, int BM, int BN>
LLMC_DEVICE void run(const GemmParams& p) {
  static_assert(BM == BN, "loaders assume square tiles");
  constexpr int BK = kGemmBK, NT = kGemmThreads;
  constexpr int TM = BM / 16, TN = BN / 16;  // outputs per thread
  constexpr int E = BM * BK / NT;            // elements each thread loads per k-tile (8 or 4)
  constexpr int LPR = BK / E;                // loader threads per row
  constexpr int AS = BM + 4, BS = BN + 4;
  __shared__ __align__(16) float As[BK * AS];  // [BK][BM + 4]: x tile, transposed
  __shared__ __align__(16) float Bs[BK * BS];  // [BK][BN + 4]: w tile, transposed

  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int kz0 = blockIdx.z * p.k_per_split;
  const int kz1 = imin(p.K, kz0 + p.k_per_split);
  const int lrow = tid / LPR, lk = (tid % LPR) * E;
  const bool vec = (p.K % 8) == 0 && aligned16(p.x) && aligned16(p.w);
  const int64_t am = m0 + lrow, bn = n0 + lrow;

  float ra[E], rb[E];
  auto fetch = [&](int k0) {
    load_chunk<kF32, E>(p.x, am, am < p.M, p.K, k0 + lk, kz1, vec, ra);
    load_chunk<DT, E>(p.w, bn, bn < p.N, p.K, k0 + lk, kz1, vec, rb);
  };
  auto stash = [&]() {
#pragma unroll
    for (int e = 0; e < E; ++e) {
      As[(lk + e) * AS + lrow] = ra[e];
      Bs[(lk + e) * BS + lrow] = rb[e];
    }
  };

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  const int nk = kz1 > kz0 ? (kz1 - kz0 + BK - 1) / BK : 0;
  if (nk > 0) {
    fetch(kz0);
    stash();
  }
  __syncthreads();
  for (int t = 0; t < nk; ++t) {
    if (t + 1 < nk) fetch(kz0 + (t + 1) * BK);
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; i += 4) {
        const float4 v = load_f4(As + kk * AS + ty * TM + i);
        a[i] = v.x;
        a[i + 1] = v.y;
        a[i + 2] = v.z;
        a[i + 3] = v.w;
      }
#pragma unroll
      for (int c = 0; c < TN / 4; ++c) {
        const float4 v = load_f4(Bs + kk * BS + 64 * c + tx * 4);
        b[4 * c] = v.x;
        b[4 * c + 1] = v.y;
        b[4 * c + 2] = v.z;
        b[4 * c + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
    if (t + 1 < nk) {
      stash();
      __syncthreads();
    }
  }

  using W = WeightType<DT>;
  float* dst = p.splits > 1 ? p.workspace + int64_t(blockIdx.z) * p.M * p.N : p.y;
  const bool add_bias = p.splits == 1 && p.bias != nullptr;
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + ty * TM + i;
    if (m >= p.M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + 64 * (j / 4) + tx * 4 + (j % 4);
      if (n >= p.N) continue;
      dst[int64_t(m) * p.N + n] = add_bias ? acc[i][j] + W::load1(p.bias, n) : acc[i][j];
    }
  }
}


#define LLMC_GEMM(dt, DT, B)                                                                                 \
  LLMC_KERNEL void __launch_bounds__(kGemmThreads) llmc_gemm_##dt##_##B##x##B(const llmc::kabi::GemmParams p) { \
    llmc_gemm::run<llmc::kabi::DT, B, B>(p);                                                                 \
  }
LLMC_GEMM(f32, kF32, 128)
LLMC_GEMM(f16, kF16, 128)
LLMC_GEMM(bf16, kBF16, 128)
LLMC_GEMM(f32, kF32, 64)
LLMC_GEMM(f16, kF16, 64)
LLMC_GEMM(bf16, kBF16, 64)
#undef LLMC_GEMM

// y[m, n] = sum_z workspace[z, m, n] + bias[n]   grid-stride over M * N, block kEltThreads
LLMC_KERNEL void __launch_bounds__(kEltThreads) llmc_gemm_splitk_reduce(const llmc::kabi::GemmParams p) {
  using namespace llmc_dev;
  const int64_t n = int64_t(p.M) * p.N;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float s = 0.0f;
    for (int z = 0; z < p.splits; ++z) s += p.workspace[int64_t(z) * n + i];
    if (p.bias != nullptr) s += load_weight(p.bias, p.dtype, i % p.N);
    p.y[i] = s;
  }
}

}  // namespace llmc_gemm
