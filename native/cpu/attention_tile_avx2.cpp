// AVX2 + FMA micro-kernels of the prefill attention tile (attention_prefill.cpp): a key tile of kTileK = 16 keys is
// two 8-lane vectors. scores: 4 query vectors x 16 keys in 8 accumulators, K^T rows loaded once per 4 vectors;
// pv: 2 query vectors x 32 output columns in 8 accumulators, each V row loaded once per 2 vectors.
#include <cmath>
#include <limits>

#include "attention_internal.h"
#include "avx2.h"

namespace llmc::cpu::attn {
namespace {

// 8 x 8 in-register transpose: r[i] holds row i; afterwards r[j] holds column j.
LLMC_AVX2 inline void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);      // r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5]
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);  // r0[2] r1[2] r0[3] r1[3] | ...
  }
  for (int g = 0; g < 2; ++g) {  // rows 4g .. 4g + 3
    s[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);      // column 0 (and 4)
    s[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xee);      // column 1 (and 5)
    s[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);  // column 2 (and 6)
    s[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xee);  // column 3 (and 7)
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x20);
    r[j + 4] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x31);
  }
}

// Kt[hd, 16] = K[count, hd]^T by 8 x 8 blocks; rows past count read as zero, head_dim % 8 columns one by one.
LLMC_AVX2 void transpose_avx2(const float* K, int32_t count, int32_t hd, float* Kt) {
  for (int32_t kb = 0; kb < kTileK; kb += 8) {
    int32_t d = 0;
    for (; d + 8 <= hd; d += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = kb + i < count ? _mm256_loadu_ps(K + int64_t(kb + i) * hd + d) : _mm256_setzero_ps();
      transpose8(r);
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(Kt + int64_t(d + j) * kTileK + kb, r[j]);
    }
    for (; d < hd; ++d)
      for (int32_t i = 0; i < 8; ++i) Kt[int64_t(d) * kTileK + kb + i] = kb + i < count ? K[int64_t(kb + i) * hd + d] : 0.0f;
  }
}

template <int NR>
LLMC_AVX2 inline void scores_rows(const float* Q, int32_t hd, const float* Kt, float* S) {
  __m256 acc[NR][2];
  for (int r = 0; r < NR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int32_t d = 0; d < hd; ++d) {
    const __m256 k0 = _mm256_loadu_ps(Kt + int64_t(d) * kTileK), k1 = _mm256_loadu_ps(Kt + int64_t(d) * kTileK + 8);
    for (int r = 0; r < NR; ++r) {
      const __m256 q = _mm256_broadcast_ss(Q + int64_t(r) * hd + d);
      acc[r][0] = _mm256_fmadd_ps(q, k0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(q, k1, acc[r][1]);
    }
  }
  for (int r = 0; r < NR; ++r) {
    _mm256_storeu_ps(S + r * kTileK, acc[r][0]);
    _mm256_storeu_ps(S + r * kTileK + 8, acc[r][1]);
  }
}

LLMC_AVX2 void scores_avx2(const float* Q, int32_t R, int32_t hd, const float* Kt, float* S) {
  int32_t i = 0;
  for (; i + 4 <= R; i += 4) scores_rows<4>(Q + int64_t(i) * hd, hd, Kt, S + int64_t(i) * kTileK);
  for (; i + 2 <= R; i += 2) scores_rows<2>(Q + int64_t(i) * hd, hd, Kt, S + int64_t(i) * kTileK);
  for (; i < R; ++i) scores_rows<1>(Q + int64_t(i) * hd, hd, Kt, S + int64_t(i) * kTileK);
}

LLMC_AVX2 void softmax_avx2(float* S, const SoftmaxTile& t, float* m, float* l, float* corr) {
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const __m256i iota0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), iota1 = _mm256_add_epi32(iota0, _mm256_set1_epi32(8));
  const __m256i key0 = _mm256_set1_epi32(t.key0), count = _mm256_set1_epi32(t.count);
  const __m256i j0 = _mm256_add_epi32(key0, iota0), j1 = _mm256_add_epi32(key0, iota1);
  const __m256 vscale = _mm256_set1_ps(t.scale);
  for (int32_t i = 0; i < t.R; ++i) {
    float* s = S + int64_t(i) * kTileK;
    // visible: lo <= j <= hi and lane < count   (integer compares: j > lo - 1, hi + 1 > j, count > lane)
    const __m256i lo1 = _mm256_set1_epi32(t.lo[i] - 1), hi1 = _mm256_set1_epi32(t.hi[i] + 1);
    const __m256 ok0 = _mm256_castsi256_ps(_mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi32(j0, lo1), _mm256_cmpgt_epi32(hi1, j0)),
                                                            _mm256_cmpgt_epi32(count, iota0)));
    const __m256 ok1 = _mm256_castsi256_ps(_mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi32(j1, lo1), _mm256_cmpgt_epi32(hi1, j1)),
                                                            _mm256_cmpgt_epi32(count, iota1)));
    __m256 s0 = _mm256_mul_ps(_mm256_loadu_ps(s), vscale), s1 = _mm256_mul_ps(_mm256_loadu_ps(s + 8), vscale);
    if (t.slope) {
      const __m256 sl = _mm256_set1_ps(t.slope[i]);
      s0 = _mm256_add_ps(s0, _mm256_mul_ps(sl, _mm256_cvtepi32_ps(j0)));
      s1 = _mm256_add_ps(s1, _mm256_mul_ps(sl, _mm256_cvtepi32_ps(j1)));
    }
    s0 = _mm256_blendv_ps(ninf, s0, ok0);
    s1 = _mm256_blendv_ps(ninf, s1, ok1);
    const float mx = avx2::hmax(_mm256_max_ps(s0, s1));
    if (mx == -std::numeric_limits<float>::infinity()) {
      corr[i] = 1.0f;
      _mm256_storeu_ps(s, _mm256_setzero_ps());
      _mm256_storeu_ps(s + 8, _mm256_setzero_ps());
      continue;
    }
    const float m_new = std::max(m[i], mx);
    corr[i] = std::exp(m[i] - m_new);
    m[i] = m_new;
    const __m256 vm = _mm256_set1_ps(m_new);
    const __m256 p0 = avx2::exp(_mm256_sub_ps(s0, vm)), p1 = avx2::exp(_mm256_sub_ps(s1, vm));  // e^-inf = 0
    _mm256_storeu_ps(s, p0);
    _mm256_storeu_ps(s + 8, p1);
    l[i] = l[i] * corr[i] + avx2::hsum(_mm256_add_ps(p0, p1));
  }
}

// Rows [i, i + NR) of O, columns [d0, d0 + 8 * NV).
template <int NR, int NV>
LLMC_AVX2 inline void pv_block(const float* P, int32_t i, int32_t count, const float* V, int32_t hd, int32_t d0, float* O,
                               const float* corr) {
  __m256 acc[NR][NV];
  for (int r = 0; r < NR; ++r) {
    const __m256 c = _mm256_set1_ps(corr[i + r]);
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_mul_ps(_mm256_loadu_ps(O + int64_t(i + r) * hd + d0 + 8 * v), c);
  }
  for (int32_t k = 0; k < count; ++k) {
    const float* vr = V + int64_t(k) * hd + d0;
    __m256 vv[NV];
    for (int v = 0; v < NV; ++v) vv[v] = _mm256_loadu_ps(vr + 8 * v);
    for (int r = 0; r < NR; ++r) {
      const __m256 p = _mm256_broadcast_ss(P + int64_t(i + r) * kTileK + k);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(p, vv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(O + int64_t(i + r) * hd + d0 + 8 * v, acc[r][v]);
}

template <int NR>
LLMC_AVX2 inline void pv_rows(const float* P, int32_t i, int32_t count, const float* V, int32_t hd, float* O, const float* corr) {
  int32_t d = 0;
  for (; d + 32 <= hd; d += 32) pv_block<NR, 4>(P, i, count, V, hd, d, O, corr);
  for (; d + 8 <= hd; d += 8) pv_block<NR, 1>(P, i, count, V, hd, d, O, corr);
  for (; d < hd; ++d) {  // head_dim % 8 columns
    for (int r = 0; r < NR; ++r) {
      float o = O[int64_t(i + r) * hd + d] * corr[i + r];
      for (int32_t k = 0; k < count; ++k) o += P[int64_t(i + r) * kTileK + k] * V[int64_t(k) * hd + d];
      O[int64_t(i + r) * hd + d] = o;
    }
  }
}

LLMC_AVX2 void pv_avx2(const float* P, int32_t R, int32_t count, const float* V, int32_t hd, float* O, const float* corr) {
  int32_t i = 0;
  for (; i + 2 <= R; i += 2) pv_rows<2>(P, i, count, V, hd, O, corr);
  for (; i < R; ++i) pv_rows<1>(P, i, count, V, hd, O, corr);
}

const TileKernels kAvx2{transpose_avx2, scores_avx2, softmax_avx2, pv_avx2};

}  // namespace

const TileKernels& tile_kernels_avx2() { return kAvx2; }
void tile_transpose_avx2(const float* K, int32_t count, int32_t hd, float* Kt) { transpose_avx2(K, count, hd, Kt); }

}  // namespace llmc::cpu::attn
