// AVX-512 micro-kernels of the prefill attention tile (attention_prefill.cpp): a key tile of kTileK = 16 keys is one
// 16-lane vector. scores: 8 query vectors x 16 keys in 8 accumulators (one K^T row load per 8 FMAs); softmax: one
// vector per query vector, masks from lane compares; pv: 2 query vectors x 64 output columns in 8 accumulators,
// head_dim tails by masked loads. Reached only when simd_level() >= Simd::avx512 (AVX-512 F/BW/VL present).
#include <cmath>
#include <limits>

#include "attention_avx512.h"
#include "attention_internal.h"

namespace llmc::cpu::attn {
namespace {

using avx512::exp16;
using avx512::first_lanes;

template <int NR>
LLMC_AVX512_ATTN inline void scores_rows(const float* Q, int32_t hd, const float* Kt, float* S) {
  __m512 acc[NR];
  for (int r = 0; r < NR; ++r) acc[r] = _mm512_setzero_ps();
  for (int32_t d = 0; d < hd; ++d) {
    const __m512 k = _mm512_loadu_ps(Kt + int64_t(d) * kTileK);
    for (int r = 0; r < NR; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(Q[int64_t(r) * hd + d]), k, acc[r]);
  }
  for (int r = 0; r < NR; ++r) _mm512_storeu_ps(S + r * kTileK, acc[r]);
}

LLMC_AVX512_ATTN void scores_avx512(const float* Q, int32_t R, int32_t hd, const float* Kt, float* S) {
  int32_t i = 0;
  for (; i + 8 <= R; i += 8) scores_rows<8>(Q + int64_t(i) * hd, hd, Kt, S + int64_t(i) * kTileK);
  for (; i + 4 <= R; i += 4) scores_rows<4>(Q + int64_t(i) * hd, hd, Kt, S + int64_t(i) * kTileK);
  for (; i < R; ++i) scores_rows<1>(Q + int64_t(i) * hd, hd, Kt, S + int64_t(i) * kTileK);
}

LLMC_AVX512_ATTN void softmax_avx512(float* S, const SoftmaxTile& t, float* m, float* l, float* corr) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i j = _mm512_add_epi32(_mm512_set1_epi32(t.key0), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  const __m512 jf = _mm512_cvtepi32_ps(j);
  const __mmask16 in_tile = first_lanes(t.count);
  const __m512 vscale = _mm512_set1_ps(t.scale);
  for (int32_t i = 0; i < t.R; ++i) {
    float* s = S + int64_t(i) * kTileK;
    const __mmask16 ok = in_tile & _mm512_cmp_epi32_mask(j, _mm512_set1_epi32(t.lo[i]), _MM_CMPINT_NLT) &
                         _mm512_cmp_epi32_mask(j, _mm512_set1_epi32(t.hi[i]), _MM_CMPINT_LE);
    if (ok == 0) {  // no key of this tile is visible to row i
      corr[i] = 1.0f;
      _mm512_storeu_ps(s, _mm512_setzero_ps());
      continue;
    }
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(s), vscale);
    if (t.slope) v = _mm512_add_ps(v, _mm512_mul_ps(_mm512_set1_ps(t.slope[i]), jf));
    v = _mm512_mask_blend_ps(ok, ninf, v);
    const float mx = _mm512_reduce_max_ps(v);
    const float m_new = std::max(m[i], mx);
    corr[i] = std::exp(m[i] - m_new);
    m[i] = m_new;
    const __m512 p = exp16(_mm512_sub_ps(v, _mm512_set1_ps(m_new)));
    _mm512_storeu_ps(s, p);
    l[i] = l[i] * corr[i] + _mm512_reduce_add_ps(p);
  }
}

// Rows [i, i + NR) of O, columns [d0, d0 + 16 * NV), the last vector masked to `tail` lanes.
template <int NR, int NV>
LLMC_AVX512_ATTN inline void pv_block(const float* P, int32_t i, int32_t count, const float* V, int32_t hd, int32_t d0,
                                      __mmask16 tail, float* O, const float* corr) {
  __m512 acc[NR][NV];
  auto mask = [&](int v) { return v == NV - 1 ? tail : __mmask16(0xffff); };
  for (int r = 0; r < NR; ++r) {
    const __m512 c = _mm512_set1_ps(corr[i + r]);
    for (int v = 0; v < NV; ++v)
      acc[r][v] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask(v), O + int64_t(i + r) * hd + d0 + 16 * v), c);
  }
  for (int32_t k = 0; k < count; ++k) {
    const float* vr = V + int64_t(k) * hd + d0;
    __m512 vv[NV];
    for (int v = 0; v < NV; ++v) vv[v] = _mm512_maskz_loadu_ps(mask(v), vr + 16 * v);
    for (int r = 0; r < NR; ++r) {
      const __m512 p = _mm512_set1_ps(P[int64_t(i + r) * kTileK + k]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(p, vv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(O + int64_t(i + r) * hd + d0 + 16 * v, mask(v), acc[r][v]);
}

template <int NR>
LLMC_AVX512_ATTN inline void pv_rows(const float* P, int32_t i, int32_t count, const float* V, int32_t hd, float* O,
                                     const float* corr) {
  int32_t d = 0;
  for (; d + 64 <= hd; d += 64) pv_block<NR, 4>(P, i, count, V, hd, d, 0xffff, O, corr);
  for (; d < hd; d += 16) pv_block<NR, 1>(P, i, count, V, hd, d, first_lanes(hd - d), O, corr);
}

LLMC_AVX512_ATTN void pv_avx512(const float* P, int32_t R, int32_t count, const float* V, int32_t hd, float* O,
                                const float* corr) {
  int32_t i = 0;
  for (; i + 2 <= R; i += 2) pv_rows<2>(P, i, count, V, hd, O, corr);
  for (; i < R; ++i) pv_rows<1>(P, i, count, V, hd, O, corr);
}

const TileKernels kAvx512{tile_transpose_avx2, scores_avx512, softmax_avx512, pv_avx512};

}  // namespace

const TileKernels& tile_kernels_avx512() { return kAvx512; }

}  // namespace llmc::cpu::attn
