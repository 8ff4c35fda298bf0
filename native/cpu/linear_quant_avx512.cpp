// linear_q at the AVX-512 level (F/BW/VL/DQ): the same algorithm as the AVX2 version in linear_quant.cpp (decode:
// codes decoded once per output row and group for every token of the tile, the group sum scaled once; prefill: a
// block of rows dequantized into an L1/L2 buffer that a 48-token block passes over), 16 lanes wide. u4 codes unpack
// 32 per 16-byte load into two zmm; i8 widen 16 at a time; fp8 codes become f16 bit patterns (fields moved, 2^-8 folded
// into the scale) widened by vcvtph2ps. Compiled with the target attribute only; reached when simd_level() says so.
// GCC 12's avx512fintrin.h trips its own -Wuninitialized on _mm512_undefined_* inside some intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "linear_quant.h"

#define LLMC_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))

namespace llmc::cpu::quant {
namespace {

constexpr int kTokTile = 4;

LLMC_AVX512 inline float hsum16(__m512 v) { return _mm512_reduce_add_ps(v); }

// 16 codes from column k as f32 (fp8: times 2^-8).
LLMC_AVX512 inline __m512 codes16_i8(const uint8_t* row, int64_t k) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k))));
}

LLMC_AVX512 inline __m512 codes16_f8(const uint8_t* row, int64_t k) {
  const __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k)));
  const __m256i sign = _mm256_slli_epi16(_mm256_and_si256(b, _mm256_set1_epi16(0x80)), 8);
  const __m256i mag = _mm256_slli_epi16(_mm256_and_si256(b, _mm256_set1_epi16(0x7f)), 7);
  return _mm512_cvtph_ps(_mm256_or_si256(sign, mag));
}

// 16 u4 codes (8 bytes) from column k (k even).
LLMC_AVX512 inline __m512 codes16_u4(const uint8_t* row, int64_t k) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + k / 2));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)));
}

// 32 u4 codes (16 bytes) from column k.
LLMC_AVX512 inline void codes32_u4(const uint8_t* row, int64_t k, __m512 out[2]) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
  out[0] = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)));
  out[1] = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpackhi_epi8(lo, hi)));
}

LLMC_AVX512 inline __m512 codes16(DType qt, const uint8_t* row, int64_t k) {
  switch (qt) {
    case DType::i8: return codes16_i8(row, k);
    case DType::u4: return codes16_u4(row, k);
    default: return codes16_f8(row, k);
  }
}

template <int NT>
LLMC_AVX512 void gemv_row(const float* x, int64_t in, const QuantWeight& w, int64_t o, const float* xsum, int64_t ng,
                          float* res) {
  const int64_t gs = w.group_size;
  const uint8_t* row = static_cast<const uint8_t*>(w.q) + o * row_bytes(w.qt, in);
  const float unit = code_unit(w.qt);
  __m512 tot[NT];
  float tail[NT] = {};
  for (int t = 0; t < NT; ++t) tot[t] = _mm512_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    int64_t k = g * gs;
    const int64_t end = k + gs;
    if (w.qt == DType::u4) {
      for (; k + 32 <= end; k += 32) {
        __m512 qv[2];
        codes32_u4(row, k, qv);
        for (int u = 0; u < 2; ++u)
          for (int t = 0; t < NT; ++t) acc[t] = _mm512_fmadd_ps(_mm512_loadu_ps(x + t * in + k + 16 * u), qv[u], acc[t]);
      }
    }
    for (; k + 16 <= end; k += 16) {
      const __m512 qv = codes16(w.qt, row, k);
      for (int t = 0; t < NT; ++t) acc[t] = _mm512_fmadd_ps(_mm512_loadu_ps(x + t * in + k), qv, acc[t]);
    }
    const float s = w.scales[o * ng + g];
    const __m512 sv = _mm512_set1_ps(s * unit);
    for (int t = 0; t < NT; ++t) tot[t] = _mm512_fmadd_ps(acc[t], sv, tot[t]);
    for (; k < end; ++k)  // group sizes that are not a multiple of 16
      for (int t = 0; t < NT; ++t) tail[t] += s * (x[t * in + k] * code_at(row, w.qt, k));
    if (w.offsets)
      for (int t = 0; t < NT; ++t) tail[t] += w.offsets[o * ng + g] * xsum[t * ng + g];
  }
  for (int t = 0; t < NT; ++t) res[t] = hsum16(tot[t]) + tail[t];
}

LLMC_AVX512 void gemv_range(const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out,
                            const float* xsum, int64_t j0, int64_t j1, float* y) {
  const int64_t ng = in / w.group_size;
  float res[kTokTile];
  for (int64_t o = j0; o < j1; ++o) {
    for (int64_t t = 0; t < rows; t += kTokTile) {
      const int64_t nt = std::min<int64_t>(kTokTile, rows - t);
      const float* xt = x + t * in;
      const float* st = xsum ? xsum + t * ng : nullptr;
      switch (nt) {
        case 4: gemv_row<4>(xt, in, w, o, st, ng, res); break;
        case 3: gemv_row<3>(xt, in, w, o, st, ng, res); break;
        case 2: gemv_row<2>(xt, in, w, o, st, ng, res); break;
        default: gemv_row<1>(xt, in, w, o, st, ng, res); break;
      }
      for (int64_t u = 0; u < nt; ++u) y[(t + u) * out + o] = res[u];
    }
  }
}

LLMC_AVX512 void dequant_rows(const QuantWeight& w, int64_t in, int64_t o0, int64_t m, float* dst) {
  const int64_t gs = w.group_size, ng = in / gs;
  const float unit = code_unit(w.qt);
  for (int64_t r = 0; r < m; ++r) {
    const int64_t o = o0 + r;
    const uint8_t* row = static_cast<const uint8_t*>(w.q) + o * row_bytes(w.qt, in);
    float* d = dst + r * in;
    for (int64_t g = 0; g < ng; ++g) {
      const float s = w.scales[o * ng + g], off = w.offsets ? w.offsets[o * ng + g] : 0.0f;
      const __m512 sv = _mm512_set1_ps(s * unit), mv = _mm512_set1_ps(off);
      int64_t k = g * gs;
      const int64_t end = k + gs;
      for (; k + 16 <= end; k += 16) _mm512_storeu_ps(d + k, _mm512_add_ps(_mm512_mul_ps(codes16(w.qt, row, k), sv), mv));
      for (; k < end; ++k) d[k] = s * code_at(row, w.qt, k) + off;
    }
  }
}

// y[t * ldy + r] = x[t] . wd[r] for t < NT, r < NR; wd: [NR, n] f32 (dequantized), x: [NT, n].
template <int NT, int NR>
LLMC_AVX512 inline void dot_tile(const float* x, const float* wd, int64_t n, float* y, int64_t ldy) {
  __m512 acc[NT][NR];
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) acc[t][r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    __m512 xv[NT];
    for (int t = 0; t < NT; ++t) xv[t] = _mm512_loadu_ps(x + t * n + k);
    for (int r = 0; r < NR; ++r) {
      const __m512 wv = _mm512_loadu_ps(wd + r * n + k);
      for (int t = 0; t < NT; ++t) acc[t][r] = _mm512_fmadd_ps(xv[t], wv, acc[t][r]);
    }
  }
  if (k < n) {  // the last partial vector, masked
    const __mmask16 mk = __mmask16((1u << (n - k)) - 1);
    __m512 xv[NT];
    for (int t = 0; t < NT; ++t) xv[t] = _mm512_maskz_loadu_ps(mk, x + t * n + k);
    for (int r = 0; r < NR; ++r) {
      const __m512 wv = _mm512_maskz_loadu_ps(mk, wd + r * n + k);
      for (int t = 0; t < NT; ++t) acc[t][r] = _mm512_fmadd_ps(xv[t], wv, acc[t][r]);
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) y[t * ldy + r] = hsum16(acc[t][r]);
}

template <int NT>
LLMC_AVX512 void tile_rows(const float* x, const float* wd, int64_t m, int64_t n, float* y, int64_t ldy) {
  int64_t r = 0;
  for (; r + 4 <= m; r += 4) dot_tile<NT, 4>(x, wd + r * n, n, y + r, ldy);
  for (; r < m; ++r) dot_tile<NT, 1>(x, wd + r * n, n, y + r, ldy);
}

LLMC_AVX512 void gemm_range(const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out, int64_t j0,
                            int64_t j1, float* y) {
  thread_local std::vector<float> wd;  // [kMB, in] dequantized block
  if (wd.size() < size_t(kMB * in)) wd.resize(size_t(kMB * in));
  for (int64_t t0 = 0; t0 < rows; t0 += kTB) {
    const int64_t tb = std::min(kTB, rows - t0);
    for (int64_t jb = j0; jb < j1; jb += kMB) {
      const int64_t m = std::min(kMB, j1 - jb);
      dequant_rows(w, in, jb, m, wd.data());
      for (int64_t t = t0; t < t0 + tb; t += 4) {
        const int64_t nt = std::min<int64_t>(4, t0 + tb - t);
        float* yt = y + t * out + jb;
        if (nt == 4) tile_rows<4>(x + t * in, wd.data(), m, in, yt, out);
        else if (nt == 3) tile_rows<3>(x + t * in, wd.data(), m, in, yt, out);
        else if (nt == 2) tile_rows<2>(x + t * in, wd.data(), m, in, yt, out);
        else tile_rows<1>(x + t * in, wd.data(), m, in, yt, out);
      }
    }
  }
}

}  // namespace

LLMC_AVX512 void range_avx512(const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out,
                              const void* bias, DType bt, const float* xsum, int64_t j0, int64_t j1, float* y) {
  if (rows <= kGemvMaxRows) gemv_range(x, rows, in, w, out, xsum, j0, j1, y);
  else gemm_range(x, rows, in, w, out, j0, j1, y);
  if (!bias) return;
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t j = j0; j < j1; ++j) y[t * out + j] += load_weight(bias, bt, j);
}

}  // namespace llmc::cpu::quant
