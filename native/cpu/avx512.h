// AVX-512 building blocks shared by the kernels' AVX-512 versions. As with avx2.h nothing is compiled with
// -mavx512f: each function carries one of the target attributes below and is only reached after simd_level() says
// the CPU has the instructions; a caller must carry the same attribute (or a superset) for them to inline.
#pragma once
// GCC 12 warns about its own _mm512_undefined_* self-initialisation when masked intrinsics inline; not our code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>

#include "kernels.h"

#define LLMC_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define LLMC_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")))
#define LLMC_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16,avx2,fma,f16c")))

namespace llmc::cpu::avx512 {

// Mask of the first n (0..16) lanes.
inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// Elements [0, n) of a weight row of dtype t widened to f32 (n <= 16; the other lanes are 0).
LLMC_AVX512 inline __m512 load16(const void* p, DType t, int64_t i, int64_t n) {
  const __mmask16 m = first_lanes(n);
  switch (t) {
    case DType::f16:
      return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + i));
    case DType::bf16:
      return _mm512_castsi512_ps(
          _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + i)), 16));
    default: return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + i);
  }
}

// In-register transpose of a 16x16 matrix of 32-bit elements: r[i] holds row i; afterwards r[j] holds column j.
LLMC_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4g + j] (rows 4g..4g+3) holds columns j, j+4, j+8, j+12 in its four 128-bit lanes.
  for (int g = 0; g < 4; ++g) {
    const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int j = 0; j < 4; ++j) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
    const __m512 w0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88), w1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
    r[j] = _mm512_shuffle_f32x4(v0, w0, 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(v0, w0, 0xdd);
    r[j + 4] = _mm512_shuffle_f32x4(v1, w1, 0x88);
    r[j + 12] = _mm512_shuffle_f32x4(v1, w1, 0xdd);
  }
}

}  // namespace llmc::cpu::avx512
