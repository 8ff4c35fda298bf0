// attention over the paged KV cache (layout in kernels.h).
//
// Phase 1 writes every token's k and v rows into its sequence's block at its position. Phase 2 (after all writes,
// so tokens of the same step see each other) computes, for each (token, q head), softmax(q.K^T * scale + alibi) V
// over the sequence's keys at positions lo..pos, lo = pos - window + 1 (or 0). The keys are visited one physical
// block run at a time with an online softmax: the block's scores are computed, the running max m, denominator l
// and output accumulator o are rescaled by exp(m_old - m_new) when the max grows, then the block's exp(s - m) * v
// rows are added. o / l is the output.
//
// Work items are (token, kv head, sub-group of the q heads that share it): the sub-group's heads reuse each K/V
// run from L1. Causal prefill makes the items' cost grow with the position, so they are handed out dynamically,
// longest (latest token) first, from an atomic counter shared by one parallel_for chunk per thread.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "avx2.h"
#include "kernels.h"

namespace llmc::cpu {
namespace {

constexpr int32_t kMaxGroup = 8;  // q heads handled together against one kv head's K/V

// Where key position j of a sequence lives: k row at k + j_in_block * head_dim, v row likewise.
struct KvRun {
  const float* k;  // [count, head_dim] rows of one kv head, consecutive positions
  const float* v;
  int32_t first;   // position of the first row
  int32_t count;
};

struct Cache {
  const AttentionArgs& a;

  float* block_base(int32_t seq, int32_t pos) const {
    const int32_t phys = a.block_tables[int64_t(seq) * a.max_blocks_per_seq + pos / a.kv.block_size];
    return a.kv.layer_base + int64_t(phys) * a.kv.block_stride;
  }
  int64_t v_offset() const { return int64_t(a.kv.num_kv_heads) * a.kv.block_size * a.kv.head_dim; }
  int64_t row_offset(int32_t kv_head, int32_t pos) const {
    return (int64_t(kv_head) * a.kv.block_size + pos % a.kv.block_size) * a.kv.head_dim;
  }
  // The run of positions from j (up to `last`) of one kv head that lies in j's block.
  KvRun run_at(int32_t seq, int32_t kv_head, int32_t j, int32_t last) const {
    const int32_t count = std::min(last - j + 1, a.kv.block_size - j % a.kv.block_size);
    const float* base = block_base(seq, j) + row_offset(kv_head, j);
    return KvRun{base, base + v_offset(), j, count};
  }
};

void write_kv(const AttentionArgs& a, int64_t r) {
  const Cache c{a};
  const int32_t seq = a.seq_of_token[r], pos = a.positions[r];
  float* base = c.block_base(seq, pos);
  const int64_t row = int64_t(a.num_kv_heads) * a.head_dim;
  for (int32_t h = 0; h < a.num_kv_heads; ++h) {
    const int64_t off = c.row_offset(h, pos);
    std::memcpy(base + off, a.k + r * row + int64_t(h) * a.head_dim, size_t(a.head_dim) * sizeof(float));
    std::memcpy(base + c.v_offset() + off, a.v + r * row + int64_t(h) * a.head_dim, size_t(a.head_dim) * sizeof(float));
  }
}

int32_t first_key(const AttentionArgs& a, int32_t pos) {
  return a.sliding_window > 0 ? std::max(0, pos - a.sliding_window + 1) : 0;
}

// ------------------------------------------------------------------------------------------------ scalar

void attend_scalar(const AttentionArgs& a, int64_t r, int32_t h, float* scores, float* o) {
  const Cache c{a};
  const int32_t hd = a.head_dim, pos = a.positions[r];
  const int32_t kv_head = h / (a.num_heads / a.num_kv_heads);
  const float* q = a.q + (r * a.num_heads + h) * hd;  // [head_dim]
  const float slope = a.alibi_slopes ? a.alibi_slopes[h] : 0.0f;
  float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
  std::fill(o, o + hd, 0.0f);
  for (int32_t j = first_key(a, pos); j <= pos;) {
    const KvRun run = c.run_at(a.seq_of_token[r], kv_head, j, pos);
    j += run.count;
    float run_max = -std::numeric_limits<float>::infinity();
    for (int32_t i = 0; i < run.count; ++i) {
      float s = 0.0f;
      for (int32_t d = 0; d < hd; ++d) s += q[d] * run.k[int64_t(i) * hd + d];
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
      for (int32_t d = 0; d < hd; ++d) o[d] += p * run.v[int64_t(i) * hd + d];
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

// A run is a few KiB of K and of V in another block of the cache: too short for the hardware prefetchers to pick
// up, so each decode token would wait on DRAM latency block after block. Requesting the next run's lines while
// the current run is computed keeps the reads overlapped.
inline void prefetch_run(const KvRun& run, int32_t hd) {
  const char* k = reinterpret_cast<const char*>(run.k);
  const char* v = reinterpret_cast<const char*>(run.v);
  const int64_t bytes = int64_t(run.count) * hd * int64_t(sizeof(float));
  for (int64_t off = 0; off < bytes; off += 64) {
    _mm_prefetch(k + off, _MM_HINT_T0);
    _mm_prefetch(v + off, _MM_HINT_T0);
  }
}

// q heads [h0, h1), which share one kv head, over the token's keys. The heads are handled inside the loop over
// block runs, so each run's K and V rows come from memory once and from L1 for the other heads of the group
// (GQA/MQA would otherwise read the same K/V once per q head). Per head: scores of the run, rescale of the
// running state when the max grows, exp, and the p-weighted V rows added to the accumulator.
//   scores: [block_size]   o: [h1 - h0, head_dim]
LLMC_AVX2 void attend_group_avx2(const AttentionArgs& a, int64_t r, int32_t h0, int32_t h1, float* scores, float* o) {
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
    if (j <= pos) prefetch_run(c.run_at(a.seq_of_token[r], kv_head, j, pos), hd);
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
        __m128 sc = _mm_mul_ps(dot4(q, run.k + int64_t(i) * hd, hd), vscale);
        if (a.alibi_slopes) sc = _mm_add_ps(sc, _mm_mul_ps(vslope, _mm_add_ps(_mm_set1_ps(float(run.first + i)), step)));
        _mm_storeu_ps(scores + i, sc);
      }
      for (; i < run.count; ++i) {
        float sc = dot1(q, run.k + int64_t(i) * hd, hd) * a.scale;
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
      add_weighted_rows(og, scores, run.v, run.count, hd);
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

void attention(ThreadPool& pool, const AttentionArgs& a) {
  if (a.rows <= 0) return;
  // Phase 1: cache writes. Cheap (a few KiB per token); parallel only for long prefills.
  pool.parallel_for(a.rows, 64, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) write_kv(a, r);
  });

  // Phase 2: items are (token, kv head, sub-group of its q heads), latest token first, claimed one by one. A
  // sub-group holds up to kMaxGroup q heads; it shrinks when there would be too few items to keep every thread busy
  // (MQA decode: one kv head, one token).
  const bool simd = simd_level() >= Simd::avx2;
  note_kernel_path(KernelOp::attention, simd ? "avx2" : "scalar");
  const int32_t group = a.num_heads / a.num_kv_heads;
  int32_t sub = std::min(group, kMaxGroup);
  while (sub > 1 && a.rows * a.num_kv_heads * ((group + sub - 1) / sub) < 2 * pool.size()) sub = (sub + 1) / 2;
  const int32_t subs = (group + sub - 1) / sub;
  const int64_t per_token = int64_t(a.num_kv_heads) * subs;
  const int64_t items = a.rows * per_token;
  std::atomic<int64_t> next{0};
  auto body = [&](int64_t, int64_t, int) {
    thread_local std::vector<float> scratch;  // scores of one block run | output accumulators of a sub-group
    scratch.resize(size_t(a.kv.block_size) + size_t(sub) * size_t(a.head_dim));
    float* scores = scratch.data();
    float* o = scores + a.kv.block_size;
    for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < items;) {
      const int64_t r = a.rows - 1 - i / per_token;
      const int32_t kv_head = static_cast<int32_t>(i % per_token) / subs;
      const int32_t h0 = kv_head * group + static_cast<int32_t>(i % per_token) % subs * sub;
      const int32_t h1 = std::min(h0 + sub, (kv_head + 1) * group);
      if (simd) {
        attend_group_avx2(a, r, h0, h1, scores, o);
      } else {
        for (int32_t h = h0; h < h1; ++h) attend_scalar(a, r, h, scores, o);
      }
    }
  };
  // One chunk per thread, unless the step is too small to be worth a hand-off (a short decode).
  int64_t work = 0;
  for (int64_t r = 0; r < a.rows && work < (1 << 16); ++r)
    work += int64_t(a.positions[r] - first_key(a, a.positions[r]) + 1) * a.num_heads * a.head_dim;
  const int64_t chunks = work < (1 << 16) ? 1 : pool.size();
  pool.parallel_for(chunks, 1, body);
}

}  // namespace llmc::cpu
