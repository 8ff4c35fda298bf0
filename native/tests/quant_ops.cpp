// quant_ops: the quantized linear (cpu::linear_q, op linear_q) at every SIMD level this CPU has against the scalar
// reference, and the scalar reference against a double-precision sum over the dequantized weights, for every code
// dtype (i8, u4, f8e4m3), on decode (rows 1..8) and prefill shapes, odd shapes, with and without offsets, bias and
// an act-order permutation, and int8 activations (activation_bits 8). Levels the CPU lacks are reported as skipped by name. Exits non-zero on a failure.
//
//   native/build/quant_ops            # correctness
//   native/build/quant_ops u4         # only cases whose name contains "u4"
//   native/build/quant_ops --perf     # decode GEMV GB/s of the quantized bytes next to a plain read of them, and
//                                     # prefill GMAC/s ("--perf prefill", "--perf 'decode i8 i8'": only those cells)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "dtype.h"
#include "kernels.h"
#include "linear_quant.h"

#include "kernel_test_support.h"

using namespace llmc;
using namespace llmc::cpu;
using namespace llmc::test;

namespace {

// A random quantized weight [out, in] with its dequantized values (what the kernels must multiply by).
struct QWeight {
  DType qt;
  int64_t out, in, group;
  std::vector<uint8_t> q;
  std::vector<float> scales, offsets;
  std::vector<int32_t> perm;
  std::vector<float> in_scale;
  std::vector<float> deq;  // [out, in] dequantized, in qweight's column order
  QuantWeight view() const {
    QuantWeight w;
    w.q = q.data();
    w.qt = qt;
    w.scales = scales.data();
    w.offsets = offsets.empty() ? nullptr : offsets.data();
    w.perm = perm.empty() ? nullptr : perm.data();
    w.input_scale = in_scale.empty() ? nullptr : in_scale.data();
    w.group_size = group;
    return w;
  }
};

QWeight make_qweight(DType qt, int64_t out, int64_t in, int64_t group, bool offsets, bool perm, bool in_scale = false) {
  QWeight w{qt, out, in, group, {}, {}, {}, {}, {}, {}};
  if (in_scale) w.in_scale = random_vec(size_t(in), 0.25f, 4.0f);
  const int64_t ng = in / group;
  const int64_t rb = qt == DType::u4 ? in / 2 : in;
  w.q.assign(size_t(out * rb), 0);
  std::uniform_int_distribution<int> byte(0, 255), nib(0, 15);
  w.scales = random_vec(size_t(out * ng), 0.001f, 0.02f);
  if (offsets) w.offsets = random_vec(size_t(out * ng), -0.1f, 0.1f);
  w.deq.resize(size_t(out * in));
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      float code;
      if (qt == DType::u4) {
        const int v = nib(g_rng);
        w.q[size_t(o * rb + i / 2)] |= uint8_t(i & 1 ? v << 4 : v);
        code = float(v);
      } else if (qt == DType::i8) {
        const int v = byte(g_rng) - 128;
        w.q[size_t(o * in + i)] = uint8_t(int8_t(v));
        code = float(v);
      } else {
        int b;
        do b = byte(g_rng);
        while ((b & 0x7f) == 0x7f);  // no NaN codes
        w.q[size_t(o * in + i)] = uint8_t(b);
        code = fp8e4m3_to_f32(uint8_t(b));
      }
      const int64_t g = i / group;
      w.deq[size_t(o * in + i)] = w.scales[size_t(o * ng + g)] * code + (offsets ? w.offsets[size_t(o * ng + g)] : 0.0f);
    }
  if (perm) {
    w.perm.resize(size_t(in));
    std::iota(w.perm.begin(), w.perm.end(), 0);
    std::shuffle(w.perm.begin(), w.perm.end(), g_rng);
  }
  return w;
}

const char* qt_name(DType t) { return dtype_name(t); }

void test_linear_q(ThreadPool& pool, const std::vector<Simd>& levels) {
  struct Case {
    int64_t out, in, group;
    std::vector<int64_t> rows;
    bool offsets, bias, perm, in_scale;
  };
  const Case cases[] = {
      {256, 256, 32, {1, 3, 8, 33, 100}, true, false, false, false},  // group 32 (GPTQ/AWQ style), decode and prefill
      {768, 768, 128, {1, 7, 64}, true, true, false, false},          // int4 g128 with bias
      {384, 128, 128, {1, 2, 9}, false, false, false, false},         // per channel, no offsets
      {64, 4096, 64, {1, 4, 8}, true, false, false, false},           // long rows
      {2048, 512, 512, {1, 5, 50}, false, true, false, false},        // per channel, wide output
      {96, 256, 32, {1, 8, 20}, true, false, true, false},            // act-order permutation
      {128, 256, 64, {1, 8, 20}, true, false, false, true},           // AWQ input scale
      {64, 128, 32, {1, 9}, true, true, true, true},                  // both
      {37, 80, 20, {1, 6, 11}, true, true, false, false},             // odd shapes: group not a multiple of 8
      {13, 34, 34, {1, 3, 10}, false, false, false, false},           // in not a multiple of the vector width
  };
  for (DType qt : {DType::i8, DType::u4, DType::f8e4m3}) {
    for (const Case& c : cases) {
      if (qt == DType::u4 && c.group % 2 != 0) continue;
      const QWeight w = make_qweight(qt, c.out, c.in, c.group, c.offsets, c.perm, c.in_scale);
      const Weights b = make_weights(size_t(c.out), DType::f32);
      for (int64_t rows : c.rows) {
        char name[160];
        std::snprintf(name, sizeof name, "linear_q %s rows=%lld %lldx%lld g%lld%s%s%s%s", qt_name(qt), (long long)rows,
                      (long long)c.out, (long long)c.in, (long long)c.group, c.offsets ? " +offsets" : "",
                      c.bias ? " +bias" : "", c.perm ? " +perm" : "", c.in_scale ? " +input_scale" : "");
        if (!selected(name)) continue;
        const std::vector<float> x = random_vec(size_t(rows * c.in));
        const QuantWeight qw = w.view();
        std::vector<float> ref(size_t(rows * c.out));
        set_simd_level(Simd::scalar);
        linear_q(pool, x.data(), rows, c.in, qw, c.out, c.bias ? b.data() : nullptr, DType::f32, ref.data());
        // The scalar kernel against a double sum over the dequantized weights (perm gathers x).
        std::vector<float> want(ref.size());
        for (int64_t t = 0; t < rows; ++t)
          for (int64_t o = 0; o < c.out; ++o) {
            double s = c.bias ? b.values[size_t(o)] : 0.0;
            for (int64_t i = 0; i < c.in; ++i) {
              const int64_t src = c.perm ? w.perm[size_t(i)] : i;
              const double sc = c.in_scale ? w.in_scale[size_t(i)] : 1.0;
              s += double(x[size_t(t * c.in + src)]) * sc * w.deq[size_t(o * c.in + i)];
            }
            want[size_t(t * c.out + o)] = float(s);
          }
        check(std::string(name) + " scalar vs f64", ref.data(), want.data(), ref.size(), Mode::rel, 1e-5);
        for (Simd level : levels) {
          if (level == Simd::scalar) continue;
          std::vector<float> y(ref.size(), NAN);
          set_simd_level(level);
          linear_q(pool, x.data(), rows, c.in, qw, c.out, c.bias ? b.data() : nullptr, DType::f32, y.data());
          check(std::string(name) + " " + simd_name(level) + " vs scalar", y.data(), ref.data(), ref.size(), Mode::rel, 1e-5);
        }
      }
    }
  }
}

// activation_bits 8 (int8 activations, every step): every level (VNNI where the CPU has it and the group is a
// multiple of 32 for u4 codes, of 64 for i8 codes, AVX2 integer dot products elsewhere, the float kernels on fake-quantized x at the scalar level)
// against the scalar reference of the same definition, and that against the f32 result. Decode row counts
// (1..8) and prefill ones; each row alone (a decode step) must give bit-identical outputs to the same row inside
// a prefill call at the same level. "extreme" cases put every i8 code at -128 (u4 at 15) and every x at +-1 (xq
// +-127): the largest pair sums vpmaddubsw can see, to show it never saturates.
void test_act8(ThreadPool& pool, const std::vector<Simd>& levels) {
  std::printf("linear_q with int8 activations (VNNI %s)\n",
              llmc::cpu::quant::vnni_available() ? "available" : "not available: AVX2 integer dot products");
  struct Case { int64_t out, in, group; std::vector<int64_t> rows; bool offsets, bias, perm, extreme; };
  const Case cases[] = {
      {256, 512, 128, {1, 7, 33}, true, false, false, false},   // int4 g128 shape
      {200, 256, 64, {1, 8, 100}, true, true, false, false},    // g64, bias
      {128, 768, 768, {1, 2, 12}, false, false, false, false},  // per channel (the int8 scheme)
      {96, 256, 64, {1, 9}, true, false, true, false},          // act-order permutation
      {64, 96, 32, {1, 7, 33}, true, false, false, false},      // g32, in % 128 != 0 (VNNI u4: masked tail chunk)
      {72, 352, 32, {1, 2, 3, 4, 5, 6, 7, 8, 9}, true, true, false, false},  // g32, every decode row count, tail
      {45, 192, 64, {1, 5, 9}, true, false, false, false},      // g64, in % 128 != 0
      {40, 384, 128, {1, 2, 3, 4, 5, 9}, true, true, false, false},  // g128, decode row counts
      {24, 640, 32, {512}, true, true, false, false},           // g32 prefill, 512 rows
      {24, 512, 128, {517}, true, false, false, false},         // g128 prefill, 517 rows
      {48, 288, 96, {1, 6, 50}, true, false, false, false},     // g96 (a multiple of 32, not of 64), tail
      {24, 256, 32, {1, 9}, true, false, false, true},          // extreme, g32 with offsets
      {37, 200, 40, {1, 7, 33}, true, true, false, false},      // group not a multiple of 32
      {13, 34, 34, {1, 3, 10}, false, false, false, false},     // in not a multiple of the vector width
      {33, 1024, 1024, {1, 7, 33}, false, false, false, true},  // extreme codes and activations, per channel
      {40, 256, 128, {1, 9}, true, false, false, true},         // extreme, g128 with offsets
  };
  for (DType qt : {DType::i8, DType::u4}) {
    for (const Case& c : cases) {
      QWeight w = make_qweight(qt, c.out, c.in, c.group, c.offsets, c.perm);
      if (c.extreme) {
        std::fill(w.q.begin(), w.q.end(), uint8_t(qt == DType::u4 ? 0xff : 0x80));
        const int64_t ng = c.in / c.group;
        for (int64_t o = 0; o < c.out; ++o)
          for (int64_t i = 0; i < c.in; ++i)
            w.deq[size_t(o * c.in + i)] = w.scales[size_t(o * ng + i / c.group)] * (qt == DType::u4 ? 15.0f : -128.0f) +
                                          (c.offsets ? w.offsets[size_t(o * ng + i / c.group)] : 0.0f);
      }
      const Weights b = make_weights(size_t(c.out), DType::f32);
      for (int64_t rows : c.rows) {
        std::vector<float> x = random_vec(size_t(rows * c.in));
        if (c.extreme)
          for (size_t i = 0; i < x.size(); ++i) x[i] = (i * 7 + 3) % 5 < 2 ? -1.0f : 1.0f;
        char name[160];
        std::snprintf(name, sizeof name, "linear_q act8 %s rows=%lld %lldx%lld g%lld%s%s%s%s", qt_name(qt), (long long)rows,
                      (long long)c.out, (long long)c.in, (long long)c.group, c.offsets ? " +offsets" : "",
                      c.bias ? " +bias" : "", c.perm ? " +perm" : "", c.extreme ? " extreme" : "");
        if (!selected(name)) continue;
        QuantWeight qw = w.view();
        const void* bp = c.bias ? b.data() : nullptr;
        std::vector<float> f32(size_t(rows * c.out)), ref(f32.size());
        set_simd_level(Simd::scalar);
        linear_q(pool, x.data(), rows, c.in, qw, c.out, bp, DType::f32, f32.data());
        qw.activation_bits = 8;
        linear_q(pool, x.data(), rows, c.in, qw, c.out, bp, DType::f32, ref.data());
        // int8 activations move results by about 1/254 of each group's largest |x|: a few 1e-3 relative (the extreme
        // cases quantize exactly: x = +-1 is +-127 * (1/127) up to f32 rounding).
        check(std::string(name) + " scalar vs f32 activations", ref.data(), f32.data(), ref.size(), Mode::rel, 2e-2);
        for (Simd level : levels) {
          std::vector<float> y(ref.size(), NAN);
          set_simd_level(level);
          linear_q(pool, x.data(), rows, c.in, qw, c.out, bp, DType::f32, y.data());
          // The integer paths sum each group exactly and scale it once; the reference sums f32 products: f32
          // rounding of the reference's sum only.
          if (level != Simd::scalar)
            check(std::string(name) + " " + simd_name(level) + " vs scalar", y.data(), ref.data(), ref.size(), Mode::rel, 1e-5);
          if (rows == 1) continue;
          bool same = true;  // every row alone (a decode step) against the same row of this call
          std::vector<float> y1(size_t(c.out));
          for (int64_t t = 0; t < rows; ++t) {
            linear_q(pool, x.data() + t * c.in, 1, c.in, qw, c.out, bp, DType::f32, y1.data());
            same = same && std::memcmp(y1.data(), y.data() + t * c.out, y1.size() * sizeof(float)) == 0;
          }
          expect(std::string(name) + " " + simd_name(level) + ": each row alone bit-identical to this call", same);
        }
      }
    }
  }
}

// quantize_activations at every level it has gives the same bytes, scales and sums: random x, and x of exact
// halves of the scale (ties: round half to even), over groups of 8 to 1024 columns (masked tails at AVX-512).
void test_quantize_act() {
  using namespace llmc::cpu::quant;
  for (int64_t group : {8, 20, 32, 40, 64, 100, 128, 1024}) {
    const int64_t rows = 3, in = group * 3;
    for (int kind = 0; kind < 2; ++kind) {
      std::vector<float> x = random_vec(size_t(rows * in));
      if (kind == 1)  // largest |x| 127 per group: x / sx = x, and k + 0.5 are ties
        for (size_t i = 0; i < x.size(); ++i) x[i] = i % size_t(group) == 0 ? 127.0f : float(int(i % 23) - 11) + 0.5f;
      Act8 r, a2, a5;
      quantize_activations(x.data(), rows, in, group, r);
      quantize_activations_avx2(x.data(), rows, in, group, a2);
      bool same2 = r.xq == a2.xq && r.sx == a2.sx && r.qsum == a2.qsum && r.xs == a2.xs, same5 = true;
      if (vnni_available()) {
        quantize_activations_avx512(x.data(), rows, in, group, a5);
        same5 = r.xq == a5.xq && r.sx == a5.sx && r.qsum == a5.qsum && r.xs == a5.xs && a2.xs == a5.xs;
      }
      char name[96];
      std::snprintf(name, sizeof name, "quantize_activations g%lld %s: avx2%s identical to scalar", (long long)group,
                    kind ? "ties" : "random", vnni_available() ? " and avx512" : "");
      expect(name, same2 && same5);
    }
  }
}

void test_fp8_decode() {
  // Every fp8 code against its definition (sign, 4-bit exponent with bias 7, 3-bit mantissa, subnormals).
  bool ok = true;
  for (int b = 0; b < 256; ++b) {
    const int e = (b >> 3) & 15, m = b & 7;
    const float v = fp8e4m3_to_f32(uint8_t(b));
    if (e == 15 && m == 7) {
      ok = ok && std::isnan(v);
      continue;
    }
    const double mag = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
    ok = ok && double(v) == ((b & 0x80) ? -mag : mag);
  }
  expect("fp8 e4m3 decode: all 256 codes", ok);
  expect("fp8 e4m3 max finite is 448", fp8e4m3_to_f32(0x7e) == 448.0f && fp8e4m3_to_f32(0xfe) == -448.0f);
}

// Seconds per call of linear_q (3 warm-up calls, then calls for at least 0.4 s): the mean; *best: the fastest single
// call, which a shared machine's load disturbs far less (compare kernels by it).
double time_call(ThreadPool& pool, const std::vector<float>& x, int64_t rows, const QuantWeight& qw, int64_t out, int64_t in,
                 std::vector<float>& y, double* best) {
  for (int i = 0; i < 3; ++i) linear_q(pool, x.data(), rows, in, qw, out, nullptr, DType::f32, y.data());
  int iters = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double secs = 0;
  *best = 1e30;
  do {
    const auto c0 = std::chrono::steady_clock::now();
    linear_q(pool, x.data(), rows, in, qw, out, nullptr, DType::f32, y.data());
    const auto c1 = std::chrono::steady_clock::now();
    *best = std::min(*best, std::chrono::duration<double>(c1 - c0).count());
    ++iters;
    secs = std::chrono::duration<double>(c1 - t0).count();
  } while (secs < 0.4);
  return secs / iters;
}

// One --perf cell: "<phase> <codes> <act> <out>x<in>" is its label (what the filter matches); random x of `rows`
// rows through linear_q with activation_bits `act`. ran is false when the filter skips the cell.
struct PerfCell {
  bool ran = false;
  double secs = 0, best = 0;  // time_call's mean and fastest call
  char shape[32] = {};        // "<out>x<in>", "/g<group>" added for u4
};

PerfCell perf_cell(ThreadPool& pool, const char* phase, const QWeight& w, int act, int64_t rows) {
  PerfCell c;
  if (w.qt == DType::u4) std::snprintf(c.shape, sizeof c.shape, "%lldx%lld/g%lld", (long long)w.out, (long long)w.in, (long long)w.group);
  else std::snprintf(c.shape, sizeof c.shape, "%lldx%lld", (long long)w.out, (long long)w.in);
  char label[64];
  std::snprintf(label, sizeof label, "%s %s %s %s", phase, qt_name(w.qt), act ? "i8" : "f32", c.shape);
  if (!selected(label)) return c;
  const std::vector<float> x = random_vec(size_t(rows * w.in));
  std::vector<float> y(size_t(rows * w.out));
  QuantWeight qw = w.view();
  qw.activation_bits = act;
  c.secs = time_call(pool, x, rows, qw, w.out, w.in, y, &c.best);
  c.ran = true;
  return c;
}

// Decode-step GEMV throughput (u4 at g128 and g32): GB/s of the quantized bytes next to a plain read of them, on a 4096 x 4096 weight
// (16 MB as i8: L3-resident on many machines once warm) and a 32000 x 768 one (an LM head, 24.6 MB: streamed from
// DRAM here), with f32 activations (act=f32) and int8 activations (act=i8, activation_bits 8). Then prefill
// (512 rows) on 2048 x 768 and 768 x 2048 (the 134M shape's MLP) in GMAC/s.
void perf(ThreadPool& pool) {
  const double bw = measure_read_bandwidth(pool, 0.5);
  std::printf("read bandwidth (all threads): %.1f GB/s; %d threads, SIMD %s, VNNI %s\n", bw, pool.size(),
              simd_name(simd_level()), llmc::cpu::quant::vnni_available() ? "yes" : "no");
  std::printf("%-10s %-5s %-15s %5s %10s %10s %8s %10s\n", "codes", "act", "shape", "rows", "us/call", "GB/s", "% read", "best us");
  struct Shape { int64_t out, in; };
  struct CodeGroup { DType qt; int64_t group; };  // group 0: per channel; u4 at g128 and g32 (--group-size 32)
  for (const Shape sh : {Shape{4096, 4096}, Shape{32000, 768}})
    for (const CodeGroup cg : {CodeGroup{DType::i8, 0}, CodeGroup{DType::u4, 128}, CodeGroup{DType::u4, 32}, CodeGroup{DType::f8e4m3, 0}}) {
      const DType qt = cg.qt;
      const int64_t group = cg.group ? cg.group : sh.in;
      const QWeight w = make_qweight(qt, sh.out, sh.in, group, qt == DType::u4, false);
      const double bytes = double(w.q.size()) + 4.0 * (w.scales.size() + w.offsets.size());
      for (int act : {0, 8}) {
        if (act == 8 && qt == DType::f8e4m3) continue;
        for (int64_t rows : {1, 4, 8}) {
          const PerfCell c = perf_cell(pool, "decode", w, act, rows);
          if (!c.ran) continue;
          std::printf("%-10s %-5s %-15s %5lld %10.1f %10.1f %7.0f%% %10.1f\n", qt_name(qt), act ? "i8" : "f32", c.shape, (long long)rows,
                      c.secs * 1e6, bytes / c.secs / 1e9, 100.0 * bytes / c.secs / 1e9 / bw, c.best * 1e6);
        }
      }
    }
  std::printf("\nprefill, 512 rows\n%-10s %-5s %-15s %10s %10s %10s\n", "codes", "act", "shape", "ms/call", "GMAC/s", "best ms");
  for (const Shape sh : {Shape{2048, 768}, Shape{768, 2048}})
    for (const CodeGroup cg : {CodeGroup{DType::i8, 0}, CodeGroup{DType::u4, 128}, CodeGroup{DType::u4, 32}}) {
      const DType qt = cg.qt;
      const int64_t group = cg.group ? cg.group : sh.in, rows = 512;
      const QWeight w = make_qweight(qt, sh.out, sh.in, group, qt == DType::u4, false);
      for (int act : {0, 8}) {
        const PerfCell c = perf_cell(pool, "prefill", w, act, rows);
        if (!c.ran) continue;
        std::printf("%-10s %-5s %-15s %10.2f %10.1f %10.2f\n", qt_name(qt), act ? "i8" : "f32", c.shape, c.secs * 1e3,
                    double(rows * sh.out * sh.in) / c.secs / 1e9, c.best * 1e3);
      }
    }
}

}  // namespace

int main(int argc, char** argv) {
  bool do_perf = false;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--perf") == 0) do_perf = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[++i]);
    else g_filter = argv[i];
  }
  ThreadPool pool(threads);
  const Simd best = simd_level();
  if (do_perf) {
    perf(pool);
    return 0;
  }
  std::vector<Simd> levels;
  for (Simd s : {Simd::scalar, Simd::avx2, Simd::avx512}) {
    set_simd_level(s);
    if (simd_level() == s) levels.push_back(s);
    else std::printf("skipped: SIMD level %s (this CPU or build does not have it)\n", simd_name(s));
  }
  std::printf("quant_ops: linear_q at %zu SIMD level(s) vs scalar, %d threads\n", levels.size(), pool.size());
  test_fp8_decode();
  test_linear_q(pool, levels);
  test_quantize_act();
  test_act8(pool, levels);
  set_simd_level(best);
  std::printf("\n%d cases, %d failed\n", g_cases, g_failures);
  return g_failures == 0 ? 0 : 1;
}
