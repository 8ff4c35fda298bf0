// Element-wise kernels on flat f32 arrays: add, mul, activation, gated_activation (y = act(gate) * up).
//
// The scalar activations are the textbook formulas HF uses (std::erf, std::tanh). The AVX2 ones use identities
// that stay accurate in f32 everywhere: 0.5 (1 + tanh(u)) = sigmoid(2u) for the tanh GELUs (no cancellation for
// very negative x), and 0.5 (1 + erf(x / sqrt2)) = 0.5 erfc(-x / sqrt2) for the erf GELU, evaluated from
// erfc of a non-negative argument.
#include <algorithm>
#include <cmath>

#include "avx2.h"
#include "kernels.h"

namespace llmc::cpu {
namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per thread hand-off: below this one thread does it all

// ------------------------------------------------------------------------------------------------ scalar

float act_scalar(float x, ActivationKind kind) {
  switch (kind) {
    case ActivationKind::silu: return x / (1.0f + std::exp(-x));
    case ActivationKind::gelu_erf: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case ActivationKind::gelu_tanh:
      return 0.5f * x * (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case ActivationKind::relu: return x > 0.0f ? x : 0.0f;
    case ActivationKind::gelu_bloom: return x * 0.5f * (1.0f + std::tanh(0.79788456f * x * (1.0f + 0.044715f * x * x)));
    default: return x;
  }
}

// ------------------------------------------------------------------------------------------------ AVX2

LLMC_AVX2 inline __m256 act_avx2(__m256 x, ActivationKind kind) {
  switch (kind) {
    case ActivationKind::silu: return _mm256_mul_ps(x, avx2::sigmoid(x));
    case ActivationKind::gelu_erf: {
      // x >= 0: x (1 - erfc(z)/2);  x < 0: x erfc(z)/2;  z = |x| / sqrt2
      const __m256 sign = _mm256_set1_ps(-0.0f);
      const __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(0.70710678118654752f));
      const __m256 half_erfc = _mm256_mul_ps(_mm256_set1_ps(0.5f), avx2::erfc_nonneg(z));
      const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
      const __m256 factor = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), half_erfc), half_erfc, neg);
      return _mm256_mul_ps(x, factor);
    }
    case ActivationKind::gelu_tanh: {
      // u = sqrt(2/pi) (x + 0.044715 x^3); y = x sigmoid(2u)
      const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
      const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.79788456080286536f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
      return _mm256_mul_ps(x, avx2::sigmoid(_mm256_add_ps(u, u)));
    }
    case ActivationKind::relu: return _mm256_max_ps(x, _mm256_setzero_ps());
    case ActivationKind::gelu_bloom: {
      // u = 0.79788456 x (1 + 0.044715 x^2); y = x sigmoid(2u)
      const __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), x), x, _mm256_set1_ps(1.0f));
      const __m256 u = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.79788456f), x), inner);
      return _mm256_mul_ps(x, avx2::sigmoid(_mm256_add_ps(u, u)));
    }
    default: return x;
  }
}

LLMC_AVX2 void activation_avx2(const float* x, int64_t n, ActivationKind kind, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, act_avx2(_mm256_loadu_ps(x + i), kind));
  if (i < n) {  // the tail through a padded vector, so it gets the same formula as the body
    alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::copy(x + i, x + n, t);
    _mm256_store_ps(t, act_avx2(_mm256_load_ps(t), kind));
    std::copy(t, t + (n - i), y + i);
  }
}

LLMC_AVX2 void gated_avx2(const float* gate, const float* up, int64_t n, ActivationKind kind, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(act_avx2(_mm256_loadu_ps(gate + i), kind), _mm256_loadu_ps(up + i)));
  if (i < n) {
    alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::copy(gate + i, gate + n, t);
    _mm256_store_ps(t, act_avx2(_mm256_load_ps(t), kind));
    for (int64_t j = i; j < n; ++j) y[j] = t[j - i] * up[j];
  }
}

LLMC_AVX2 void add_avx2(const float* a, const float* b, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) y[i] = a[i] + b[i];
}

LLMC_AVX2 void mul_avx2(const float* a, const float* b, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) y[i] = a[i] * b[i];
}

bool use_simd() {
  const bool simd = simd_level() >= Simd::avx2;
  note_kernel_path(KernelOp::elementwise, simd ? "avx2" : "scalar");
  return simd;
}

}  // namespace

void activation_span(const float* x, int64_t n, ActivationKind kind, float* y) {
  if (use_simd()) return activation_avx2(x, n, kind, y);
  for (int64_t i = 0; i < n; ++i) y[i] = act_scalar(x[i], kind);
}

void add(ThreadPool& pool, const float* a, const float* b, int64_t n, float* y) {
  const bool simd = use_simd();
  pool.parallel_for(n, kGrain, [&](int64_t i0, int64_t i1, int) {
    if (simd) return add_avx2(a + i0, b + i0, i1 - i0, y + i0);
    for (int64_t i = i0; i < i1; ++i) y[i] = a[i] + b[i];
  });
}

void mul(ThreadPool& pool, const float* a, const float* b, int64_t n, float* y) {
  const bool simd = use_simd();
  pool.parallel_for(n, kGrain, [&](int64_t i0, int64_t i1, int) {
    if (simd) return mul_avx2(a + i0, b + i0, i1 - i0, y + i0);
    for (int64_t i = i0; i < i1; ++i) y[i] = a[i] * b[i];
  });
}

void activation(ThreadPool& pool, const float* x, int64_t n, ActivationKind kind, float* y) {
  const bool simd = use_simd();
  pool.parallel_for(n, kGrain / 4, [&](int64_t i0, int64_t i1, int) {
    if (simd) return activation_avx2(x + i0, i1 - i0, kind, y + i0);
    for (int64_t i = i0; i < i1; ++i) y[i] = act_scalar(x[i], kind);
  });
}

void gated_activation(ThreadPool& pool, const float* gate, const float* up, int64_t n, ActivationKind kind, float* y) {
  const bool simd = use_simd();
  pool.parallel_for(n, kGrain / 4, [&](int64_t i0, int64_t i1, int) {
    if (simd) return gated_avx2(gate + i0, up + i0, i1 - i0, kind, y + i0);
    for (int64_t i = i0; i < i1; ++i) y[i] = act_scalar(gate[i], kind) * up[i];
  });
}

}  // namespace llmc::cpu
