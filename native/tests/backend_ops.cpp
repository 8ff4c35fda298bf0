// backend_ops: checks every CPU kernel's SIMD version against its scalar reference, and the kernels against
// straightforward formulas written here (dense attention with an explicit mask, textbook norms and rotary), on
// realistic shapes with random non-zero data (fixed seed). Exits non-zero if any case fails.
//
//   g++ -O3 -std=c++17 -pthread -Wall -Wextra -Inative/include -Inative/cpu native/cpu/*.cpp native/tests/backend_ops.cpp -o /tmp/backend_ops
//   /tmp/backend_ops              # correctness, about half a minute
//   /tmp/backend_ops linear       # only cases whose name contains "linear"
//   /tmp/backend_ops --perf       # GEMV / GEMM throughput against the measured read bandwidth and peaks
//   /tmp/backend_ops --perf gemm  # one section: gemv (rows=1), batch (rows 1-8), gemm (prefill), step (decode step),
//                                 # rope (linear_rope against linear + split + rope + rope)
//   /tmp/backend_ops --threads 1  # pool size (default: all cores)
//
// Tolerances: "rel" cases compare max |simd - ref| with rtol * max |ref| over the case (sums whose order differs:
// linear, norms, attention); "elem" cases compare each element with atol + rtol * |ref| (activations, rope).
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cpu_features.h"
#include "dtype.h"
#include "kernels.h"
#include "kernel_test_support.h"
#include "peak_flops.h"

using namespace llmc;
using namespace llmc::cpu;

using namespace llmc::test;

namespace {

// ------------------------------------------------------------------------------------------------ harness

// Runs f once with the scalar kernels and once with the best SIMD level, into separate outputs.
template <class F>
void scalar_and_simd(Simd best, F&& f) {
  set_simd_level(Simd::scalar);
  f(false);
  set_simd_level(best);
  f(true);
}

// ------------------------------------------------------------------------------------------------ dtype

__attribute__((target("avx2,f16c"))) void f16c_widen(const uint16_t* h, float* f) {
  _mm256_storeu_ps(f, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h))));
}
__attribute__((target("avx2,f16c"))) void f16c_narrow(const float* f, uint16_t* h) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h), _mm256_cvtps_ph(_mm256_loadu_ps(f), _MM_FROUND_TO_NEAREST_INT));
}

void test_dtype(Simd best) {
  if (!selected("dtype")) return;
  std::printf("dtype conversions\n");
  {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
      const float f = f16_to_f32(uint16_t(h));
      if (std::isnan(f) != ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))) ++bad;
      if (best >= Simd::avx2 && (h % 8) == 0) {
        uint16_t in[8];
        float out[8];
        for (int i = 0; i < 8; ++i) in[i] = uint16_t(h + i);
        f16c_widen(in, out);
        for (int i = 0; i < 8; ++i)
          if (f32_to_bits(out[i]) != f32_to_bits(f16_to_f32(in[i]))) ++bad;
      }
      if (!std::isnan(f) && f32_to_f16(f) != h) ++bad;  // exact round trip
    }
    expect("dtype f16->f32: all 65536 patterns (vs F16C, round trip)", bad == 0, std::to_string(bad) + " mismatches");
  }
  if (best >= Simd::avx2) {
    int bad = 0;
    std::vector<float> v = random_vec(1 << 16, -70000.0f, 70000.0f);
    const float specials[] = {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e-8f, 2.98e-8f, 2.99e-8f, 6.1e-5f,
                              6.097e-5f, 3.0e-5f, -1e-7f, INFINITY, -INFINITY, 1e10f, 0.5f, 1.0f / 3};
    for (size_t i = 0; i < sizeof(specials) / sizeof(float); ++i) v[i] = specials[i];
    for (size_t i = 0; i + 8 <= v.size(); i += 8) {
      uint16_t h[8];
      f16c_narrow(&v[i], h);
      for (int j = 0; j < 8; ++j)
        if (h[j] != f32_to_f16(v[i + j])) ++bad;
    }
    expect("dtype f32->f16 rounding (vs F16C, incl. subnormal/overflow)", bad == 0, std::to_string(bad) + " mismatches");
  }
  {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
      const float f = bf16_to_f32(uint16_t(h));
      if (!std::isnan(f) && f32_to_bf16(f) != h) ++bad;
    }
    expect("dtype bf16 round trip", bad == 0, std::to_string(bad) + " mismatches");
  }
}

// ------------------------------------------------------------------------------------------------ thread pool

void test_thread_pool(ThreadPool& pool) {
  if (!selected("pool")) return;
  std::printf("thread pool (%d threads)\n", pool.size());
  bool ok = true;
  for (int64_t n : {1, 2, 3, 7, 64, 1000, 100003}) {
    for (int64_t grain : {1, 4, 16, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      std::vector<std::atomic<int>> by_index(pool.size());
      pool.parallel_for(n, grain, [&](int64_t b, int64_t e, int t) {
        if (t < 0 || t >= pool.size() || by_index[t].fetch_add(1) != 0) ok = false;
        if (b % grain != 0) ok = false;  // chunk starts are aligned to grain
        for (int64_t i = b; i < e; ++i) hits[i]++;
      });
      for (auto& h : hits) ok &= h.load() == 1;
    }
  }
  expect("pool parallel_for covers [0,n) once, aligned, unique index", ok);
  std::atomic<int64_t> total{0};
  for (int i = 0; i < 20000; ++i)
    pool.parallel_for(64, 1, [&](int64_t b, int64_t e, int) { total += e - b; });
  expect("pool 20000 back-to-back small jobs", total.load() == 20000 * 64);
  bool caught = false;
  try {
    pool.parallel_for(1000, 1, [&](int64_t b, int64_t, int) {
      if (b != 0) throw std::runtime_error("from a worker chunk");
    });
  } catch (const std::runtime_error&) {
    caught = true;
  }
  std::atomic<int64_t> after{0};
  pool.parallel_for(1000, 1, [&](int64_t b, int64_t e, int) { after += e - b; });
  expect("pool rethrows a chunk's exception in the caller, stays usable",
         (caught || pool.size() == 1) && after.load() == 1000);
  // Two engines in one process: the same thread count gives the same pool, and jobs from two caller threads at
  // once take turns (each job still sees exactly its own chunks).
  {
    std::shared_ptr<ThreadPool> a = ThreadPool::shared(2), b = ThreadPool::shared(2);
    expect("pool shared(n): one pool per thread count per process", a == b && a->size() == 2 && default_thread_count() >= 1,
           "default_thread_count() = " + std::to_string(default_thread_count()));
    std::atomic<int64_t> sums[2] = {{0}, {0}};
    std::atomic<bool> bad{false};
    std::vector<std::thread> callers;
    for (int c = 0; c < 2; ++c) {
      callers.emplace_back([&, c] {
        for (int i = 0; i < 3000; ++i) {
          std::atomic<int64_t> covered{0};
          a->parallel_for(100 + c, 1, [&](int64_t b0, int64_t e0, int) { covered += e0 - b0; });
          if (covered.load() != 100 + c) bad = true;
          sums[c] += covered.load();
        }
      });
    }
    for (auto& t : callers) t.join();
    expect("pool shared by two caller threads: 2 x 3000 concurrent jobs, each covered once",
           !bad.load() && sums[0].load() == 3000 * 100 && sums[1].load() == 3000 * 101);
  }
}

// ------------------------------------------------------------------------------------------------ linear

// Whether linear at this level rounds the activations to bf16 (the vdpbf16ps and AMX GEMMs, bf16 weights only).
bool linear_rounds_activations(Simd level, DType dt, int64_t rows) {
  return dt == DType::bf16 && rows > 8 && level >= Simd::avx512_bf16 && bf16_activations();
}

// Every SIMD level the CPU has against the scalar kernel (on x rounded to bf16 where the level's path rounds it,
// so the comparison is still exact to summation order); the scalar kernel against a double-precision sum.
void test_linear(ThreadPool& pool, const std::vector<Simd>& levels) {
  if (!selected("linear")) return;
  std::printf("linear (each SIMD level vs scalar; scalar vs f64 reference)\n");
  struct Case {
    int64_t out, in;
    std::vector<int64_t> rows;
    bool bias;
  };
  const Case cases[] = {
      {768, 768, {1, 7, 33, 64, 300}, true}, {2048, 768, {1, 8, 64}, false}, {768, 2048, {1, 7, 64, 300}, false},
      {32000, 768, {1, 7, 9}, false},        {4096, 4096, {1, 3, 33}, false}, {37, 13, {1, 5, 11}, true},
      {100, 84, {2, 9, 31, 4096}, true},     {3, 1000, {1, 20}, true},       {96, 1030, {4, 10, 33}, false},
      {65, 33, {1, 7, 33, 4096}, true},      {130, 47, {9, 40}, false},
  };
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    for (const Case& c : cases) {
      const Weights w = make_weights(size_t(c.out * c.in), dt, -0.5f, 0.5f);
      const Weights b = make_weights(size_t(c.out), dt);
      for (int64_t rows : c.rows) {
        char name[128];
        std::snprintf(name, sizeof name, "linear %s rows=%lld %lldx%lld%s", dtype_name(dt), (long long)rows,
                      (long long)c.out, (long long)c.in, c.bias ? " +bias" : "");
        if (!selected(name)) continue;
        const std::vector<float> x = random_vec(size_t(rows * c.in));
        std::vector<float> xr(x.size());  // x rounded to bf16
        for (size_t i = 0; i < x.size(); ++i) xr[i] = bf16_to_f32(f32_to_bf16(x[i]));
        std::vector<float> y_scalar(size_t(rows * c.out)), y_scalar_r, y_simd(y_scalar.size());
        set_simd_level(Simd::scalar);
        linear(pool, x.data(), rows, c.in, w.data(), dt, c.out, c.bias ? b.data() : nullptr, y_scalar.data());
        // bf16 weights from avx512_bf16 up: both the default f32-activation path and the opt-in bf16 one.
        std::vector<std::pair<Simd, bool>> runs;
        for (Simd level : levels) {
          runs.push_back({level, false});
          if (dt == DType::bf16 && level >= Simd::avx512_bf16) runs.push_back({level, true});
        }
        for (auto [level, bf16x] : runs) {
          set_bf16_activations(bf16x);
          const bool rounds = linear_rounds_activations(level, dt, rows);
          if (rounds && y_scalar_r.empty()) {
            y_scalar_r.resize(y_scalar.size());
            set_simd_level(Simd::scalar);
            linear(pool, xr.data(), rows, c.in, w.data(), dt, c.out, c.bias ? b.data() : nullptr, y_scalar_r.data());
          }
          std::fill(y_simd.begin(), y_simd.end(), NAN);
          set_simd_level(level);
          linear(pool, x.data(), rows, c.in, w.data(), dt, c.out, c.bias ? b.data() : nullptr, y_simd.data());
          const std::string lname = std::string(name) + " " + simd_name(level) + (rounds ? " (bf16 x)" : "");
          check(lname, y_simd.data(), rounds ? y_scalar_r.data() : y_scalar.data(), y_scalar.size(), Mode::rel, 1e-5);
          // What rounding the activations costs, against the f32-activation result: bounded, not exact.
          if (rounds) check(lname + " vs f32 x", y_simd.data(), y_scalar.data(), y_scalar.size(), Mode::rel, 2e-2);
        }
        set_bf16_activations(false);
        // The scalar kernel against a double-precision sum, on a sample of rows (the full product is slow).
        std::vector<float> ref, got;
        for (int64_t t = 0; t < rows; t += std::max<int64_t>(1, rows / 5))
          for (int64_t j = 0; j < c.out; j += std::max<int64_t>(1, c.out / 97)) {
            double s = c.bias ? b.values[j] : 0.0;
            for (int64_t k = 0; k < c.in; ++k) s += double(x[t * c.in + k]) * w.values[j * c.in + k];
            ref.push_back(float(s));
            got.push_back(y_scalar[t * c.out + j]);
          }
        check(std::string(name) + " scalar vs f64", got.data(), ref.data(), ref.size(), Mode::rel, 1e-5);
      }
    }
  }
  set_simd_level(levels.empty() ? Simd::scalar : levels.back());
}

// ------------------------------------------------------------------------------------------------ fusions

// The fused ops against their unfused parts, at scalar and every SIMD level: the same arithmetic in the same order,
// so the results must agree to the last bit (tolerance 0 on each element).
void test_fusions(ThreadPool& pool, const std::vector<Simd>& levels) {
  if (!selected("fused")) return;
  std::printf("fused ops (add_rms_norm, add_layer_norm, linear_act, linear_rope) vs their unfused parts, every level\n");
  std::vector<Simd> all{Simd::scalar};
  all.insert(all.end(), levels.begin(), levels.end());
  for (Simd level : all) {
    set_simd_level(level);
    for (DType dt : {DType::f32, DType::bf16}) {
      for (int64_t width : {64, 100, 768}) {
        for (int64_t rows : {1, 7, 33}) {
          const std::vector<float> a = random_vec(size_t(rows * width), -2.0f, 2.0f), b = random_vec(a.size());
          const Weights w = make_weights(size_t(width), dt, 0.5f, 1.5f), bias = make_weights(size_t(width), dt);
          std::vector<float> s_ref(a.size()), y_ref(a.size()), s(a.size(), NAN), y(a.size(), NAN);
          char name[128];
          std::snprintf(name, sizeof name, "fused add_rms_norm %s rows=%lld width=%lld %s", dtype_name(dt), (long long)rows,
                        (long long)width, simd_name(level));
          add(pool, a.data(), b.data(), rows * width, s_ref.data());
          rms_norm(pool, s_ref.data(), rows, width, w.data(), dt, 1e-6f, 0.0f, y_ref.data());
          add_rms_norm(pool, a.data(), b.data(), rows, width, w.data(), dt, 1e-6f, 0.0f, s.data(), y.data());
          check(std::string(name) + " sum", s.data(), s_ref.data(), s.size(), Mode::elem, 0.0);
          check(std::string(name) + " out", y.data(), y_ref.data(), y.size(), Mode::elem, 0.0);
          std::snprintf(name, sizeof name, "fused add_layer_norm %s rows=%lld width=%lld +bias %s", dtype_name(dt),
                        (long long)rows, (long long)width, simd_name(level));
          layer_norm(pool, s_ref.data(), rows, width, w.data(), dt, bias.data(), 1e-5f, y_ref.data());
          add_layer_norm(pool, a.data(), b.data(), rows, width, w.data(), dt, bias.data(), 1e-5f, s.data(), y.data());
          check(std::string(name) + " out", y.data(), y_ref.data(), y.size(), Mode::elem, 0.0);
        }
      }
      for (int64_t rows : {1, 7, 33}) {
        const int64_t in = 100, out = 130;
        const Weights w = make_weights(size_t(out * in), dt, -0.5f, 0.5f), bias = make_weights(size_t(out), dt);
        const std::vector<float> x = random_vec(size_t(rows * in));
        std::vector<float> h(size_t(rows * out)), y_ref(h.size()), y(h.size(), NAN);
        for (ActivationKind kind : {ActivationKind::gelu_tanh, ActivationKind::relu}) {
          char name[128];
          std::snprintf(name, sizeof name, "fused linear_act %s rows=%lld %lldx%lld +bias %s %s", dtype_name(dt),
                        (long long)rows, (long long)out, (long long)in, kind == ActivationKind::relu ? "relu" : "gelu_tanh",
                        simd_name(level));
          linear(pool, x.data(), rows, in, w.data(), dt, out, bias.data(), h.data());
          activation(pool, h.data(), rows * out, kind, y_ref.data());
          linear_act(pool, x.data(), rows, in, w.data(), dt, out, bias.data(), kind, y.data());
          check(name, y.data(), y_ref.data(), y.size(), Mode::elem, 0.0);
        }
      }
      // linear_rope: a qkv projection whose leading heads (q's then k's) rotate, against linear then rope on
      // those columns; partial rotary, both styles, head_dim not a multiple of 8, several thread chunks.
      struct RopeCase { RopeStyle style; int32_t heads, head_dim, rotary_dim; int64_t v_cols, in; bool bias; };
      const RopeCase rope_cases[] = {{RopeStyle::neox, 6, 64, 64, 128, 100, true}, {RopeStyle::gptj, 6, 36, 20, 108, 64, false},
                                     {RopeStyle::neox, 3, 80, 40, 0, 72, true}, {RopeStyle::gptj, 12, 64, 64, 384, 256, false}};
      for (const RopeCase& c : rope_cases) {
        for (int64_t rows : {1, 7, 33}) {
          const int64_t rot = int64_t(c.heads) * c.head_dim, out = rot + c.v_cols, in = c.in;
          const Weights w = make_weights(size_t(out * in), dt, -0.5f, 0.5f), bias = make_weights(size_t(out), dt);
          const std::vector<float> x = random_vec(size_t(rows * in));
          std::vector<int32_t> pos(static_cast<size_t>(rows));
          for (int64_t r = 0; r < rows; ++r) pos[size_t(r)] = int32_t(g_rng() % 4096);
          std::vector<float> inv_freq(size_t(c.rotary_dim / 2));
          for (size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = float(1.0 / std::pow(10000.0, 2.0 * double(i) / c.rotary_dim));
          const void* b = c.bias ? bias.data() : nullptr;
          std::vector<float> y_ref(size_t(rows * out)), part(size_t(rows * rot)), part_r(part.size()), y(y_ref.size(), NAN);
          linear(pool, x.data(), rows, in, w.data(), dt, out, b, y_ref.data());
          for (int64_t r = 0; r < rows; ++r) std::memcpy(&part[size_t(r * rot)], &y_ref[size_t(r * out)], size_t(rot) * sizeof(float));
          rope(pool, part.data(), rows, pos.data(), c.heads, c.head_dim, c.rotary_dim, inv_freq.data(), c.style, part_r.data());
          for (int64_t r = 0; r < rows; ++r) std::memcpy(&y_ref[size_t(r * out)], &part_r[size_t(r * rot)], size_t(rot) * sizeof(float));
          linear_rope(pool, x.data(), rows, in, w.data(), dt, out, b, pos.data(), c.heads, c.head_dim, c.rotary_dim,
                      inv_freq.data(), c.style, y.data());
          char name[160];
          std::snprintf(name, sizeof name, "fused linear_rope %s rows=%lld %lldx%lld heads=%d head_dim=%d rotary=%d %s%s %s",
                        dtype_name(dt), (long long)rows, (long long)out, (long long)in, c.heads, c.head_dim, c.rotary_dim,
                        c.style == RopeStyle::neox ? "neox" : "gptj", c.bias ? " +bias" : "", simd_name(level));
          check(name, y.data(), y_ref.data(), y.size(), Mode::elem, 0.0);
        }
      }
    }
  }
  set_simd_level(levels.empty() ? Simd::scalar : levels.back());
}

// ------------------------------------------------------------------------------------------------ norms

void test_norms(ThreadPool& pool, Simd best) {
  if (!selected("norm")) return;
  std::printf("rms_norm / layer_norm (SIMD vs scalar; scalar vs f64 formula)\n");
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    for (int64_t width : {64, 100, 768, 4096}) {
      for (int64_t rows : {1, 7, 64}) {
        const std::vector<float> x = random_vec(size_t(rows * width), -3.0f, 3.0f);
        const Weights w = make_weights(size_t(width), dt, 0.5f, 1.5f);
        const Weights b = make_weights(size_t(width), dt);
        std::vector<float> ys(x.size()), yv(x.size(), NAN), ref(x.size());
        char name[128];
        // rms_norm, with the Gemma-style offset on odd widths
        const float offset = width == 100 ? 1.0f : 0.0f;
        std::snprintf(name, sizeof name, "rms_norm %s rows=%lld width=%lld offset=%g", dtype_name(dt),
                      (long long)rows, (long long)width, offset);
        if (selected(name)) {
          scalar_and_simd(best, [&](bool simd) {
            rms_norm(pool, x.data(), rows, width, w.data(), dt, 1e-6f, offset, simd ? yv.data() : ys.data());
          });
          check(name, yv.data(), ys.data(), ys.size(), Mode::rel, 5e-6);
          for (int64_t r = 0; r < rows; ++r) {
            double ss = 0;
            for (int64_t i = 0; i < width; ++i) ss += double(x[r * width + i]) * x[r * width + i];
            const double inv = 1.0 / std::sqrt(ss / width + 1e-6);
            for (int64_t i = 0; i < width; ++i) ref[r * width + i] = float(x[r * width + i] * inv * (w.values[i] + offset));
          }
          check(std::string(name) + " vs f64", ys.data(), ref.data(), ref.size(), Mode::rel, 5e-6);
        }
        for (bool bias : {false, true}) {
          std::snprintf(name, sizeof name, "layer_norm %s rows=%lld width=%lld%s", dtype_name(dt), (long long)rows,
                        (long long)width, bias ? " +bias" : "");
          if (!selected(name)) continue;
          // Offset the inputs so the mean matters.
          std::vector<float> xs = x;
          for (auto& v : xs) v += 2.0f;
          scalar_and_simd(best, [&](bool simd) {
            layer_norm(pool, xs.data(), rows, width, w.data(), dt, bias ? b.data() : nullptr, 1e-5f,
                       simd ? yv.data() : ys.data());
          });
          check(name, yv.data(), ys.data(), ys.size(), Mode::rel, 5e-6);
          for (int64_t r = 0; r < rows; ++r) {
            double mean = 0, var = 0;
            for (int64_t i = 0; i < width; ++i) mean += xs[r * width + i];
            mean /= width;
            for (int64_t i = 0; i < width; ++i) var += (xs[r * width + i] - mean) * (xs[r * width + i] - mean);
            const double inv = 1.0 / std::sqrt(var / width + 1e-5);
            for (int64_t i = 0; i < width; ++i)
              ref[r * width + i] = float((xs[r * width + i] - mean) * inv * w.values[i] + (bias ? b.values[i] : 0.0));
          }
          check(std::string(name) + " vs f64", ys.data(), ref.data(), ref.size(), Mode::rel, 5e-6);
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ rope

void test_rope(ThreadPool& pool, Simd best) {
  if (!selected("rope")) return;
  std::printf("rope (SIMD vs scalar; scalar vs formula with f64 trig of the f32 angle)\n");
  struct Case {
    RopeStyle style;
    int32_t heads, head_dim, rotary_dim;
  };
  const Case cases[] = {{RopeStyle::neox, 12, 64, 64},  {RopeStyle::neox, 32, 128, 128}, {RopeStyle::neox, 8, 80, 40},
                        {RopeStyle::neox, 4, 64, 16},   {RopeStyle::gptj, 16, 64, 64},   {RopeStyle::gptj, 4, 16, 8},
                        {RopeStyle::gptj, 8, 128, 64},  {RopeStyle::neox, 2, 36, 36},    {RopeStyle::gptj, 2, 36, 20}};
  for (const Case& c : cases) {
    for (int64_t rows : {1, 7, 64}) {
      char name[128];
      std::snprintf(name, sizeof name, "rope %s rows=%lld heads=%d head_dim=%d rotary=%d",
                    c.style == RopeStyle::neox ? "neox" : "gptj", (long long)rows, c.heads, c.head_dim, c.rotary_dim);
      if (!selected(name)) continue;
      const int64_t width = int64_t(c.heads) * c.head_dim;
      const std::vector<float> x = random_vec(size_t(rows * width));
      std::vector<int32_t> pos(rows);
      for (int64_t r = 0; r < rows; ++r) pos[r] = int32_t(g_rng() % 4096);
      const int32_t half = c.rotary_dim / 2;
      std::vector<float> inv_freq(half);
      for (int32_t i = 0; i < half; ++i) inv_freq[i] = float(1.0 / std::pow(10000.0, 2.0 * i / c.rotary_dim));
      std::vector<float> ys(x.size()), yv(x.size(), NAN), ref(x.size());
      scalar_and_simd(best, [&](bool simd) {
        rope(pool, x.data(), rows, pos.data(), c.heads, c.head_dim, c.rotary_dim, inv_freq.data(), c.style,
             simd ? yv.data() : ys.data());
      });
      check(name, yv.data(), ys.data(), ys.size(), Mode::elem, 1e-6, 1e-6);
      for (int64_t r = 0; r < rows; ++r)
        for (int32_t h = 0; h < c.heads; ++h) {
          const float* xh = &x[r * width + h * c.head_dim];
          float* rh = &ref[r * width + h * c.head_dim];
          for (int32_t i = 0; i < c.head_dim; ++i) rh[i] = xh[i];
          for (int32_t i = 0; i < half; ++i) {
            const double angle = float(pos[r]) * inv_freq[i];  // f32 product, as HF
            const int32_t ia = c.style == RopeStyle::neox ? i : 2 * i;
            const int32_t ib = c.style == RopeStyle::neox ? i + half : 2 * i + 1;
            rh[ia] = float(xh[ia] * std::cos(angle) - xh[ib] * std::sin(angle));
            rh[ib] = float(xh[ib] * std::cos(angle) + xh[ia] * std::sin(angle));
          }
        }
      check(std::string(name) + " vs formula", ys.data(), ref.data(), ref.size(), Mode::elem, 1e-6, 1e-6);
    }
  }
}

// ------------------------------------------------------------------------------------------------ element-wise

double act_ref(double x, ActivationKind k) {
  switch (k) {
    case ActivationKind::silu: return x / (1.0 + std::exp(-x));
    case ActivationKind::gelu_erf: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case ActivationKind::gelu_tanh: return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case ActivationKind::relu: return x > 0 ? x : 0;
    case ActivationKind::gelu_bloom: return x * 0.5 * (1.0 + std::tanh(0.79788456 * x * (1 + 0.044715 * x * x)));
    default: return x;
  }
}

void test_elementwise(ThreadPool& pool, Simd best) {
  if (!selected("elementwise")) return;
  std::printf("elementwise (SIMD vs scalar; scalar vs f64 formula)\n");
  const char* act_names[] = {"silu", "gelu_erf", "gelu_tanh", "relu", "gelu_bloom", "identity"};
  for (int64_t n : {1, 7, 768 * 7 + 3, 100000}) {
    std::vector<float> a = random_vec(n, -10.0f, 10.0f), b = random_vec(n, -2.0f, 2.0f);
    // Include the regions where the approximations are hardest: tiny, large, and the deep negative tail.
    const float probes[] = {1e-6f, -1e-6f, 0.5f, -0.5f, 3.0f, -3.0f, 9.5f, -9.5f, 20.0f, -20.0f, 90.0f, -90.0f, -5.3f};
    for (size_t i = 0; i < sizeof(probes) / sizeof(float) && i < size_t(n); ++i) a[i] = probes[i];
    std::vector<float> ys(n), yv(n, NAN), ref(n);
    char name[128];
    std::snprintf(name, sizeof name, "elementwise add n=%lld", (long long)n);
    scalar_and_simd(best, [&](bool simd) { add(pool, a.data(), b.data(), n, simd ? yv.data() : ys.data()); });
    for (int64_t i = 0; i < n; ++i) ref[i] = a[i] + b[i];
    check(name, yv.data(), ref.data(), n, Mode::elem, 0.0);
    check(std::string(name) + " scalar", ys.data(), ref.data(), n, Mode::elem, 0.0);
    std::snprintf(name, sizeof name, "elementwise mul n=%lld", (long long)n);
    scalar_and_simd(best, [&](bool simd) { mul(pool, a.data(), b.data(), n, simd ? yv.data() : ys.data()); });
    for (int64_t i = 0; i < n; ++i) ref[i] = a[i] * b[i];
    check(name, yv.data(), ref.data(), n, Mode::elem, 0.0);
    check(std::string(name) + " scalar", ys.data(), ref.data(), n, Mode::elem, 0.0);
    for (int k = 0; k <= int(ActivationKind::identity); ++k) {
      const auto kind = ActivationKind(k);
      std::snprintf(name, sizeof name, "elementwise activation %s n=%lld", act_names[k], (long long)n);
      scalar_and_simd(best, [&](bool simd) { activation(pool, a.data(), n, kind, simd ? yv.data() : ys.data()); });
      for (int64_t i = 0; i < n; ++i) ref[i] = float(act_ref(a[i], kind));
      // atol: the textbook f32 GELU formulas cancel in the deep negative tail (1 + erf(x/sqrt2) at x ~ -5 has
      // one significant bit), so values below ~1e-6 are only absolutely close to the f64 ones.
      check(name, yv.data(), ys.data(), n, Mode::elem, 2e-6, 3e-7);
      check(std::string(name) + " scalar vs f64", ys.data(), ref.data(), n, Mode::elem, 1e-6, 3e-7);
      check(std::string(name) + " simd vs f64", yv.data(), ref.data(), n, Mode::elem, 2e-6, 3e-7);
      std::snprintf(name, sizeof name, "elementwise gated %s n=%lld", act_names[k], (long long)n);
      scalar_and_simd(best, [&](bool simd) {
        gated_activation(pool, a.data(), b.data(), n, kind, simd ? yv.data() : ys.data());
      });
      for (int64_t i = 0; i < n; ++i) ref[i] = float(act_ref(a[i], kind) * b[i]);
      check(name, yv.data(), ys.data(), n, Mode::elem, 2e-6, 6e-7);
      check(std::string(name) + " simd vs f64", yv.data(), ref.data(), n, Mode::elem, 3e-6, 6e-7);
    }
  }
}

// ------------------------------------------------------------------------------------------------ gathers

void test_gather(ThreadPool& pool, Simd best) {
  if (!selected("gather")) return;
  std::printf("embedding / pos_embedding / split / select_rows\n");
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    for (int64_t width : {64, 100, 768}) {
      const int64_t vocab = 1000, rows = 37;
      const Weights table = make_weights(size_t(vocab * width), dt);
      std::vector<int32_t> ids(rows), pos(rows);
      for (auto& id : ids) id = int32_t(g_rng() % vocab);
      for (auto& p : pos) p = int32_t(g_rng() % (vocab - 2));
      const std::vector<float> x = random_vec(size_t(rows * width));
      for (float scale : {1.0f, std::sqrt(float(width))}) {
        char name[128];
        std::snprintf(name, sizeof name, "gather embedding %s width=%lld scale=%g", dtype_name(dt), (long long)width, scale);
        std::vector<float> ys(rows * width), yv(rows * width, NAN), ref(rows * width);
        scalar_and_simd(best, [&](bool simd) {
          embedding(pool, ids.data(), rows, table.data(), dt, width, scale, simd ? yv.data() : ys.data());
        });
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t i = 0; i < width; ++i) ref[r * width + i] = table.values[ids[r] * width + i] * scale;
        check(name, yv.data(), ref.data(), ref.size(), Mode::elem, 0.0);
        check(std::string(name) + " scalar", ys.data(), ref.data(), ref.size(), Mode::elem, 0.0);
      }
      char name[128];
      std::snprintf(name, sizeof name, "gather pos_embedding %s width=%lld offset=2", dtype_name(dt), (long long)width);
      std::vector<float> ys(rows * width), yv(rows * width, NAN), ref(rows * width);
      scalar_and_simd(best, [&](bool simd) {
        pos_embedding(pool, x.data(), pos.data(), rows, table.data(), dt, width, 2, simd ? yv.data() : ys.data());
      });
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < width; ++i) ref[r * width + i] = x[r * width + i] + table.values[(pos[r] + 2) * width + i];
      check(name, yv.data(), ref.data(), ref.size(), Mode::elem, 0.0);
      check(std::string(name) + " scalar", ys.data(), ref.data(), ref.size(), Mode::elem, 0.0);
    }
  }
  for (const std::vector<int32_t>& widths : {std::vector<int32_t>{768, 256, 256}, std::vector<int32_t>{5, 3, 9, 1}}) {
    const int64_t rows = 300, total = std::accumulate(widths.begin(), widths.end(), 0);
    const std::vector<float> x = random_vec(size_t(rows * total));
    std::vector<std::vector<float>> outs(widths.size());
    std::vector<float*> ptrs;
    for (size_t i = 0; i < widths.size(); ++i) {
      outs[i].assign(size_t(rows * widths[i]), NAN);
      ptrs.push_back(outs[i].data());
    }
    split(pool, x.data(), rows, widths.data(), int32_t(widths.size()), ptrs.data());
    bool ok = true;
    for (int64_t r = 0; r < rows; ++r) {
      int64_t col = 0;
      for (size_t i = 0; i < widths.size(); ++i)
        for (int32_t c = 0; c < widths[i]; ++c, ++col) ok &= outs[i][r * widths[i] + c] == x[r * total + col];
    }
    expect("gather split widths=" + std::to_string(widths.size()) + " blocks, total " + std::to_string(total), ok);
  }
  {
    const int64_t width = 768, rows = 20;
    const std::vector<float> x = random_vec(size_t(rows * width));
    const int32_t ids[] = {19, 3, 3, 0};
    std::vector<float> y(4 * width);
    select_rows(x.data(), width, ids, 4, y.data());
    bool ok = true;
    for (int i = 0; i < 4; ++i) ok &= std::memcmp(&y[i * width], &x[ids[i] * width], width * sizeof(float)) == 0;
    expect("gather select_rows", ok);
  }
}

// ------------------------------------------------------------------------------------------------ --perf

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Times single calls for about `seconds` and keeps the best and the median. The best call is the figure to compare
// with the best bandwidth pass (both are the least disturbed samples: on a shared virtual machine throughput
// varies from one millisecond to the next); the median shows how noisy the machine was.
struct Timing {
  double best, median;
};

template <class F>
Timing time_calls(F&& call, double seconds = 1.0) {
  std::vector<double> samples;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; samples.size() < 5 || seconds_since(start) < seconds; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    call(i);
    samples.push_back(seconds_since(t0));
  }
  std::sort(samples.begin(), samples.end());
  return {samples.front(), samples[samples.size() / 2]};
}

__attribute__((target("avx2,fma"), noinline)) float fma_chains(int64_t n) {
  __m256 a[10];
  for (int i = 0; i < 10; ++i) a[i] = _mm256_set1_ps(float(i));
  const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < 10; ++j) a[j] = _mm256_fmadd_ps(a[j], b, c);
  __m256 s = a[0];
  for (int i = 1; i < 10; ++i) s = _mm256_add_ps(s, a[i]);
  return _mm256_cvtss_f32(s);
}

// A plain read of `bytes` at p with the pool: each thread sums its contiguous slice as 8 interleaved streams (the
// bandwidth probe's method). Paired with a GEMV call on a matrix of the same size, it gives the GEMV's speed
// relative to reading the same bytes under the same conditions.
__attribute__((target("avx2"))) float sum_streams8(const float* p, int64_t n) {
  const int64_t len = n / 8 / 16 * 16;
  __m256 a[8];
  for (auto& v : a) v = _mm256_setzero_ps();
  for (int64_t i = 0; i < len; i += 16)
    for (int st = 0; st < 8; ++st)
      a[st] = _mm256_add_ps(a[st], _mm256_add_ps(_mm256_loadu_ps(p + st * len + i), _mm256_loadu_ps(p + st * len + i + 8)));
  __m256 t = a[0];
  for (int st = 1; st < 8; ++st) t = _mm256_add_ps(t, a[st]);
  return _mm256_cvtss_f32(t);
}

double timed_read(ThreadPool& pool, const void* p, size_t bytes) {
  std::atomic<float> sink{0};
  const auto t0 = std::chrono::steady_clock::now();
  pool.parallel_for(int64_t(bytes / 4), 1024, [&](int64_t b, int64_t e, int) {
    sink = sink + sum_streams8(static_cast<const float*>(p) + b, e - b);
  });
  return seconds_since(t0);
}

// One decode step (rows = 1) of a 110M-parameter llama-shaped model through the kernels alone: 12 layers, hidden
// 768, 12 heads of 64, MLP 2048 (fused gate|up), vocab 32000, fused qkv, 256 tokens of context growing by one per
// step. Weights are read once per step, so bytes of weights / step time is the effective bandwidth.
void perf_decode_step(ThreadPool& pool, DType dt, double bw) {
  const int64_t L = 12, H = 768, heads = 12, hd = 64, F = 2048, V = 32000, block = 16, ctx0 = 256, max_ctx = 512;
  const size_t es = dtype_size(dt);
  auto filled = [&](size_t n) {  // about 0.01 in every dtype: keeps activations normal (no subnormal slow paths)
    std::vector<uint8_t> b(n * es);
    const uint16_t h = dt == DType::f16 ? 0x211f : 0x3c24;
    const float f = 0.01f;
    for (size_t i = 0; i < n; ++i) {
      if (dt == DType::f32) std::memcpy(&b[i * 4], &f, 4);
      else std::memcpy(&b[i * 2], &h, 2);
    }
    return b;
  };
  struct Layer {
    std::vector<uint8_t> qkv, o, gate_up, down, norm1, norm2;  // [3H, H] [H, H] [2F, H] [H, F] [H] [H]
  };
  std::vector<Layer> layers(L);
  size_t weight_bytes = 0;
  for (auto& l : layers) {
    l.qkv = filled(3 * H * H);
    l.o = filled(H * H);
    l.gate_up = filled(2 * F * H);
    l.down = filled(H * F);
    l.norm1 = filled(H);
    l.norm2 = filled(H);
    weight_bytes += l.qkv.size() + l.o.size() + l.gate_up.size() + l.down.size();
  }
  const std::vector<uint8_t> embed = filled(V * H), final_norm = filled(H);  // embedding tied to the LM head
  weight_bytes += embed.size();
  const int64_t blocks = max_ctx / block, block_stride = 2 * heads * block * hd;
  std::vector<float> cache(size_t(L * blocks * block_stride), 0.01f);
  std::vector<int32_t> table(blocks);
  std::iota(table.begin(), table.end(), 0);
  std::vector<float> inv_freq(hd / 2);
  for (int64_t i = 0; i < hd / 2; ++i) inv_freq[i] = float(std::pow(10000.0, -2.0 * i / hd));
  std::vector<float> x(H), xn(H), qkv(3 * H), q(H), k(H), v(H), qr(H), kr(H), att(H), o(H), gu(2 * F), gate(F), up(F),
      act(F), d(H), logits(V);
  int32_t pos = ctx0, seq = 0, token = 7;
  auto step = [&](int) {
    embedding(pool, &token, 1, embed.data(), dt, H, 1.0f, x.data());
    for (int64_t li = 0; li < L; ++li) {
      const Layer& l = layers[li];
      rms_norm(pool, x.data(), 1, H, l.norm1.data(), dt, 1e-6f, 0.0f, xn.data());
      linear(pool, xn.data(), 1, H, l.qkv.data(), dt, 3 * H, nullptr, qkv.data());
      const int32_t widths[3] = {int32_t(H), int32_t(H), int32_t(H)};
      float* outs[3] = {q.data(), k.data(), v.data()};
      split(pool, qkv.data(), 1, widths, 3, outs);
      rope(pool, q.data(), 1, &pos, heads, hd, hd, inv_freq.data(), RopeStyle::neox, qr.data());
      rope(pool, k.data(), 1, &pos, heads, hd, hd, inv_freq.data(), RopeStyle::neox, kr.data());
      AttentionArgs a{};
      a.q = qr.data();
      a.k = kr.data();
      a.v = v.data();
      a.rows = 1;
      a.positions = &pos;
      a.seq_of_token = &seq;
      a.block_tables = table.data();
      a.max_blocks_per_seq = int32_t(blocks);
      a.kv = PagedKvLayer{reinterpret_cast<uint8_t*>(cache.data() + li * blocks * block_stride), block_stride * 4,
                          int32_t(block), int32_t(heads), int32_t(hd), KvDType::f32};
      a.num_heads = a.num_kv_heads = int32_t(heads);
      a.head_dim = int32_t(hd);
      a.scale = 0.125f;
      a.out = att.data();
      attention(pool, a);
      linear(pool, att.data(), 1, H, l.o.data(), dt, H, nullptr, o.data());
      add(pool, x.data(), o.data(), H, x.data());
      rms_norm(pool, x.data(), 1, H, l.norm2.data(), dt, 1e-6f, 0.0f, xn.data());
      linear(pool, xn.data(), 1, H, l.gate_up.data(), dt, 2 * F, nullptr, gu.data());
      const int32_t gw[2] = {int32_t(F), int32_t(F)};
      float* gouts[2] = {gate.data(), up.data()};
      split(pool, gu.data(), 1, gw, 2, gouts);
      gated_activation(pool, gate.data(), up.data(), F, ActivationKind::silu, act.data());
      linear(pool, act.data(), 1, F, l.down.data(), dt, H, nullptr, d.data());
      add(pool, x.data(), d.data(), H, x.data());
    }
    rms_norm(pool, x.data(), 1, H, final_norm.data(), dt, 1e-6f, 0.0f, xn.data());
    linear(pool, xn.data(), 1, H, embed.data(), dt, V, nullptr, logits.data());
    pos = pos + 1 < ctx0 + 64 ? pos + 1 : ctx0;  // context stays 256..320
  };
  const Timing t = time_calls(step, 2.0);
  const double kv_bytes = double(L) * 2 * (ctx0 + 32) * H * 4;  // what attention reads per step, on average
  std::printf("%-5s %7.0f MB %9.2fms %9.2fms %9.2f %7.1f%% %9.1f\n", dtype_name(dt), weight_bytes / 1e6, t.best * 1e3,
              t.median * 1e3, weight_bytes / t.best / 1e9, 100 * (weight_bytes + kv_bytes) / t.best / 1e9 / bw,
              1.0 / t.median);
}

// The rope fusion on the 110M llama shape's qkv projection (in 768, out 2304 = q, k, v of 12 heads of 64, neox, f32
// weights, hot in cache): what an engine built with --no-fuse-rope runs (linear, split, rope on q, rope on k) against
// what the default runs (linear_rope, split). The two are timed in alternating pairs, so both see the same machine.
void perf_rope(ThreadPool& pool, int64_t rows) {
  const int64_t H = 768, heads = 12, hd = 64, out = 3 * H;
  const std::vector<float> w = random_vec(size_t(out * H)), x = random_vec(size_t(rows * H));
  std::vector<float> inv_freq(hd / 2);
  for (int64_t i = 0; i < hd / 2; ++i) inv_freq[size_t(i)] = float(std::pow(10000.0, -2.0 * double(i) / double(hd)));
  std::vector<int32_t> pos(static_cast<size_t>(rows));
  std::iota(pos.begin(), pos.end(), 100);
  std::vector<float> qkv(size_t(rows * out)), q(size_t(rows * H)), k(q.size()), v(q.size()), qr(q.size()), kr(q.size());
  const int32_t widths[3] = {int32_t(H), int32_t(H), int32_t(H)};
  auto unfused = [&] {
    linear(pool, x.data(), rows, H, w.data(), DType::f32, out, nullptr, qkv.data());
    float* outs[3] = {q.data(), k.data(), v.data()};
    split(pool, qkv.data(), rows, widths, 3, outs);
    rope(pool, q.data(), rows, pos.data(), heads, hd, hd, inv_freq.data(), RopeStyle::neox, qr.data());
    rope(pool, k.data(), rows, pos.data(), heads, hd, hd, inv_freq.data(), RopeStyle::neox, kr.data());
  };
  auto fused = [&] {
    linear_rope(pool, x.data(), rows, H, w.data(), DType::f32, out, nullptr, pos.data(), int32_t(2 * heads), int32_t(hd),
                int32_t(hd), inv_freq.data(), RopeStyle::neox, qkv.data());
    float* outs[3] = {qr.data(), kr.data(), v.data()};
    split(pool, qkv.data(), rows, widths, 3, outs);
  };
  std::vector<double> a, b;
  const auto start = std::chrono::steady_clock::now();
  while (a.size() < 20 || seconds_since(start) < 2.0) {
    auto t0 = std::chrono::steady_clock::now();
    unfused();
    a.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    fused();
    b.push_back(seconds_since(t0));
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const double am = a[a.size() / 2], bm = b[b.size() / 2];
  // The two rope calls alone: the most the fusion could save.
  const Timing r = time_calls([&](int) {
    rope(pool, q.data(), rows, pos.data(), heads, hd, hd, inv_freq.data(), RopeStyle::neox, qr.data());
    rope(pool, k.data(), rows, pos.data(), heads, hd, hd, inv_freq.data(), RopeStyle::neox, kr.data());
  }, 0.5);
  std::printf("%5lld %12.1f %12.1f %12.1f %12.1f %9.1f%% %9.1f%% %10.1f %10.1f\n", (long long)rows, a.front() * 1e6, am * 1e6,
              b.front() * 1e6, bm * 1e6, 100 * (a.front() - b.front()) / a.front(), 100 * (am - bm) / am, r.best * 1e6,
              r.median * 1e6);
}

void run_perf(ThreadPool& pool) {
  std::printf("perf: %d threads, SIMD %s\n", pool.size(), simd_name(simd_level()));
  if (simd_level() < Simd::avx2) std::printf("note: scalar kernels; the FMA peak below still uses AVX2 if present\n");
  // What this machine delivers: the FMA peak of one thread (best short sample), and how much faster all threads
  // together are than one when each runs alone on a std::thread for a while (less than the thread count where
  // virtual CPUs share physical cores).
  const int64_t fma_iters = 20000;  // 200k FMAs: short enough to find undisturbed windows
  std::atomic<float> sink{0};
  const Timing one = time_calls([&](int) { sink = sink + fma_chains(fma_iters); }, 0.5);
  const double peak1 = fma_iters * 160.0 / one.best / 1e9;
  auto sustained = [&](int threads) {
    const int64_t iters = 2000000;  // about 30 ms per thread at full speed
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) ts.emplace_back([&] { sink = sink + fma_chains(iters); });
    for (auto& t : ts) t.join();
    return threads * iters * 160.0 / seconds_since(t0) / 1e9;
  };
  double s1 = 0, sn = 0;
  for (int i = 0; i < 3; ++i) {
    s1 = std::max(s1, sustained(1));
    sn = std::max(sn, sustained(pool.size()));
  }
  std::printf("FMA peak: %.1f GFLOP/s one thread (best 200k-FMA sample); sustained 30 ms: %.1f one thread, %.1f with %d "
              "threads (%.2fx)\n", peak1, s1, sn, pool.size(), sn / s1);
  const Timing disp = time_calls([&](int) { pool.parallel_for(pool.size(), 1, [](int64_t, int64_t, int) {}); }, 0.5);
  std::printf("parallel_for dispatch, empty body: best %.2f us, median %.2f us\n", disp.best * 1e6, disp.median * 1e6);
  const double bw = measure_read_bandwidth(pool, 2.0);
  std::printf("read bandwidth (best 16 MiB pass): %.2f GB/s\n", bw);

  struct Shape {
    int64_t out, in;
  };
  const Shape shapes[] = {{768, 768}, {2048, 768}, {768, 2048}, {32000, 768}};
  if (selected("gemv")) {
  std::printf("\nGEMV rows=1. cold: cycles through copies of the matrix totalling >= 512 MiB, so every call streams it\n"
              "from DRAM, as a decode step of a model larger than the caches does; hot: the same copy every call.\n"
              "%% bw: cold best GB/s over the read bandwidth above. %% read: median over calls of (time of a plain\n"
              "8-stream read of the next copy) / (time of the GEMV), each pair back to back, which stays meaningful\n"
              "on a shared machine whose bandwidth drifts (here between ~30 and ~55 GB/s from one second to the next).\n");
  std::printf("%-5s %-12s %10s %10s %8s %8s %8s %8s %10s %9s\n", "dtype", "out x in", "cold best", "median", "GB/s",
              "% bw", "% read", "GFLOP/s", "hot best", "GB/s");
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    for (const Shape& s : shapes) {
      const size_t n = size_t(s.out * s.in), bytes = n * dtype_size(dt);
      const size_t copies = std::max<size_t>(2, (size_t(512) << 20) / bytes + 1);
      const Weights w = make_weights(n, dt);
      std::vector<uint8_t> all_copies(copies * bytes);
      for (size_t i = 0; i < copies; ++i) std::memcpy(&all_copies[i * bytes], w.data(), bytes);
      const std::vector<float> x = random_vec(size_t(s.in));
      std::vector<float> y(s.out);
      // Pairs: a GEMV on one cold copy, then a plain read of the next one.
      std::vector<double> ratio;
      const Timing cold = time_calls([&](int i) {
        const auto t0 = std::chrono::steady_clock::now();
        linear(pool, x.data(), 1, s.in, &all_copies[(2 * size_t(i) % copies) * bytes], dt, s.out, nullptr, y.data());
        const double tg = seconds_since(t0);
        ratio.push_back(timed_read(pool, &all_copies[((2 * size_t(i) + 1) % copies) * bytes], bytes) / tg);
      });
      std::sort(ratio.begin(), ratio.end());
      const Timing hot = time_calls([&](int) { linear(pool, x.data(), 1, s.in, w.data(), dt, s.out, nullptr, y.data()); });
      const double gbs = bytes / cold.best / 1e9;
      std::printf("%-5s %5lldx%-6lld %8.1fus %8.1fus %8.2f %7.1f%% %7.1f%% %8.2f %8.1fus %9.2f\n", dtype_name(dt),
                  (long long)s.out, (long long)s.in, cold.best * 1e6, cold.median * 1e6, gbs, 100 * gbs / bw,
                  100 * ratio[ratio.size() / 2], 2.0 * n / cold.best / 1e9, hot.best * 1e6, bytes / hot.best / 1e9);
    }
  }
  }
  if (selected("batch")) {
  std::printf("\nGEMV small batches (several sequences decoding together), 2048x768, cold; x rows=1: best time over\n"
              "the best rows=1 time of the same level (1.00 = the 8 sequences cost what one does)\n"
              "%-12s %-5s %5s %10s %8s %8s %8s %8s %9s  %s\n", "level", "dtype", "rows", "best", "GB/s", "% bw", "% read",
              "GFLOP/s", "x rows=1", "path");
  const Simd top_level = simd_level();
  for (Simd level : {Simd::avx2, top_level}) {
  set_simd_level(level);
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    const Shape s{2048, 768};
    const size_t n = size_t(s.out * s.in), bytes = n * dtype_size(dt);
    const size_t copies = (size_t(512) << 20) / bytes + 1;
    const Weights w = make_weights(n, dt);
    std::vector<uint8_t> all_copies(copies * bytes);
    for (size_t i = 0; i < copies; ++i) std::memcpy(&all_copies[i * bytes], w.data(), bytes);
    double t1 = 0;
    for (int64_t rows : {1, 2, 4, 8}) {
      const std::vector<float> x = random_vec(size_t(rows * s.in));
      std::vector<float> y(size_t(rows * s.out));
      std::vector<double> ratio;
      const Timing t = time_calls([&](int i) {
        const auto t0 = std::chrono::steady_clock::now();
        linear(pool, x.data(), rows, s.in, &all_copies[(2 * size_t(i) % copies) * bytes], dt, s.out, nullptr, y.data());
        const double tg = seconds_since(t0);
        ratio.push_back(timed_read(pool, &all_copies[((2 * size_t(i) + 1) % copies) * bytes], bytes) / tg);
      }, 0.5);
      std::sort(ratio.begin(), ratio.end());
      if (rows == 1) t1 = t.best;
      std::printf("%-12s %-5s %5lld %8.1fus %8.2f %7.1f%% %7.1f%% %8.1f %9.2f  %s\n", simd_name(level), dtype_name(dt),
                  (long long)rows, t.best * 1e6, bytes / t.best / 1e9, 100 * bytes / t.best / 1e9 / bw,
                  100 * ratio[ratio.size() / 2], 2.0 * rows * n / t.best / 1e9, t.best / t1, linear_path_name(rows, dt));
    }
  }
  if (top_level == Simd::avx2) break;
  }
  set_simd_level(top_level);

  }
  if (selected("gemm")) {
  // Prefill GEMMs at every level the CPU has, against the measured peak of the instruction set each one uses.
  const std::vector<Peak> peaks = measure_peaks(pool.size());
  std::printf("\nMeasured peaks, %d threads (independent chains of one instruction, best of 3 x 30 ms):\n", pool.size());
  for (const Peak& p : peaks) std::printf("  %-22s %9.1f GFLOP/s\n", p.name, p.gflops);
  auto peak_of = [&](const char* name) {
    for (const Peak& p : peaks)
      if (std::strcmp(p.name, name) == 0) return p.gflops;
    return 0.0;
  };
  const Simd top = simd_level();
  const int64_t prefill_rows = 512;
  std::printf("\nGEMM prefill rows=%lld at each SIMD level (%% peak: of the instruction set the path uses, above)\n"
              "%-12s %-5s %-12s %10s %10s %9s %7s  %s\n", (long long)prefill_rows, "level", "dtype", "out x in", "best",
              "median", "GFLOP/s", "% peak", "path");
  for (Simd level : {Simd::avx2, Simd::avx512, Simd::avx512_bf16, Simd::amx}) {
    if (level > top) {
      std::printf("%-12s skipped (%s)\n", simd_name(level), level <= cpu_simd_level() ? "lowered by LLMC_SIMD" : "not on this CPU");
      continue;
    }
    set_simd_level(level);
    // bf16 twice from avx512_bf16 up: f32 activations (default) and bf16 activations (LLMC_BF16_ACTIVATIONS=1).
    std::vector<std::pair<DType, bool>> configs{{DType::f32, false}, {DType::f16, false}, {DType::bf16, false}};
    if (level >= Simd::avx512_bf16) configs.push_back({DType::bf16, true});
    for (auto [dt, bf16x] : configs) {
      set_bf16_activations(bf16x);
      const bool rounds = linear_rounds_activations(level, dt, prefill_rows);
      const char* isa = rounds ? (level >= Simd::amx ? "amx tdpbf16ps" : "avx512_bf16 vdpbf16ps")
                               : (level >= Simd::avx512 ? "avx512 fma" : "avx2 fma");
      for (const Shape& s : shapes) {
        const int64_t rows = prefill_rows;
        const Weights w = make_weights(size_t(s.out * s.in), dt);
        const std::vector<float> x = random_vec(size_t(rows * s.in));
        std::vector<float> y(size_t(rows * s.out));
        const Timing t = time_calls([&](int) { linear(pool, x.data(), rows, s.in, w.data(), dt, s.out, nullptr, y.data()); },
                                    0.5);
        const double gf = 2.0 * rows * s.in * s.out / t.best / 1e9;
        std::printf("%-12s %-5s %5lldx%-6lld %8.2fms %8.2fms %9.1f %6.0f%%  %s\n", simd_name(level), bf16x ? "bf16x" : dtype_name(dt),
                    (long long)s.out, (long long)s.in, t.best * 1e3, t.median * 1e3, gf, 100 * gf / peak_of(isa), isa);
      }
    }
    set_bf16_activations(false);
  }
  set_simd_level(top);
  }
  if (selected("step")) {
  std::printf("\nDecode step, kernels only: 110M-param llama shape (12 x [qkv, o, gate|up, down] + tied 32000x768 head),\n"
              "rows = 1, 256..320 tokens of context. %% bw counts weights + KV cache read.\n"
              "%-5s %10s %11s %11s %9s %8s %9s\n", "dtype", "weights", "best", "median", "GB/s", "% bw", "tok/s med");
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) perf_decode_step(pool, dt, bw);
  }
  if (selected("rope")) {
  std::printf("\nRope fusion, 110M qkv projection (768 -> 3 x 768, 12 q + 12 k heads of 64, f32): linear + split + 2 rope\n"
              "(--no-fuse-rope) vs linear_rope + split (default), timed in alternating pairs; times in us.\n"
              "%5s %12s %12s %12s %12s %10s %10s %10s %10s\n", "rows", "unfused best", "median", "fused best", "median", "saved best",
              "saved med", "2 rope best", "median");
  for (int64_t rows : {1, 8, 128}) perf_rope(pool, rows);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool perf = false;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--perf") == 0) perf = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[++i]);
    else g_filter = argv[i];
  }
  ThreadPool pool(threads);
  if (perf) {
    run_perf(pool);
    return 0;
  }
  const Simd best = simd_level();
  std::printf("backend_ops: SIMD level %s vs scalar, %d threads; CPU features: %s\n", simd_name(best), pool.size(),
              cpu_features().names().c_str());
  if (best == Simd::scalar) std::printf("note: no SIMD level available; only the scalar kernels are checked\n");
  // Every level up to the best one is tested; the levels above it are reported as skipped by name.
  std::vector<Simd> levels;
  for (Simd l : {Simd::avx2, Simd::avx512, Simd::avx512_bf16, Simd::amx}) {
    if (l <= best) levels.push_back(l);
    else std::printf("  SKIP  level %s: %s\n", simd_name(l), l <= cpu_simd_level() ? "lowered by LLMC_SIMD" : "not supported by this CPU");
  }
  test_dtype(best);
  test_thread_pool(pool);
  test_linear(pool, levels);
  test_fusions(pool, levels);
  test_norms(pool, best);
  test_rope(pool, best);
  test_elementwise(pool, best);
  test_gather(pool, best);
  set_simd_level(best);
  std::printf("\n%d cases, %d failed\n", g_cases, g_failures);
  return g_failures == 0 ? 0 : 1;
}
