// Decode attention: one token's q heads of one kv group against the sequence's keys, one physical block run at a
// time with an online softmax (attention.cpp has the math). The heads of the group are handled inside the loop over
// runs, so each run's K and V come from memory once (GQA/MQA would otherwise read them once per q head), widened to
// f32 once for 16-bit and quantized caches. Scalar reference and AVX2 here; AVX-512 in attention_decode_avx512.cpp.
#include <cmath>
#include <limits>

#include "attention_internal.h"
#include "avx2.h"

namespace llmc::cpu::attn {
namespace {

// ------------------------------------------------------------------------------------------------ scalar

void attend_scalar(const AttentionArgs& a, int64_t r, int32_t h, float* scores, float* o, float* kbuf, float* vbuf) {
  const Cache c{a};
  const int32_t hd = a.head_dim, pos = a.positions[r];
  const int32_t kv_head = h / (a.num_heads / a.num_kv_heads);
  const float* q = a.q + (r * a.num_heads + h) * hd;  // [head_dim]
  const float slope = a.alibi_slopes ? a.alibi_slopes[h] : 0.0f;
  float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
  std::fill(o, o + hd, 0.0f);
  for (int32_t j = first_key(a, pos); j <= pos;) {
    const KvRun run = c.run_at(a.seq_of_token[r], kv_head, j, pos);
    const F32Run f = widen(a, run, kbuf, vbuf);
    j += run.count;
    float run_max = -std::numeric_limits<float>::infinity();
    for (int32_t i = 0; i < run.count; ++i) {
      float s = 0.0f;
      for (int32_t d = 0; d < hd; ++d) s += q[d] * f.k[int64_t(i) * hd + d];
      s *= a.scale;
      if (a.alibi_slopes) s += slope * float(run.first + i);
      scores[i] = s;
      run_max = std::max(run_max, s);
    }
    if (run_max > m) {
      const float corr = std::exp(m - run_max);  // 0 on the first run (m = -inf)
      l *= corr;
      for (int32_t d = 0; d < hd; ++d) o[d] *= corr;
      m = run_max;
    }
    for (int32_t i = 0; i < run.count; ++i) {
      const float p = std::exp(scores[i] - m);
      l += p;
      for (int32_t d = 0; d < hd; ++d) o[d] += p * f.v[int64_t(i) * hd + d];
    }
  }
  float* out = a.out + (r * a.num_heads + h) * hd;
  for (int32_t d = 0; d < hd; ++d) out[d] = o[d] / l;
}

// ------------------------------------------------------------------------------------------------ AVX2

// q . k for 4 keys at once: 4 accumulators, one hadd tree.   q: [hd]   k: 4 rows of stride hd
LLMC_AVX2 inline __m128 dot4(const float* q, const float* k, int32_t hd) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int32_t d = 0;
  for (; d + 8 <= hd; d += 8) {
    const __m256 qv = _mm256_loadu_ps(q + d);
    a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + d), a0);
    a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + hd + d), a1);
    a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + 2 * hd + d), a2);
    a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + 3 * hd + d), a3);
  }
  __m128 s = avx2::hsum4(a0, a1, a2, a3);
  if (d < hd) {
    alignas(16) float t[4] = {0, 0, 0, 0};
    for (; d < hd; ++d)
      for (int j = 0; j < 4; ++j) t[j] += q[d] * k[j * hd + d];
    s = _mm_add_ps(s, _mm_load_ps(t));
  }
  return s;
}

LLMC_AVX2 inline float dot1(const float* q, const float* k, int32_t hd) {
  __m256 acc = _mm256_setzero_ps();
  int32_t d = 0;
  for (; d + 8 <= hd; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), acc);
  float s = avx2::hsum(acc);
  for (; d < hd; ++d) s += q[d] * k[d];
  return s;
}

// o[0:hd] = o * keep + p * v
LLMC_AVX2 inline void scale_add(float* o, float keep, float p, const float* v, int32_t hd) {
  const __m256 vk = _mm256_set1_ps(keep), vp = _mm256_set1_ps(p);
  int32_t d = 0;
  for (; d + 8 <= hd; d += 8)
    _mm256_storeu_ps(o + d, _mm256_fmadd_ps(vp, _mm256_loadu_ps(v + d), _mm256_mul_ps(vk, _mm256_loadu_ps(o + d))));
  for (; d < hd; ++d) o[d] = o[d] * keep + p * v[d];
}

// o[0:hd] += sum_i p[i] * v[i], four v rows per pass over o.
LLMC_AVX2 inline void add_weighted_rows(float* o, const float* p, const float* v, int32_t count, int32_t hd) {
  int32_t i = 0;
  for (; i + 4 <= count; i += 4) {
    const __m256 p0 = _mm256_set1_ps(p[i]), p1 = _mm256_set1_ps(p[i + 1]);
    const __m256 p2 = _mm256_set1_ps(p[i + 2]), p3 = _mm256_set1_ps(p[i + 3]);
    const float* v0 = v + int64_t(i) * hd;
    int32_t d = 0;
    for (; d + 8 <= hd; d += 8) {
      __m256 acc = _mm256_loadu_ps(o + d);
      acc = _mm256_fmadd_ps(p0, _mm256_loadu_ps(v0 + d), acc);
      acc = _mm256_fmadd_ps(p1, _mm256_loadu_ps(v0 + hd + d), acc);
      acc = _mm256_fmadd_ps(p2, _mm256_loadu_ps(v0 + 2 * hd + d), acc);
      acc = _mm256_fmadd_ps(p3, _mm256_loadu_ps(v0 + 3 * hd + d), acc);
      _mm256_storeu_ps(o + d, acc);
    }
    for (; d < hd; ++d) o[d] += p[i] * v0[d] + p[i + 1] * v0[hd + d] + p[i + 2] * v0[2 * hd + d] + p[i + 3] * v0[3 * hd + d];
  }
  for (; i < count; ++i) scale_add(o, 1.0f, p[i], v + int64_t(i) * hd, hd);
}


// q heads [h0, h1), which share one kv head, over the token's keys. The heads are handled inside the loop over
// block runs, so each run's K and V rows come from memory once and from L1 for the other heads of the group
// (GQA/MQA would otherwise read the same K/V once per q head). Per head: scores of the run, rescale of the
// running state when the max grows, exp, and the p-weighted V rows added to the accumulator.
//   scores: [block_size]   o: [h1 - h0, head_dim]
LLMC_AVX2 void attend_group_avx2(const AttentionArgs& a, int64_t r, int32_t h0, int32_t h1, float* scores, float* o,
                                 float* kbuf, float* vbuf) {
  const Cache c{a};
  const int32_t hd = a.head_dim, pos = a.positions[r], heads = h1 - h0;
  const int32_t kv_head = h0 / (a.num_heads / a.num_kv_heads);
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
      // scores[i] = q . k_i * scale (+ slope * position)
      const __m128 vscale = _mm_set1_ps(a.scale), vslope = _mm_set1_ps(slope);
      const __m128 step = _mm_setr_ps(0, 1, 2, 3);
      int32_t i = 0;
      for (; i + 4 <= run.count; i += 4) {
        __m128 sc = _mm_mul_ps(dot4(q, f.k + int64_t(i) * hd, hd), vscale);
        if (a.alibi_slopes) sc = _mm_add_ps(sc, _mm_mul_ps(vslope, _mm_add_ps(_mm_set1_ps(float(run.first + i)), step)));
        _mm_storeu_ps(scores + i, sc);
      }
      for (; i < run.count; ++i) {
        float sc = dot1(q, f.k + int64_t(i) * hd, hd) * a.scale;
        if (a.alibi_slopes) sc += slope * float(run.first + i);
        scores[i] = sc;
      }
      float run_max = scores[0];
      for (i = 1; i < run.count; ++i) run_max = std::max(run_max, scores[i]);
      if (run_max > m[g]) {
        const float corr = std::exp(m[g] - run_max);  // 0 on the first run (m = -inf)
        l[g] *= corr;
        scale_add(og, corr, 0.0f, og, hd);
        m[g] = run_max;
      }
      // scores <- exp(scores - m), summed into l
      const __m256 vm = _mm256_set1_ps(m[g]);
      __m256 vl = _mm256_setzero_ps();
      for (i = 0; i + 8 <= run.count; i += 8) {
        const __m256 p = avx2::exp(_mm256_sub_ps(_mm256_loadu_ps(scores + i), vm));
        _mm256_storeu_ps(scores + i, p);
        vl = _mm256_add_ps(vl, p);
      }
      l[g] += avx2::hsum(vl);
      for (; i < run.count; ++i) {
        scores[i] = std::exp(scores[i] - m[g]);
        l[g] += scores[i];
      }
      add_weighted_rows(og, scores, f.v, run.count, hd);
    }
  }
  for (int32_t g = 0; g < heads; ++g) {
    const float* og = o + int64_t(g) * hd;
    float* out = a.out + (r * a.num_heads + h0 + g) * hd;
    const __m256 inv = _mm256_set1_ps(1.0f / l[g]);
    int32_t d = 0;
    for (; d + 8 <= hd; d += 8) _mm256_storeu_ps(out + d, _mm256_mul_ps(_mm256_loadu_ps(og + d), inv));
    for (; d < hd; ++d) out[d] = og[d] / l[g];
  }
}

}  // namespace

size_t decode_scratch_floats(const AttentionArgs& a) {
  // scores of one block run | output accumulators of a group | the run's k and v widened to f32
  return size_t(a.kv.block_size) + size_t(kMaxGroup) * size_t(a.head_dim) + 2 * size_t(a.kv.block_size) * size_t(a.head_dim);
}

void attend_token(const AttentionArgs& a, Simd level, int64_t r, int32_t h0, int32_t h1, float* scratch) {
  float* scores = scratch;
  float* o = scores + a.kv.block_size;
  float* kbuf = o + size_t(kMaxGroup) * size_t(a.head_dim);
  float* vbuf = kbuf + size_t(a.kv.block_size) * size_t(a.head_dim);
  if (level >= Simd::avx512) {
    attend_group_avx512(a, r, h0, h1, scores, o, kbuf, vbuf);
  } else if (level >= Simd::avx2) {
    attend_group_avx2(a, r, h0, h1, scores, o, kbuf, vbuf);
  } else {
    for (int32_t h = h0; h < h1; ++h) attend_scalar(a, r, h, scores, o, kbuf, vbuf);
  }
}

}  // namespace llmc::cpu::attn
