// Tiled SIMT GEMM for prefill (rows > 8) when cuBLASLt is absent (always for f16/bf16 weights: activations are f32):
//   y[M, N] = x[M, K] . w[N, K]^T + bias,   f32 accumulation, no TF32.
//
// The tile loop is gemm_tile.cuh's (shared with the quantized GEMM of linear_quant.cu): block tile BM x BN (128x128
// for large M, 64x64 for 9..127 rows), K in steps of 16, x and w rows loaded with 16-byte vector loads when K % 8 == 0
// and the bases are aligned (else bounds-checked scalars), w widened to f32, both stored transposed in shared memory,
// register prefetch of the next k-tile, TM x TN outputs per thread.
//
// Split-K (few output tiles: decode batches of 9..64, small prefills): grid.z = splits; split z sums k in
// [z * k_per_split, ...) into workspace[z] and llmc_gemm_splitk_reduce adds the splits and the bias.
//   grid: (ceil(N / BN), ceil(M / BM), splits)   block: kGemmThreads (256)
// Later: an f16/bf16-activation path on tensor cores (mma.sync on sm_80, wgmma on sm_90a) with cp.async /
// TMA pipelines, which is where prefill throughput really comes from.
#include "gemm_tile.cuh"

namespace llmc_gemm {

using namespace llmc_dev;

template <int DT, int BM>
LLMC_DEVICE void run(const GemmParams& p) {
  using llmc_gemm_tile::FloatRows;
  const bool vec = (p.K % 8) == 0 && aligned16(p.x) && aligned16(p.w);
  const FloatRows<kF32> a{p.x, p.K, vec};
  const FloatRows<DT> b{p.w, p.K, vec};
  // Split z writes its partial sums to workspace[z]; the reduce kernel adds the splits and the bias.
  const llmc_gemm_tile::StoreRows store{p.splits > 1 ? p.workspace + int64_t(blockIdx.z) * p.M * p.N : p.y,
                                        p.splits > 1 ? nullptr : p.bias, DT, p.N};
  llmc_gemm_tile::gemm_tile<BM>(a, b, store, p.M, p.N, p.K, p.k_per_split);
}

#define LLMC_GEMM(dt, DT, B)                                                                                 \
  LLMC_KERNEL void __launch_bounds__(kGemmThreads) llmc_gemm_##dt##_##B##x##B(const llmc::kabi::GemmParams p) { \
    llmc_gemm::run<llmc::kabi::DT, B>(p);                                                                 \
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
