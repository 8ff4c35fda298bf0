// Scalar conversions between f32 and the 16-bit weight dtypes. The scalar kernels use these; the SIMD kernels
// must give the same values (native/tests/backend_ops.cpp checks every f16 bit pattern against F16C).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels.h"

namespace llmc::cpu {

inline float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint32_t f32_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// IEEE binary16 -> binary32, exact. NaNs come out quiet with their payload kept, as F16C's vcvtph2ps does.
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24 is exact in f32.
    const float mag = float(mant) * 5.9604644775390625e-08f;
    return sign ? -mag : mag;
  }
  if (exp == 31) return bits_to_f32(sign | 0x7f800000u | (mant << 13) | (mant ? 0x00400000u : 0u));
  return bits_to_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

// binary32 -> binary16, round to nearest even; overflow gives inf. Used by tests and by whoever packs weights.
inline uint16_t f32_to_f16(float f) {
  uint32_t x = f32_to_bits(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((x >> 13) & 0x3ffu));  // NaN, kept quiet
  if (x >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 rounds to inf (and inf itself)
  if (x < 0x38800000u) {
    // Below the smallest normal half: the result is round(|f| * 2^24) units of 2^-24 (can round up to 0x400).
    return uint16_t(sign | uint16_t(std::nearbyint(bits_to_f32(x) * 16777216.0f)));
  }
  const uint32_t rounded = x + 0xfffu + ((x >> 13) & 1u);  // carries into the exponent when the mantissa overflows
  return uint16_t(sign | ((rounded - (112u << 23)) >> 13));
}

// bfloat16 is the top half of a binary32.
inline float bf16_to_f32(uint16_t h) { return bits_to_f32(uint32_t(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
  const uint32_t x = f32_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // NaN stays NaN
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// FP8 E4M3FN (OCP 8-bit floating point, "e4m3fn" in PyTorch): 1 sign, 4 exponent bits (bias 7), 3 mantissa bits,
// subnormals, no infinities; 0x7f and 0xff are NaN. Max finite 448.
inline float fp8e4m3_to_f32(uint8_t b) {
  const float sign = (b & 0x80) ? -1.0f : 1.0f;
  const int exp = (b >> 3) & 0xf, mant = b & 7;
  if (exp == 15 && mant == 7) return std::numeric_limits<float>::quiet_NaN();
  if (exp == 0) return sign * std::ldexp(float(mant), -9);          // subnormal: mant/8 * 2^-6
  return sign * std::ldexp(1.0f + float(mant) / 8.0f, exp - 7);
}

// The E4M3 code nearest to f (ties to the even code), saturating at +-448; NaN -> 0x7f.
inline uint8_t f32_to_fp8e4m3(float f) {
  if (std::isnan(f)) return 0x7f;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0;
  const float a = std::fmin(std::fabs(f), 448.0f);
  // Positive codes 0x00..0x7e increase with their value: find the last one <= a, then round to the nearer.
  int lo = 0, hi = 0x7e;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (fp8e4m3_to_f32(uint8_t(mid)) <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo < 0x7e) {
    const float below = fp8e4m3_to_f32(uint8_t(lo)), above = fp8e4m3_to_f32(uint8_t(lo + 1));
    if (a - below > above - a || (a - below == above - a && (lo & 1))) ++lo;
  }
  return uint8_t(sign | lo);
}

// Element i of a weight vector of dtype t, widened to f32.
inline float load_weight(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::bf16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

}  // namespace llmc::cpu
