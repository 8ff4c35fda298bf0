// AVX2 + FMA + F16C building blocks shared by the kernels' AVX2 versions. Nothing here is compiled with -mavx2:
// each function carries LLMC_AVX2 (a GCC/Clang target attribute) and is only reached after simd_level() says
// the CPU has these instructions. A caller of these helpers must itself be LLMC_AVX2, or they will not inline.
// Note: lambdas do not inherit the attribute, so parallel_for bodies call a named LLMC_AVX2 function.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "kernels.h"

#define LLMC_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace llmc::cpu::avx2 {

// ---- weight dtypes as tag types, so templated kernels widen each dtype to f32 in registers

struct F32 {
  using T = float;
};
struct F16 {
  using T = uint16_t;
};
struct BF16 {
  using T = uint16_t;
};

LLMC_AVX2 inline __m256 load8(F32, const float* p) { return _mm256_loadu_ps(p); }
LLMC_AVX2 inline __m256 load8(F16, const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
LLMC_AVX2 inline __m256 load8(BF16, const uint16_t* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

// Loads 8 elements of a weight vector of run-time dtype t starting at element i.
LLMC_AVX2 inline __m256 load8(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f16: return load8(F16{}, static_cast<const uint16_t*>(p) + i);
    case DType::bf16: return load8(BF16{}, static_cast<const uint16_t*>(p) + i);
    default: return load8(F32{}, static_cast<const float*>(p) + i);
  }
}

// ---- reductions

LLMC_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

LLMC_AVX2 inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// {hsum(a), hsum(b), hsum(c), hsum(d)}: four dot products finished with 3 hadds instead of 4 separate trees.
LLMC_AVX2 inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 ab = _mm256_hadd_ps(a, b);  // a01 a23 b01 b23 | a45 a67 b45 b67
  const __m256 cd = _mm256_hadd_ps(c, d);
  const __m256 abcd = _mm256_hadd_ps(ab, cd);  // a0123 b0123 c0123 d0123 | the same for elements 4..7
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// ---- transcendental functions, accurate to a few ulp over the ranges the kernels use

// e^x. x = n ln2 + r with |r| <= ln2/2; e^r by its Taylor series to r^7 (truncation < 6e-9 relative), then the
// exponent field gets n. Inputs below ln(FLT_MIN) give 0 (no subnormals); inputs above 88 are clamped to e^88.
LLMC_AVX2 inline __m256 exp(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654475f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 split in two so that n * ln2_hi is exact (ln2_hi has 9 significant bits).
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

// 1 / (1 + e^-x), with a true division (not rcp) to stay within a few ulp.
LLMC_AVX2 inline __m256 sigmoid(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// erfc(z) for z >= 0 with relative error below about 2e-7 everywhere (the tail included), from the Chebyshev-fitted
// form erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2) (Press et al., Numerical Recipes, section 6.2).
LLMC_AVX2 inline __m256 erfc_nonneg(__m256 z) {
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(0.5f), z, _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(0.17087277f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.82215223f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.48851587f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.13520398f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.27886807f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.18628806f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.09678418f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.37409196f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.00002368f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26551223f));
  const __m256 arg = _mm256_sub_ps(p, _mm256_mul_ps(z, z));
  return _mm256_mul_ps(t, exp(arg));
}

}  // namespace llmc::cpu::avx2
