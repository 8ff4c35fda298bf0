// attention_ops: the CPU attention kernels (native/cpu/attention*.cpp) and the KV cache storage dtypes
// (native/cpu/kv_dtype.cpp) against their scalar references and a dense f64 formula, at every SIMD level this CPU
// has (levels it lacks are reported as skipped by name), on realistic and odd shapes: 1, 7, 33-token prefills,
// long contexts over many blocks, GQA/MQA, ALiBi, sliding windows, odd block sizes and head dims, every KV dtype,
// decode rows interleaved across sequences and prefill chunks in consecutive rows (the tiled path).
//
//   native/build/attention_ops                 # correctness (exits non-zero on a failure)
//   native/build/attention_ops "kv i8"         # only cases whose name contains this
//   native/build/attention_ops --perf          # prefill (2048 tokens) and decode attention times per level
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "kernel_test_support.h"
#include "kernels.h"
#include "kv_dtype.h"

using namespace llmc;
using namespace llmc::cpu;
using namespace llmc::test;

namespace {

// ------------------------------------------------------------------------------------------------ attention

struct AttnCase {
  std::string label;
  int32_t heads, kv_heads, head_dim, block_size, window;
  bool alibi;
  std::vector<int32_t> prefix;  // tokens already in the cache, per sequence
  std::vector<int32_t> step;    // new tokens in the step, per sequence
  bool grouped = false;         // step rows sequence by sequence (as the executor packs), else round-robin
};

// Dense attention for one token: keys are the sequence's positions lo..pos, contiguous [positions, kv_heads*hd].
void dense_attention(const AttnCase& c, const std::vector<float>& K, const std::vector<float>& V, const float* q,
                     int32_t pos, const std::vector<float>& slopes, float* out) {
  const int32_t hd = c.head_dim, kvw = c.kv_heads * hd;
  const double scale = 1.0 / std::sqrt(double(hd));
  for (int32_t h = 0; h < c.heads; ++h) {
    const int32_t g = h / (c.heads / c.kv_heads);
    std::vector<double> s(pos + 1, -INFINITY);
    double mx = -INFINITY;
    for (int32_t j = 0; j <= pos; ++j) {
      const bool visible = c.window == 0 || j > pos - c.window;  // explicit mask
      if (!visible) continue;
      double d = 0;
      for (int32_t e = 0; e < hd; ++e) d += double(q[h * hd + e]) * K[size_t(j) * kvw + g * hd + e];
      s[j] = d * scale + (c.alibi ? slopes[h] * double(j) : 0.0);
      mx = std::max(mx, s[j]);
    }
    double l = 0;
    std::vector<double> o(hd, 0.0);
    for (int32_t j = 0; j <= pos; ++j) {
      if (s[j] == -INFINITY) continue;
      const double p = std::exp(s[j] - mx);
      l += p;
      for (int32_t e = 0; e < hd; ++e) o[e] += p * V[size_t(j) * kvw + g * hd + e];
    }
    for (int32_t e = 0; e < hd; ++e) out[h * hd + e] = float(o[e] / l);
  }
}

// What one stored element may differ from the value written (the quantizer's contract, docs/kv-cache.md): f16 and
// bf16 round to nearest (half an ulp: 2^-11 and 2^-8 relative, f16 subnormals 2^-25 absolute); i8 is within half a
// step of its row's scale (max|row| / 254); e4m3 within half an ulp (2^-4 relative) above the row's smallest normal
// and half a subnormal step (2^-10 of the row's scale) below it.
double kv_elem_bound(KvDType t, double x, double row_amax) {
  switch (t) {
    case KvDType::f16: return std::max(std::fabs(x) * std::ldexp(1.0, -11), std::ldexp(1.0, -25));
    case KvDType::bf16: return std::fabs(x) * std::ldexp(1.0, -8);
    case KvDType::i8: return row_amax / 254.0 * (1 + 1e-4);  // + the f32 roundings of x / s and q * s
    case KvDType::f8e4m3: return (std::fabs(x) * 0.0625 + row_amax / 448.0 * std::ldexp(1.0, -10)) * (1 + 1e-4);
    default: return 0.0;
  }
}

// e4m3: every code decodes to the value its bits say, every finite code encodes back to itself, and encoding a
// random value gives a nearest code (ties to even), saturating at 448.
void test_kv_dtypes() {
  if (!selected("kv dtype")) return;
  std::printf("kv dtype (e4m3 codes, rounding; the quantizer's bounds)\n");
  bool decode_ok = true, roundtrip_ok = true, nearest_ok = true;
  for (int b = 0; b < 256; ++b) {
    const int e = (b >> 3) & 15, m = b & 7;
    const double want = (b & 0x7f) == 0x7f ? NAN : (e == 0 ? m / 512.0 : (1 + m / 8.0) * std::ldexp(1.0, e - 7)) * (b & 0x80 ? -1 : 1);
    const float got = kv::f8e4m3_to_f32(uint8_t(b));
    if ((b & 0x7f) == 0x7f) decode_ok &= std::isnan(got);
    else decode_ok &= double(got) == want, roundtrip_ok &= kv::f32_to_f8e4m3(got) == uint8_t(b) || (got == 0 && (b & 0x7f) == 0);
  }
  const std::vector<float> xs = random_vec(20000, -500.0f, 500.0f);
  for (size_t i = 0; i < xs.size(); ++i) {
    const float x = i % 2 ? xs[i] : xs[i] * 1e-3f;  // half of them around the subnormal range
    const uint8_t c = kv::f32_to_f8e4m3(x);
    const double err = std::fabs(double(kv::f8e4m3_to_f32(c)) - std::clamp(double(x), -448.0, 448.0));
    for (int b = 0; b < 256; ++b) {
      if ((b & 0x7f) == 0x7f) continue;
      nearest_ok &= err <= std::fabs(double(kv::f8e4m3_to_f32(uint8_t(b))) - std::clamp(double(x), -448.0, 448.0));
    }
  }
  expect("kv dtype e4m3: all 256 codes decode exactly", decode_ok);
  expect("kv dtype e4m3: every finite code encodes back to itself", roundtrip_ok);
  expect("kv dtype e4m3: encoding picks a nearest code (20000 values)", nearest_ok);
}

void test_attention(ThreadPool& pool, const std::vector<Simd>& levels) {
  if (!selected("attention")) return;
  std::printf("attention (paged, scattered blocks, every KV dtype; every SIMD level vs scalar; both vs a dense masked f64\n"
              "reference on the values the cache holds; 16-bit and quantized caches vs the f32 cache within the bound\n"
              "from the stored error)\n");
  const AttnCase cases[] = {
      {"MHA hd64 prefill 300", 12, 12, 64, 16, 0, false, {0}, {300}},
      {"MHA hd64 prefill 7", 12, 12, 64, 16, 0, false, {0}, {7}},
      {"GQA 32/8 hd128 decode x3 seqs", 32, 8, 128, 16, 0, false, {100, 37, 250}, {1, 1, 1}},
      {"GQA 32/8 hd128 mixed step", 32, 8, 128, 16, 0, false, {60, 0, 17}, {5, 64, 1}},
      {"GQA 32/8 hd128 mixed step, rows grouped", 32, 8, 128, 16, 0, false, {60, 0, 17}, {5, 64, 1}, true},
      {"MQA 8/1 hd64 window 16 prefill 64", 8, 1, 64, 16, 16, false, {0}, {64}},
      {"GQA 4/2 hd64 window 16 decode", 4, 2, 64, 16, 16, false, {40, 9}, {1, 3}},
      {"ALiBi 4 heads hd64 prefill+decode", 4, 4, 64, 16, 0, true, {23, 5}, {1, 7}},
      {"ALiBi 6 heads hd128 window 8", 6, 6, 128, 8, 8, true, {30}, {9}},
      {"block 7 hd36 GQA 6/3", 6, 3, 36, 7, 0, false, {19, 3}, {12, 2}},
      {"block 5 hd80 MHA decode 1 key", 4, 4, 80, 5, 0, false, {0}, {1}},
      {"MHA hd64 prefill 1", 4, 4, 64, 16, 0, false, {0}, {1}},
      {"GQA 8/2 hd128 prefill 33 after 7", 8, 2, 128, 16, 0, false, {7}, {33}},
      {"GQA 8/2 hd128 prefill 200 after 1000 (long, many blocks)", 8, 2, 128, 16, 0, false, {1000}, {200}},
      {"MQA 8/1 hd64 decode ctx 3000 + window 1024 prefill 40", 8, 1, 64, 16, 1024, false, {2999, 1200}, {1, 40}, true},
      {"hd16 GQA 4/2 (golden fixture size) prompts 1, 12", 4, 2, 16, 16, 0, false, {10, 0}, {1, 12}},
  };
  for (const AttnCase& c : cases) {
    const int32_t hd = c.head_dim, kvw = c.kv_heads * hd, qw = c.heads * hd;
    const int32_t seqs = int32_t(c.prefix.size());
    int32_t max_len = 0;
    for (int32_t s = 0; s < seqs; ++s) max_len = std::max(max_len, c.prefix[s] + c.step[s]);
    const int32_t max_blocks = (max_len + c.block_size - 1) / c.block_size;
    // Scattered block tables: a random permutation of all physical blocks, sequences interleaved.
    const int32_t num_blocks = seqs * max_blocks + 3;
    std::vector<int32_t> perm(num_blocks);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), g_rng);
    std::vector<int32_t> tables(size_t(seqs) * max_blocks);
    for (size_t i = 0; i < tables.size(); ++i) tables[i] = perm[i];
    std::vector<float> slopes(c.heads);
    for (int32_t h = 0; h < c.heads; ++h) slopes[h] = std::pow(2.0f, -8.0f * (h + 1) / c.heads);
    // Per-sequence dense K/V for all positions, and q for all positions.
    std::vector<std::vector<float>> K(seqs), V(seqs), Q(seqs);
    for (int32_t s = 0; s < seqs; ++s) {
      const int32_t len = c.prefix[s] + c.step[s];
      K[s] = random_vec(size_t(len) * kvw, -1.0f, 1.0f);
      V[s] = random_vec(size_t(len) * kvw, -1.0f, 1.0f);
      Q[s] = random_vec(size_t(len) * qw, -4.0f, 4.0f);  // scores with std ~1.5: peaky softmax, max moves
    }
    // Step tokens of different sequences interleaved round-robin, as a batching scheduler may order them, or
    // (grouped) each sequence's tokens in consecutive rows, as the executor packs prefill chunks.
    std::vector<std::pair<int32_t, int32_t>> prefix_tokens, step_tokens;
    for (int32_t s = 0; s < seqs; ++s)
      for (int32_t p = 0; p < c.prefix[s]; ++p) prefix_tokens.push_back({s, p});
    for (int32_t k = 0; k < max_len; ++k)
      for (int32_t s = 0; s < seqs; ++s)
        if (k < c.step[s]) step_tokens.push_back({s, c.prefix[s] + k});
    if (c.grouped) {
      std::stable_sort(step_tokens.begin(), step_tokens.end(), [](auto x, auto y) { return x.first < y.first; });
    }
    std::vector<float> out_f32;
    for (KvDType kvt : {KvDType::f32, KvDType::f16, KvDType::bf16, KvDType::i8, KvDType::f8e4m3}) {
      const std::string name = "attention " + c.label + " kv " + kv_dtype_name(kvt);
      if (!selected(name)) continue;
      const KvBlockLayout lay = kv_block_layout(kvt, c.kv_heads, c.block_size, hd);
      // Runs one step (tokens[] = (seq, pos)) into cache `cache`, returns the output.
      auto run_step = [&](std::vector<uint8_t>& cache, const std::vector<std::pair<int32_t, int32_t>>& tokens) {
        const int64_t rows = int64_t(tokens.size());
        std::vector<float> q(rows * qw), k(rows * kvw), v(rows * kvw), out(rows * qw, NAN);
        std::vector<int32_t> pos(rows), seq(rows);
        for (int64_t r = 0; r < rows; ++r) {
          const auto [s, p] = tokens[r];
          seq[r] = s;
          pos[r] = p;
          std::memcpy(&q[r * qw], &Q[s][size_t(p) * qw], qw * sizeof(float));
          std::memcpy(&k[r * kvw], &K[s][size_t(p) * kvw], kvw * sizeof(float));
          std::memcpy(&v[r * kvw], &V[s][size_t(p) * kvw], kvw * sizeof(float));
        }
        AttentionArgs a{};
        a.q = q.data();
        a.k = k.data();
        a.v = v.data();
        a.rows = rows;
        a.positions = pos.data();
        a.seq_of_token = seq.data();
        a.block_tables = tables.data();
        a.max_blocks_per_seq = max_blocks;
        a.kv = PagedKvLayer{cache.data(), lay.block_bytes, c.block_size, c.kv_heads, hd, kvt};
        a.num_heads = c.heads;
        a.num_kv_heads = c.kv_heads;
        a.head_dim = hd;
        a.scale = 1.0f / std::sqrt(float(hd));
        a.sliding_window = c.window;
        a.alibi_slopes = c.alibi ? slopes.data() : nullptr;
        a.out = out.data();
        attention(pool, a);
        return out;
      };
      // The scalar reference, then every SIMD level, each on a fresh cache.
      auto run_level = [&](Simd level, std::vector<uint8_t>& cache) {
        set_simd_level(level);
        cache.assign(size_t(num_blocks) * lay.block_bytes, 0xff);  // f32 NaN: reading an unwritten slot shows
        if (!prefix_tokens.empty()) run_step(cache, prefix_tokens);
        return run_step(cache, step_tokens);
      };
      std::vector<uint8_t> cache_scalar, cache_simd;
      const std::vector<float> out_scalar = run_level(Simd::scalar, cache_scalar);
      std::vector<float> out_simd = out_scalar;
      cache_simd = cache_scalar;
      // The cache holds every token's k and v where the layout says, within the dtype's rounding, and every SIMD
      // level stores the same bytes. Kd/Vd: what the cache holds, per sequence, for the dense reference.
      for (Simd level : levels) {
        std::vector<uint8_t> cache;
        out_simd = run_level(level, cache);
        expect(name + " " + simd_name(level) + " cache bytes == scalar's", cache == cache_scalar);
        check(name + " " + simd_name(level) + " vs scalar", out_simd.data(), out_scalar.data(), out_scalar.size(), Mode::rel, 5e-6);
      }
      bool layout_ok = true;
      double worst_k = 0, worst_v = 0;  // max stored error, for the bound on the output below
      std::vector<std::vector<float>> Kd(seqs), Vd(seqs);
      for (int32_t s = 0; s < seqs; ++s) {
        Kd[s].resize(K[s].size());
        Vd[s].resize(V[s].size());
        for (int32_t p = 0; p < c.prefix[s] + c.step[s]; ++p)
          for (int32_t g = 0; g < c.kv_heads; ++g) {
            const int64_t block = tables[size_t(s) * max_blocks + p / c.block_size] * lay.block_bytes;
            const int64_t row = int64_t(g) * c.block_size + p % c.block_size;
            const uint8_t* kr = &cache_simd[block + row * hd * int64_t(kv_elem_bytes(kvt))];
            const float* sc = kv_dtype_scaled(kvt) ? reinterpret_cast<const float*>(&cache_simd[block + lay.scale_offset]) : nullptr;
            const float ks = sc ? sc[row] : 1.0f, vs = sc ? sc[int64_t(c.kv_heads) * c.block_size + row] : 1.0f;
            float* kd = &Kd[s][size_t(p) * kvw + g * hd];
            float* vd = &Vd[s][size_t(p) * kvw + g * hd];
            kv::load_rows(kvt, kr, &ks, 1, hd, kd);
            kv::load_rows(kvt, kr + lay.v_offset, &vs, 1, hd, vd);
            const float* k0 = &K[s][size_t(p) * kvw + g * hd];
            const float* v0 = &V[s][size_t(p) * kvw + g * hd];
            double kmax = 0, vmax = 0;
            for (int32_t e = 0; e < hd; ++e) kmax = std::max(kmax, std::fabs(double(k0[e]))), vmax = std::max(vmax, std::fabs(double(v0[e])));
            for (int32_t e = 0; e < hd; ++e) {
              const double ek = std::fabs(double(kd[e]) - k0[e]), ev = std::fabs(double(vd[e]) - v0[e]);
              layout_ok &= ek <= kv_elem_bound(kvt, k0[e], kmax) && ev <= kv_elem_bound(kvt, v0[e], vmax);
              worst_k = std::max(worst_k, ek);
              worst_v = std::max(worst_v, ev);
            }
          }
      }
      expect(name + " cache layout and stored error", layout_ok);
      std::vector<float> ref(out_scalar.size());
      double bound = 0;
      for (size_t r = 0; r < step_tokens.size(); ++r) {
        const auto [s, p] = step_tokens[r];
        dense_attention(c, Kd[s], Vd[s], &Q[s][size_t(p) * qw], p, slopes, &ref[r * qw]);
        // vs the f32 cache: every score moves by at most delta = scale * |q|_1 * max k error, so each softmax
        // weight by a factor within e^(+-2 delta); the output moves by at most max v error + max|v| (e^(2 delta) - 1).
        for (int32_t h = 0; h < c.heads; ++h) {
          double q1 = 0;
          for (int32_t e = 0; e < hd; ++e) q1 += std::fabs(Q[s][size_t(p) * qw + h * hd + e]);
          const double delta = q1 / std::sqrt(double(hd)) * worst_k;
          const double v_max = 1.0;  // V is uniform in [-1, 1)
          bound = std::max(bound, worst_v + v_max * std::expm1(2 * delta));
        }
      }
      check(name + " scalar vs dense", out_scalar.data(), ref.data(), ref.size(), Mode::rel, 5e-6);
      check(name + " best level vs dense", out_simd.data(), ref.data(), ref.size(), Mode::rel, 5e-6);
      if (kvt == KvDType::f32) {
        out_f32 = out_simd;
      } else {
        check(name + " vs f32 cache", out_simd.data(), out_f32.data(), out_f32.size(), Mode::elem, 0.0, bound + 1e-5);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ perf

// Median wall time and median process CPU time (all threads) of `reps` calls. On a shared machine the wall time
// includes waiting for a core; CPU seconds count only the work (still inflated by cache and SMT sharing).
struct Times {
  double wall, cpu;
};
Times median_times(int reps, const std::function<void()>& f) {
  std::vector<double> w, c;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    f();
    c.push_back(double(std::clock() - c0) / CLOCKS_PER_SEC);
    w.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(w.begin(), w.end());
  std::sort(c.begin(), c.end());
  return Times{w[w.size() / 2], c[c.size() / 2]};
}

// One attention call over a fresh cache: a prefill of `prompt` tokens (one sequence), or a decode step of `batch`
// sequences each with `ctx` tokens of context.
struct PerfShape {
  const char* what;
  int32_t heads, kv_heads, hd, prompt, batch, ctx;
};

void run_perf(ThreadPool& pool, const std::vector<Simd>& levels) {
  const PerfShape shapes[] = {
      {"prefill 2048, MHA 12 x 64 (llama-110m)", 12, 12, 64, 2048, 0, 0},
      {"prefill 2048, GQA 32/8 x 128 (llama-3-8b)", 32, 8, 128, 2048, 0, 0},
      {"prefill 512, MHA 32 x 128 (llama-2-7b)", 32, 32, 128, 512, 0, 0},
      {"decode 8 seqs x 2048 ctx, GQA 32/8 x 128", 32, 8, 128, 0, 8, 2048},
  };
  std::printf("attention_ops --perf: %d threads; median of 5 calls (the first warms the cache pages)\n", pool.size());
  for (const PerfShape& s : shapes) {
    const int32_t bs = 16, kvw = s.kv_heads * s.hd, qw = s.heads * s.hd;
    const int32_t seqs = s.prompt ? 1 : s.batch, len = s.prompt ? s.prompt : s.ctx;
    const int32_t rows = s.prompt ? s.prompt : s.batch, per_seq = (len + bs - 1) / bs;
    std::vector<int32_t> tables(size_t(seqs) * per_seq), pos(rows), seq(rows);
    std::iota(tables.begin(), tables.end(), 0);
    for (int32_t r = 0; r < rows; ++r) {
      seq[r] = s.prompt ? 0 : r;
      pos[r] = s.prompt ? r : s.ctx - 1;
    }
    const std::vector<float> q = random_vec(size_t(rows) * qw), k = random_vec(size_t(rows) * kvw), v = random_vec(size_t(rows) * kvw);
    std::vector<float> out(size_t(rows) * qw);
    for (KvDType kvt : {KvDType::f32, KvDType::f16, KvDType::i8}) {
      if (s.prompt && kvt != KvDType::f32 && s.heads != 32) continue;
      const KvBlockLayout lay = kv_block_layout(kvt, s.kv_heads, bs, s.hd);
      std::vector<uint8_t> cache(size_t(seqs) * per_seq * lay.block_bytes);
      if (!s.prompt) {  // the context: every position written once
        for (int32_t b = 0; b < seqs; ++b) {
          std::vector<int32_t> p(s.ctx), sq(s.ctx, b);
          std::iota(p.begin(), p.end(), 0);
          const std::vector<float> kk = random_vec(size_t(s.ctx) * kvw), vv = random_vec(size_t(s.ctx) * kvw), qq(size_t(s.ctx) * qw, 0.1f);
          std::vector<float> oo(qq.size());
          AttentionArgs w{qq.data(), kk.data(), vv.data(), s.ctx, p.data(), sq.data(), tables.data(), per_seq,
                          PagedKvLayer{cache.data(), lay.block_bytes, bs, s.kv_heads, s.hd, kvt}, s.heads, s.kv_heads, s.hd,
                          1.0f / std::sqrt(float(s.hd)), 0, nullptr, oo.data()};
          set_simd_level(levels.empty() ? Simd::scalar : levels.back());
          attention(pool, w);
        }
      }
      AttentionArgs a{q.data(), k.data(), v.data(), rows, pos.data(), seq.data(), tables.data(), per_seq,
                      PagedKvLayer{cache.data(), lay.block_bytes, bs, s.kv_heads, s.hd, kvt}, s.heads, s.kv_heads, s.hd,
                      1.0f / std::sqrt(float(s.hd)), 0, nullptr, out.data()};
      std::vector<Simd> all{Simd::scalar};
      all.insert(all.end(), levels.begin(), levels.end());
      for (Simd level : all) {
        if (level == Simd::scalar && s.prompt >= 2048) continue;  // minutes; the reference is not a speed path
        set_simd_level(level);
        attention(pool, a);
        const Times tm = median_times(5, [&] { attention(pool, a); });
        const double t = tm.wall;
        const double flops = s.prompt ? 4.0 * s.heads * s.hd * (double(s.prompt) * (s.prompt + 1) / 2) : 4.0 * s.batch * s.heads * s.hd * s.ctx;
        const double bytes = s.prompt ? 0.0 : double(s.batch) * s.ctx * lay.block_bytes / bs;
        std::printf("  %-44s kv %-6s %-7s %9.2f ms wall %9.2f ms cpu  %7.1f GFLOP/s  %7.1f GFLOP/cpu-s", s.what, kv_dtype_name(kvt),
                    simd_name(level), t * 1e3, tm.cpu * 1e3, flops / t / 1e9, flops / tm.cpu / 1e9);
        if (bytes > 0) std::printf("  %6.1f GB/s of KV", bytes / t / 1e9);
        std::printf("\n");
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool perf = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--perf") == 0) perf = true;
    else g_filter = argv[i];
  }
  ThreadPool pool(0);
  const Simd best = simd_level();
  // Every level up to the best one is tested; the levels above it are reported as skipped by name.
  std::vector<Simd> levels;
  for (Simd l : {Simd::avx2, Simd::avx512}) {
    if (l <= best) levels.push_back(l);
    else std::printf("  SKIP  level %s: not available on this CPU (or lowered by LLMC_SIMD)\n", simd_name(l));
  }
  if (perf) {
    run_perf(pool, levels);
    return 0;
  }
  std::printf("attention_ops: levels scalar%s%s, %d threads\n", best >= Simd::avx2 ? " avx2" : "", best >= Simd::avx512 ? " avx512" : "", pool.size());
  test_kv_dtypes();
  test_attention(pool, levels);
  set_simd_level(best);
  std::printf("\n%d cases, %d failed\n", g_cases, g_failures);
  return g_failures == 0 ? 0 : 1;
}
