// KV cache storage dtypes: names, block layout, the row quantizer (scalar, used by every level so the stored bytes
// never depend on the machine) and the row widener the attention kernels call per block run.
#include "kv_dtype.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "avx2.h"
#include "dtype.h"
#include "kernels.h"

namespace llmc::cpu {

KvBlockLayout kv_block_layout(KvDType t, int32_t num_kv_heads, int32_t block_size, int32_t head_dim) {
  const int64_t rows = int64_t(num_kv_heads) * block_size;
  const int64_t half = rows * head_dim * int64_t(kv_elem_bytes(t));
  const auto align = [](int64_t x) { return (x + kKvBlockAlign - 1) / kKvBlockAlign * kKvBlockAlign; };
  const int64_t data = align(2 * half);  // scales start aligned whatever head_dim is
  if (!kv_dtype_scaled(t)) return KvBlockLayout{half, 0, data};
  return KvBlockLayout{half, data, align(data + 2 * rows * kKvScaleBytes)};
}

namespace kv {

uint8_t f32_to_f8e4m3(float f) {
  if (std::isnan(f)) return 0x7f;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
  const float a = std::fabs(f);
  if (a >= kF8Max) return sign | 0x7e;  // saturate (the quantizer's scale keeps |x / s| <= 448 anyway)
  if (a == 0.0f) return sign;
  // Exponent E (at least -6, the smallest normal); the value in units of 2^(E-3) is 8..16 for a normal and 0..8
  // for a subnormal, and bits = (E + 6) * 8 + units covers both, a carry to 16 included.
  const int e = std::max(std::ilogb(a), -6);
  const int units = int(std::nearbyint(std::ldexp(a, 3 - e)));  // round half to even (default rounding mode)
  const int bits = (e + 6) * 8 + units;
  return uint8_t(sign | std::min(bits, 0x7e));
}

float f8e4m3_to_f32(uint8_t b) {
  const int e = (b >> 3) & 0xf, m = b & 7;
  float a;
  if ((b & 0x7f) == 0x7f) a = NAN;
  else if (e == 0) a = std::ldexp(float(m), -9);
  else a = std::ldexp(float(8 + m), e - 10);
  return (b & 0x80) ? -a : a;
}

void store_row(KvDType t, const float* x, int32_t hd, void* dst, float* scale) {
  switch (t) {
    case KvDType::f32: std::memcpy(dst, x, size_t(hd) * 4); return;
    case KvDType::f16:
      for (int32_t d = 0; d < hd; ++d) static_cast<uint16_t*>(dst)[d] = f32_to_f16(x[d]);
      return;
    case KvDType::bf16:
      for (int32_t d = 0; d < hd; ++d) static_cast<uint16_t*>(dst)[d] = f32_to_bf16(x[d]);
      return;
    default: break;
  }
  float amax = 0.0f;
  for (int32_t d = 0; d < hd; ++d) amax = std::max(amax, std::fabs(x[d]));
  const float qmax = kv_dtype_qmax(t);
  const float s = amax / qmax, inv = amax > 0.0f ? qmax / amax : 0.0f;
  *scale = s;
  if (t == KvDType::i8) {
    int8_t* q = static_cast<int8_t*>(dst);
    for (int32_t d = 0; d < hd; ++d) q[d] = int8_t(std::clamp(std::nearbyint(x[d] * inv), -kI8Max, kI8Max));
  } else {
    uint8_t* q = static_cast<uint8_t*>(dst);
    for (int32_t d = 0; d < hd; ++d) q[d] = f32_to_f8e4m3(x[d] * inv);
  }
}

namespace {

struct F8Table {
  float v[256];
  F8Table() {
    for (int i = 0; i < 256; ++i) v[i] = f8e4m3_to_f32(uint8_t(i));
  }
};
const F8Table& f8_table() {
  static const F8Table t;
  return t;
}

void load_rows_scalar(KvDType t, const void* src, const float* scales, int32_t count, int32_t hd, float* dst) {
  const int64_t n = int64_t(count) * hd;
  switch (t) {
    case KvDType::f32: std::memcpy(dst, src, size_t(n) * 4); return;
    case KvDType::f16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    case KvDType::bf16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    case KvDType::i8:
      for (int32_t r = 0; r < count; ++r)
        for (int32_t d = 0; d < hd; ++d)
          dst[int64_t(r) * hd + d] = float(static_cast<const int8_t*>(src)[int64_t(r) * hd + d]) * scales[r];
      return;
    case KvDType::f8e4m3: {
      const float* lut = f8_table().v;
      for (int32_t r = 0; r < count; ++r)
        for (int32_t d = 0; d < hd; ++d)
          dst[int64_t(r) * hd + d] = lut[static_cast<const uint8_t*>(src)[int64_t(r) * hd + d]] * scales[r];
      return;
    }
  }
}

// Eight elements per step; rows with head_dim % 8 != 0 finish with the scalar formula (same values).
LLMC_AVX2 void load_rows_avx2(KvDType t, const void* src, const float* scales, int32_t count, int32_t hd, float* dst) {
  const float* lut = f8_table().v;
  for (int32_t r = 0; r < count; ++r) {
    const int64_t base = int64_t(r) * hd;
    float* o = dst + base;
    const __m256 s = _mm256_set1_ps(scales ? scales[r] : 1.0f);
    int32_t d = 0;
    switch (t) {
      case KvDType::f16:
        for (; d + 8 <= hd; d += 8) _mm256_storeu_ps(o + d, avx2::load8(avx2::F16{}, static_cast<const uint16_t*>(src) + base + d));
        break;
      case KvDType::bf16:
        for (; d + 8 <= hd; d += 8) _mm256_storeu_ps(o + d, avx2::load8(avx2::BF16{}, static_cast<const uint16_t*>(src) + base + d));
        break;
      case KvDType::i8:
        for (; d + 8 <= hd; d += 8) {
          const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(static_cast<const int8_t*>(src) + base + d));
          _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), s));
        }
        break;
      case KvDType::f8e4m3:
        for (; d + 8 <= hd; d += 8) {
          const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(static_cast<const uint8_t*>(src) + base + d));
          _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_i32gather_ps(lut, _mm256_cvtepu8_epi32(q), 4), s));
        }
        break;
      default: break;
    }
    if (d < hd) {
      const size_t eb = kv_elem_bytes(t);
      float tail[8];
      const float one = scales ? scales[r] : 1.0f;
      load_rows_scalar(t, static_cast<const uint8_t*>(src) + (base + d) * int64_t(eb), &one, 1, hd - d, tail);
      std::memcpy(o + d, tail, size_t(hd - d) * 4);
    }
  }
}

}  // namespace

void load_rows(KvDType t, const void* src, const float* scales, int32_t count, int32_t hd, float* dst) {
  if (t != KvDType::f32 && simd_level() >= Simd::avx2) {
    load_rows_avx2(t, src, scales, count, hd, dst);
  } else {
    load_rows_scalar(t, src, scales, count, hd, dst);
  }
}

}  // namespace kv
}  // namespace llmc::cpu
