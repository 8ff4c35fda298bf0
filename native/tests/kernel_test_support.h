// Shared harness of the kernel tests (backend_ops: SIMD vs scalar CPU kernels; cuda_backend_ops: CUDA vs CPU):
// seeded random data that is never zero, weights rounded to their dtype with the f32 values they really hold,
// and one comparison that prints PASS/FAIL with the error as a fraction of the tolerance.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../cpu/dtype.h"
#include "../cpu/kernels.h"

namespace llmc::test {

inline int g_failures = 0;
inline int g_cases = 0;
inline const char* g_filter = "";  // run only cases whose name contains this
inline std::mt19937 g_rng(1234);

inline bool selected(const std::string& name) { return std::strstr(name.c_str(), g_filter) != nullptr; }

// Uniform in [lo, hi), never exactly 0 (zeros hide indexing bugs).
inline std::vector<float> random_vec(size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) {
    do x = u(g_rng);
    while (x == 0.0f);
  }
  return v;
}

using ::llmc::dtype_name;

// A weight tensor in dtype t, with the f32 values it really holds (after rounding) for references.
struct Weights {
  cpu::DType dtype;
  std::vector<uint8_t> bytes;
  std::vector<float> values;
  const void* data() const { return bytes.data(); }
};

inline Weights make_weights(size_t n, cpu::DType t, float lo = -1.0f, float hi = 1.0f) {
  Weights w{t, std::vector<uint8_t>(n * cpu::dtype_size(t)), random_vec(n, lo, hi)};
  for (size_t i = 0; i < n; ++i) {
    if (t == cpu::DType::f32) {
      std::memcpy(w.bytes.data() + 4 * i, &w.values[i], 4);
    } else {
      const uint16_t h = t == cpu::DType::f16 ? cpu::f32_to_f16(w.values[i]) : cpu::f32_to_bf16(w.values[i]);
      std::memcpy(w.bytes.data() + 2 * i, &h, 2);
      w.values[i] = t == cpu::DType::f16 ? cpu::f16_to_f32(h) : cpu::bf16_to_f32(h);
    }
  }
  return w;
}

// rel: |got - ref| <= atol + rtol * max|ref| over the case; elem: <= atol + rtol * |ref| per element.
enum class Mode { rel, elem };

// Records and prints one comparison. A non-finite result fails unless the reference is non-finite there too.
inline bool check(const std::string& name, const float* got, const float* ref, size_t n, Mode mode, double rtol,
                  double atol = 0.0) {
  ++g_cases;
  double max_ref = 0.0, max_err = 0.0, worst = 0.0;
  bool finite = true;
  for (size_t i = 0; i < n; ++i) max_ref = std::max(max_ref, std::fabs(double(ref[i])));
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(got[i]) && std::isfinite(ref[i])) finite = false;
    const double err = std::fabs(double(got[i]) - double(ref[i]));
    const double bound = mode == Mode::rel ? atol + rtol * max_ref : atol + rtol * std::fabs(double(ref[i]));
    max_err = std::max(max_err, err);
    worst = std::max(worst, bound > 0 ? err / bound : (err > 0 ? 1e30 : 0.0));
  }
  const bool pass = finite && worst <= 1.0;
  if (!pass) ++g_failures;
  std::printf("  %s  %-64s max_abs_err %.3g  (%.2f of tolerance, %s rtol %.0e)\n", pass ? "PASS" : "FAIL",
              name.c_str(), max_err, worst, mode == Mode::rel ? "rel" : "elem", rtol);
  return pass;
}

// Records a yes/no case.
inline void expect(const std::string& name, bool ok, const std::string& detail = "") {
  ++g_cases;
  if (!ok) ++g_failures;
  std::printf("  %s  %-64s %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
}

}  // namespace llmc::test
