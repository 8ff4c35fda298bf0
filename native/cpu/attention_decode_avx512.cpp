// AVX-512 decode attention: attention_decode.cpp's per-token kernel (the q heads of one kv group walk the
// sequence's block runs together, next run prefetched, online softmax) with 16-lane vectors: q . k for 4 keys per
// pass over head_dim, one masked exp over the run's scores, p-weighted V rows 4 at a time, head_dim tails by masks.
// Reached only when simd_level() >= Simd::avx512.
#include <cmath>
#include <limits>

#include "attention_avx512.h"
#include "attention_internal.h"

namespace llmc::cpu::attn {
namespace {

using avx512::exp16;
using avx512::first_lanes;

// s[0..4) = q . k_j for the 4 rows k, k + hd, ...
LLMC_AVX512_ATTN inline void dot4(const float* q, const float* k, int32_t hd, float* s) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int32_t d = 0; d < hd; d += 16) {
    const __mmask16 m = first_lanes(hd - d);
    const __m512 qv = _mm512_maskz_loadu_ps(m, q + d);
    a0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + d), a0);
    a1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + hd + d), a1);
    a2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + 2 * hd + d), a2);
    a3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + 3 * hd + d), a3);
  }
  s[0] = _mm512_reduce_add_ps(a0);
  s[1] = _mm512_reduce_add_ps(a1);
  s[2] = _mm512_reduce_add_ps(a2);
  s[3] = _mm512_reduce_add_ps(a3);
}

LLMC_AVX512_ATTN inline float dot1(const float* q, const float* k, int32_t hd) {
  __m512 acc = _mm512_setzero_ps();
  for (int32_t d = 0; d < hd; d += 16) {
    const __mmask16 m = first_lanes(hd - d);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), _mm512_maskz_loadu_ps(m, k + d), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// o = o * keep + sum_i p[i] v[i] over `count` rows of v, four rows per pass over o.
LLMC_AVX512_ATTN inline void rescale_add_rows(float* o, float keep, const float* p, const float* v, int32_t count, int32_t hd) {
  const __m512 vk = _mm512_set1_ps(keep);
  for (int32_t d = 0; d < hd; d += 16) {
    const __mmask16 m = first_lanes(hd - d);
    __m512 acc = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, o + d), vk);
    int32_t i = 0;
    for (; i + 4 <= count; i += 4) {
      const float* v0 = v + int64_t(i) * hd + d;
      acc = _mm512_fmadd_ps(_mm512_set1_ps(p[i]), _mm512_maskz_loadu_ps(m, v0), acc);
      acc = _mm512_fmadd_ps(_mm512_set1_ps(p[i + 1]), _mm512_maskz_loadu_ps(m, v0 + hd), acc);
      acc = _mm512_fmadd_ps(_mm512_set1_ps(p[i + 2]), _mm512_maskz_loadu_ps(m, v0 + 2 * hd), acc);
      acc = _mm512_fmadd_ps(_mm512_set1_ps(p[i + 3]), _mm512_maskz_loadu_ps(m, v0 + 3 * hd), acc);
    }
    for (; i < count; ++i) acc = _mm512_fmadd_ps(_mm512_set1_ps(p[i]), _mm512_maskz_loadu_ps(m, v + int64_t(i) * hd + d), acc);
    _mm512_mask_storeu_ps(o + d, m, acc);
  }
}

}  // namespace

LLMC_AVX512_ATTN void attend_group_avx512(const AttentionArgs& a, int64_t r, int32_t h0, int32_t h1, float* scores,
                                         float* o, float* kbuf, float* vbuf) {
  const Cache c{a};
  const int32_t hd = a.head_dim, pos = a.positions[r], heads = h1 - h0;
  const int32_t kv_head = h0 / (a.num_heads / a.num_kv_heads);
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  float m[kMaxGroup], l[kMaxGroup];
  for (int32_t g = 0; g < heads; ++g) {
    m[g] = -std::numeric_limits<float>::infinity();
    l[g] = 0.0f;
  }
  std::fill(o, o + int64_t(heads) * hd, 0.0f);
  for (int32_t j = first_key(a, pos); j <= pos;) {
    const KvRun run = c.run_at(a.seq_of_token[r], kv_head, j, pos);
    j += run.count;
    if (j <= pos) prefetch_run(c.run_at(a.seq_of_token[r], kv_head, j, pos), c.row_bytes);
    const F32Run f = widen(a, run, kbuf, vbuf);  // once per run for every head of the group
    for (int32_t g = 0; g < heads; ++g) {
      const int32_t h = h0 + g;
      const float* q = a.q + (r * a.num_heads + h) * hd;  // [head_dim]
      float* og = o + int64_t(g) * hd;
      const float slope = a.alibi_slopes ? a.alibi_slopes[h] : 0.0f;
      int32_t i = 0;
      for (; i + 4 <= run.count; i += 4) dot4(q, f.k + int64_t(i) * hd, hd, scores + i);
      for (; i < run.count; ++i) scores[i] = dot1(q, f.k + int64_t(i) * hd, hd);
      float run_max = -std::numeric_limits<float>::infinity();
      for (i = 0; i < run.count; ++i) {
        scores[i] *= a.scale;
        if (a.alibi_slopes) scores[i] += slope * float(run.first + i);
        run_max = std::max(run_max, scores[i]);
      }
      float keep = 1.0f;
      if (run_max > m[g]) {
        keep = std::exp(m[g] - run_max);  // 0 on the first run (m = -inf)
        l[g] *= keep;
        m[g] = run_max;
      }
      // scores <- exp(scores - m), summed into l (lanes past the run read -inf: e^-inf = 0)
      const __m512 vm = _mm512_set1_ps(m[g]);
      __m512 vl = _mm512_setzero_ps();
      for (i = 0; i < run.count; i += 16) {
        const __mmask16 lanes = first_lanes(run.count - i);
        const __m512 p = exp16(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, lanes, scores + i), vm));
        _mm512_mask_storeu_ps(scores + i, lanes, p);
        vl = _mm512_add_ps(vl, p);
      }
      l[g] += _mm512_reduce_add_ps(vl);
      rescale_add_rows(og, keep, scores, f.v, run.count, hd);
    }
  }
  for (int32_t g = 0; g < heads; ++g) {
    const float* og = o + int64_t(g) * hd;
    float* out = a.out + (r * a.num_heads + h0 + g) * hd;
    const __m512 inv = _mm512_set1_ps(1.0f / l[g]);
    for (int32_t d = 0; d < hd; d += 16) {
      const __mmask16 lanes = first_lanes(hd - d);
      _mm512_mask_storeu_ps(out + d, lanes, _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, og + d), inv));
    }
  }
}

}  // namespace llmc::cpu::attn
