// Batched decode GEMV on AVX-512: 2..8 tokens (one per sequence decoding together) against one thread's weight rows
// [j0, j1), every weight row read from memory and widened once for all tokens. A tile is all NT tokens x NR weight
// rows (NR = 4 up to 4 tokens, 2 beyond: NT * NR <= 16 accumulators); the tokens' activations are re-read from L1
// as FMA memory operands, so only the NR weight vectors occupy registers besides the sums. With the weights read
// once per step, 8 sequences cost one weight stream plus 8x the (cheap, L1-resident) activation traffic.
#include <algorithm>

#include "avx512.h"
#include "linear_paths.h"

namespace llmc::cpu::linear_path {
namespace {

template <DType WT>
LLMC_AVX512 inline __m512 load_w(const void* w, int64_t i, int64_t n) {
  return avx512::load16(w, WT, i, n);
}

// Rows r < NR of the tile are w + r * w_stride (bytes) and land in y[t * out + r * y_stride].
template <DType WT, int NT, int NR>
LLMC_AVX512 void tile(const float* x, int64_t in, const char* w, size_t w_stride, float* y, int64_t out, int64_t y_stride) {
  __m512 acc[NT][NR];
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) acc[t][r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < in; k += 16) {
    const int64_t n = std::min<int64_t>(16, in - k);
    const __mmask16 m = avx512::first_lanes(n);
    __m512 wv[NR];
    for (int r = 0; r < NR; ++r) wv[r] = load_w<WT>(w + r * w_stride, k, n);
    for (int t = 0; t < NT; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + t * in + k);
      for (int r = 0; r < NR; ++r) acc[t][r] = _mm512_fmadd_ps(xv, wv[r], acc[t][r]);
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) y[t * out + r * y_stride] = _mm512_reduce_add_ps(acc[t][r]);
}

template <DType WT, int NT>
LLMC_AVX512 void rows_nt(const float* x, int64_t in, const void* w, int64_t out, int64_t j0, int64_t j1, float* y) {
  constexpr int NR = 4;
  constexpr int NA = NT <= 4 ? NT : 4;  // tokens of the first pass over a row group; the rest take a second pass
  constexpr int NB = NT - NA;           // (the group's 4 rows, <= 16 KiB, are then still in L1)
  const size_t row_bytes = size_t(in) * dtype_size(WT);
  const char* wb = static_cast<const char*>(w);
  // As the AVX2 GEMV does: the rows are cut into kStreams sub-ranges of L rows and step i takes row i of each, so
  // the weights are read as kStreams long sequential streams (what the hardware prefetchers follow best).
  constexpr int64_t kStreams = 8;
  const int64_t L = (j1 - j0) / kStreams;
  for (int64_t i = 0; i < L; ++i)
    for (int64_t s = 0; s < kStreams; s += NR)
    {
      const char* wr = wb + size_t(j0 + s * L + i) * row_bytes;
      tile<WT, NA, NR>(x, in, wr, size_t(L) * row_bytes, y + j0 + s * L + i, out, L);
      if constexpr (NB > 0) tile<WT, NB, NR>(x + NA * in, in, wr, size_t(L) * row_bytes, y + NA * out + j0 + s * L + i, out, L);
    }
  for (int64_t j = j0 + kStreams * L; j < j1; ++j) {
    tile<WT, NA, 1>(x, in, wb + size_t(j) * row_bytes, row_bytes, y + j, out, 1);
    if constexpr (NB > 0) tile<WT, NB, 1>(x + NA * in, in, wb + size_t(j) * row_bytes, row_bytes, y + NA * out + j, out, 1);
  }
}

template <DType WT>
void gemv_typed(const float* x, int64_t rows, int64_t in, const void* w, int64_t out, int64_t j0, int64_t j1, float* y) {
  switch (rows) {
    case 1: rows_nt<WT, 1>(x, in, w, out, j0, j1, y); break;
    case 2: rows_nt<WT, 2>(x, in, w, out, j0, j1, y); break;
    case 3: rows_nt<WT, 3>(x, in, w, out, j0, j1, y); break;
    case 4: rows_nt<WT, 4>(x, in, w, out, j0, j1, y); break;
    case 5: rows_nt<WT, 5>(x, in, w, out, j0, j1, y); break;
    case 6: rows_nt<WT, 6>(x, in, w, out, j0, j1, y); break;
    case 7: rows_nt<WT, 7>(x, in, w, out, j0, j1, y); break;
    default: rows_nt<WT, 8>(x, in, w, out, j0, j1, y); break;
  }
}

}  // namespace

void gemv_avx512(const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out, int64_t j0,
                 int64_t j1, float* y) {
  switch (wt) {
    case DType::f16: gemv_typed<DType::f16>(x, rows, in, w, out, j0, j1, y); break;
    case DType::bf16: gemv_typed<DType::bf16>(x, rows, in, w, out, j0, j1, y); break;
    default: gemv_typed<DType::f32>(x, rows, in, w, out, j0, j1, y);
  }
}

}  // namespace llmc::cpu::linear_path
