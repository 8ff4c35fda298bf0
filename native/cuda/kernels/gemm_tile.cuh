// The tiled SIMT GEMM core of prefill, shared by linear_gemm.cu (f32/f16/bf16 weights) and linear_quant.cu
// (i8/u4/f8e4m3 codes dequantized while the tile is loaded):
//   acc[M, N] = A[M, K] . B[N, K]^T over the k range of this block's split, f32 accumulation, no TF32.
//
// Block tile BM x BM, K in steps of kGemmBK (16). Each of the 256 threads loads E = BM*16/256 (8 or 4) consecutive k
// of one A row and of one B row through the loaders (which widen or dequantize to f32), and stores both transposed
// into shared memory ([16][BM + 4]). The next k-tile is fetched into registers while the current one is multiplied
// (register prefetch). Threads form a 16x16 grid; each owns TM x TN = (BM/16) x (BM/16) outputs: rows ty*TM..,
// columns tx*4 + 64*c.. (c < TN/4, the split keeps the shared-memory reads of a quarter-warp on distinct banks).
// The store functor gets every in-range (m, n, value).
//
// Loaders: `template <int E> void load(int64_t row, bool row_ok, int k, int k_end, float* out) const` writes
// elements [k, k + E) of `row` as f32, zero past k_end or when !row_ok.
#pragma once
#include "common.cuh"

namespace llmc_gemm_tile {

using namespace llmc_dev;

// E consecutive elements [k, k + E) of row `row` of a [rows, K] float matrix of dtype DT as f32; zero past k_end or
// past the last row. vec: K % 8 == 0 and the base 16-byte aligned (vector loads).
template <int DT, int E>
LLMC_DEVICE void load_float_chunk(const void* base, int64_t row, bool row_ok, int64_t K, int k, int k_end, bool vec,
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

// Rows of a float matrix [rows, K] of dtype DT (the activations x, or float weights).
template <int DT>
struct FloatRows {
  const void* base;
  int64_t K;
  bool vec;
  template <int E>
  LLMC_DEVICE void load(int64_t row, bool row_ok, int k, int k_end, float* out) const {
    load_float_chunk<DT, E>(base, row, row_ok, K, k, k_end, vec, out);
  }
};

// Writes acc (+ bias[n] when bias is set) to dst[m * N + n]; dst is y, or split z's slice of the workspace.
struct StoreRows {
  float* dst;
  const void* bias;  // [N] of bias_dtype, or null
  int32_t bias_dtype;
  int32_t N;
  LLMC_DEVICE void operator()(int m, int n, float v) const {
    dst[int64_t(m) * N + n] = bias != nullptr ? v + load_weight(bias, bias_dtype, n) : v;
  }
};

// One BM x BM output tile (blockIdx.x: column tile, blockIdx.y: row tile, blockIdx.z: k split of k_per_split).
template <int BM, class LoadA, class LoadB, class Store>
LLMC_DEVICE void gemm_tile(const LoadA& load_a, const LoadB& load_b, const Store& store, int M, int N, int K,
                           int k_per_split) {
  constexpr int BN = BM, BK = kGemmBK, NT = kGemmThreads;
  constexpr int TM = BM / 16, TN = BN / 16;  // outputs per thread
  constexpr int E = BM * BK / NT;            // elements each thread loads per k-tile (8 or 4)
  constexpr int LPR = BK / E;                // loader threads per row
  constexpr int AS = BM + 4, BS = BN + 4;
  __shared__ __align__(16) float As[BK * AS];  // [BK][BM + 4]: A tile, transposed
  __shared__ __align__(16) float Bs[BK * BS];  // [BK][BN + 4]: B tile, transposed

  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int kz0 = blockIdx.z * k_per_split;
  const int kz1 = imin(K, kz0 + k_per_split);
  const int lrow = tid / LPR, lk = (tid % LPR) * E;
  const int64_t am = m0 + lrow, bn = n0 + lrow;

  float ra[E], rb[E];
  auto fetch = [&](int k0) {
    load_a.template load<E>(am, am < M, k0 + lk, kz1, ra);
    load_b.template load<E>(bn, bn < N, k0 + lk, kz1, rb);
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

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + ty * TM + i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + 64 * (j / 4) + tx * 4 + (j % 4);
      if (n >= N) continue;
      store(m, n, acc[i][j]);
    }
  }
}

}  // namespace llmc_gemm_tile
