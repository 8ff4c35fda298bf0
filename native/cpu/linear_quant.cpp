// linear_q: y[rows, out] = x[rows, in] . W^T + bias, W[o, i] = scales[o, g] * q[o, i] + offsets[o, g], g = i / gs.
//
// The weight stays in its codes (i8, u4 two per byte, f8e4m3) and is widened in registers; accumulation is f32.
// Decode (rows <= kGemvMaxRows) is bound by the weight stream: per output row and group, the codes are decoded
// once into f32 vectors that every token of the tile multiplies, and the group's partial sum is scaled once:
//   y[t, o] = sum_g ( scales[o, g] * sum_{i in g} x[t, i] q[o, i]  +  offsets[o, g] * sum_{i in g} x[t, i] )
// so the offsets cost one multiply per group (the per-group sums of x are computed once per call).
// Prefill (more rows) is bound by arithmetic: a block of kMB weight rows is dequantized into a small f32 buffer
// (W = s*q + m, exact for checkpoints' scales) that stays in L1/L2 while every token of a kTB block passes
// over it, so dequantization costs 1/kTB of the multiply-adds and no float copy of the whole weight exists.
// perm (GPTQ act-order) and input_scale (AWQ) are applied by gathering x once per call into a scratch buffer.
#include <algorithm>
#include <cstring>
#include <vector>

#include "avx2.h"
#include "dtype.h"
#include "kernels.h"
#include "linear_quant.h"

namespace llmc::cpu {
namespace {

using quant::kGemvMaxRows;
using quant::kMB;
using quant::kTB;
using quant::row_bytes;
constexpr int64_t kTokTile = 4;               // decode: tokens sharing one decoded weight vector
constexpr int64_t kMinMacsPerChunk = 1 << 15;

// ------------------------------------------------------------------------------------------------ scalar

using quant::code_at;
using quant::code_unit;

// The definition: every weight dequantized, then a plain dot product in input order.
void linear_q_scalar_range(const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out,
                           const void* bias, DType bt, int64_t j0, int64_t j1, float* y) {
  const int64_t ng = in / w.group_size;
  const auto* q = static_cast<const uint8_t*>(w.q);
  for (int64_t t = 0; t < rows; ++t) {
    const float* xt = x + t * in;  // [in], already in qweight's column order
    for (int64_t o = j0; o < j1; ++o) {
      const uint8_t* row = q + o * row_bytes(w.qt, in);
      float s = 0.0f;
      for (int64_t i = 0; i < in; ++i) {
        const int64_t g = i / w.group_size;
        const float wv = w.scales[o * ng + g] * code_at(row, w.qt, i) + (w.offsets ? w.offsets[o * ng + g] : 0.0f);
        s += xt[i] * wv;
      }
      if (bias) s += load_weight(bias, bt, o);
      y[t * out + o] = s;
    }
  }
}

// ------------------------------------------------------------------------------------------------ AVX2

// 8 codes starting at column k (k even for u4) as f32 values of q (fp8: the number times 2^-8, see fp8_x8).
LLMC_AVX2 inline __m256 codes8_i8(const uint8_t* row, int64_t k) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + k));
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
}

// FP8 E4M3 -> f16 bit pattern by moving the fields (sign to bit 15, exponent+mantissa to bits 7..13): the f16
// number is the fp8 number times 2^-8 for normals and subnormals alike; callers fold 2^8 into the scale.
LLMC_AVX2 inline __m256 codes8_f8(const uint8_t* row, int64_t k) {
  const __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + k)));
  const __m128i sign = _mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x80)), 8);
  const __m128i mag = _mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x7f)), 7);
  return _mm256_cvtph_ps(_mm_or_si128(sign, mag));
}

LLMC_AVX2 inline __m256 codes8_u4(const uint8_t* row, int64_t k) {
  uint32_t word;
  std::memcpy(&word, row + k / 2, 4);
  const __m128i b = _mm_cvtsi32_si128(int(word));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(b, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)));  // columns k..k+7 in order
}

LLMC_AVX2 inline __m256 codes8(DType qt, const uint8_t* row, int64_t k) {
  switch (qt) {
    case DType::i8: return codes8_i8(row, k);
    case DType::u4: return codes8_u4(row, k);
    default: return codes8_f8(row, k);
  }
}


template <DType QT>
LLMC_AVX2 inline __m256 codes8_of(const uint8_t* row, int64_t k) {
  if constexpr (QT == DType::i8) return codes8_i8(row, k);
  else if constexpr (QT == DType::u4) return codes8_u4(row, k);
  else return codes8_f8(row, k);
}

// Decode: NR output rows o0.. against NT tokens (NT <= kTokTile); res[t * NR + r]. xsum: [rows, ng] group sums of x
// (offsets only). Every (token, row, u) pair has its own accumulator, so NT * NR * U independent FMA chains hide the
// FMA latency (one chain per row was latency-bound at a fraction of the read bandwidth); each x vector is loaded
// once for the NR rows. Per group the partial sums are scaled once and the offset term is offset * sum(x in group).
template <DType QT, int NT, int NR>
LLMC_AVX2 void gemv_rows(const float* x, int64_t in, const QuantWeight& w, int64_t o0, const float* xsum, int64_t ng,
                         float* res) {
  constexpr int U = NT * NR >= 8 ? 1 : NT * NR >= 4 ? 2 : 4;  // k unroll: a second set of accumulators when the tile has few chains
  const int64_t gs = w.group_size;
  const uint8_t* row[NR];
  for (int r = 0; r < NR; ++r) row[r] = static_cast<const uint8_t*>(w.q) + (o0 + r) * row_bytes(QT, in);
  const float* sc = w.scales + o0 * ng;                          // [NR, ng]
  const float* of = w.offsets ? w.offsets + o0 * ng : nullptr;   // [NR, ng]
  const float unit = code_unit(QT);
  __m256 tot[NT][NR];
  float tail[NT][NR] = {};
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) tot[t][r] = _mm256_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    __m256 acc[U][NT][NR];
    for (int u = 0; u < U; ++u)
      for (int t = 0; t < NT; ++t)
        for (int r = 0; r < NR; ++r) acc[u][t][r] = _mm256_setzero_ps();
    int64_t k = g * gs;
    const int64_t end = k + gs;
    if constexpr (QT == DType::u4) {
      // x is split per 16 columns into evens then odds (split_u4_blocks), so a byte's low nibble meets x[k + i] and
      // its high nibble x[k + 8 + i] with no unpacking: 8 bytes -> 8 dwords -> and / shift -> two f32 vectors.
      for (; k + 16 <= end; k += 16)
        for (int r = 0; r < NR; ++r) {
          const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row[r] + k / 2)));
          const __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(b, _mm256_set1_epi32(15)));
          const __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(b, 4));
          for (int t = 0; t < NT; ++t) {
            acc[0][t][r] = _mm256_fmadd_ps(_mm256_loadu_ps(x + t * in + k), lo, acc[0][t][r]);
            acc[U - 1][t][r] = _mm256_fmadd_ps(_mm256_loadu_ps(x + t * in + k + 8), hi, acc[U - 1][t][r]);
          }
        }
    } else {
      for (; k + 8 * U <= end; k += 8 * U)
        for (int u = 0; u < U; ++u) {
          __m256 xv[NT];
          for (int t = 0; t < NT; ++t) xv[t] = _mm256_loadu_ps(x + t * in + k + 8 * u);
          for (int r = 0; r < NR; ++r) {
            const __m256 qv = codes8_of<QT>(row[r], k + 8 * u);
            for (int t = 0; t < NT; ++t) acc[u][t][r] = _mm256_fmadd_ps(xv[t], qv, acc[u][t][r]);
          }
        }
    }
    for (; k + 8 <= end; k += 8)
      for (int r = 0; r < NR; ++r) {
        const __m256 qv = codes8_of<QT>(row[r], k);
        for (int t = 0; t < NT; ++t) acc[0][t][r] = _mm256_fmadd_ps(_mm256_loadu_ps(x + t * in + k), qv, acc[0][t][r]);
      }
    for (int r = 0; r < NR; ++r) {
      const float s = sc[r * ng + g];
      const __m256 sv = _mm256_set1_ps(s * unit);
      for (int t = 0; t < NT; ++t) {
        __m256 a = acc[0][t][r];
        for (int u = 1; u < U; ++u) a = _mm256_add_ps(a, acc[u][t][r]);
        tot[t][r] = _mm256_fmadd_ps(a, sv, tot[t][r]);
      }
      for (int64_t j = k; j < end; ++j)  // group sizes that are not a multiple of 8
        for (int t = 0; t < NT; ++t) tail[t][r] += s * (x[t * in + j] * code_at(row[r], QT, j));
      if (of)
        for (int t = 0; t < NT; ++t) tail[t][r] += of[r * ng + g] * xsum[t * ng + g];
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) res[t * NR + r] = avx2::hsum(tot[t][r]) + tail[t][r];
}

// NR rows from o0 for every token tile of the call; y[t, o0 + r] for t < rows.
template <DType QT, int NR>
LLMC_AVX2 void gemv_block(const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out,
                          const float* xsum, int64_t ng, int64_t o0, float* y) {
  float res[kTokTile * NR];
  for (int64_t t = 0; t < rows; t += kTokTile) {
    const int64_t nt = std::min(kTokTile, rows - t);
    const float* xt = x + t * in;
    const float* st = xsum ? xsum + t * ng : nullptr;
    switch (nt) {
      case 4: gemv_rows<QT, 4, NR>(xt, in, w, o0, st, ng, res); break;
      case 3: gemv_rows<QT, 3, NR>(xt, in, w, o0, st, ng, res); break;
      case 2: gemv_rows<QT, 2, NR>(xt, in, w, o0, st, ng, res); break;
      default: gemv_rows<QT, 1, NR>(xt, in, w, o0, st, ng, res); break;
    }
    for (int64_t u = 0; u < nt; ++u)
      for (int r = 0; r < NR; ++r) y[(t + u) * out + o0 + r] = res[u * NR + r];
  }
}

// Rows in blocks of kRowTile (token tiles inner, so a block's codes are read from memory once), the rest one by one.
// kRowTile 1 for 1-2 tokens: several rows per call interleave several streams through memory, which measured slower
// from DRAM (llmc bench: 4 rows 45 tok/s vs 58 for main; 1 row with 4 accumulators 49 vs 34 at higher load).
constexpr int kRowTile = 1;

template <DType QT>
LLMC_AVX2 void gemv_range_t(const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out,
                            const float* xsum, int64_t j0, int64_t j1, float* y) {
  const int64_t ng = in / w.group_size;
  int64_t o = j0;
  if (rows <= 2) {
    for (; o + kRowTile <= j1; o += kRowTile) gemv_block<QT, kRowTile>(x, rows, in, w, out, xsum, ng, o, y);
  } else {  // 3-4 tokens per tile: 2 rows per call keep the accumulators in registers
    for (; o + 2 <= j1; o += 2) gemv_block<QT, 2>(x, rows, in, w, out, xsum, ng, o, y);
  }
  for (; o < j1; ++o) gemv_block<QT, 1>(x, rows, in, w, out, xsum, ng, o, y);
}

LLMC_AVX2 void gemv_range(const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out,
                          const float* xsum, int64_t j0, int64_t j1, float* y) {
  switch (w.qt) {
    case DType::i8: gemv_range_t<DType::i8>(x, rows, in, w, out, xsum, j0, j1, y); break;
    case DType::u4: gemv_range_t<DType::u4>(x, rows, in, w, out, xsum, j0, j1, y); break;
    default: gemv_range_t<DType::f8e4m3>(x, rows, in, w, out, xsum, j0, j1, y); break;
  }
}

// Dequantizes rows [o0, o0 + m) into dst[m, in] f32.
LLMC_AVX2 void dequant_rows(const QuantWeight& w, int64_t in, int64_t o0, int64_t m, float* dst) {
  const int64_t gs = w.group_size, ng = in / gs;
  const float unit = code_unit(w.qt);
  for (int64_t r = 0; r < m; ++r) {
    const int64_t o = o0 + r;
    const uint8_t* row = static_cast<const uint8_t*>(w.q) + o * row_bytes(w.qt, in);
    float* d = dst + r * in;
    for (int64_t g = 0; g < ng; ++g) {
      const float s = w.scales[o * ng + g], off = w.offsets ? w.offsets[o * ng + g] : 0.0f;
      const __m256 sv = _mm256_set1_ps(s * unit), mv = _mm256_set1_ps(off);
      int64_t k = g * gs;
      const int64_t end = k + gs;
      // s*q + m with one rounding each, as the scalar reference (s*q is exact for checkpoint scales).
      for (; k + 8 <= end; k += 8) _mm256_storeu_ps(d + k, _mm256_add_ps(_mm256_mul_ps(codes8(w.qt, row, k), sv), mv));
      for (; k < end; ++k) d[k] = s * code_at(row, w.qt, k) + off;
    }
  }
}

// y[t * ldy + r] = x[t] . wd[r] for t < NT, r < NR; wd: [NR, n] f32 (dequantized), x: [NT, n].
template <int NT, int NR>
LLMC_AVX2 inline void dot_tile(const float* x, const float* wd, int64_t n, float* y, int64_t ldy) {
  __m256 acc[NT][NR];
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) acc[t][r] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    __m256 xv[NT];
    for (int t = 0; t < NT; ++t) xv[t] = _mm256_loadu_ps(x + t * n + k);
    for (int r = 0; r < NR; ++r) {
      const __m256 wv = _mm256_loadu_ps(wd + r * n + k);
      for (int t = 0; t < NT; ++t) acc[t][r] = _mm256_fmadd_ps(xv[t], wv, acc[t][r]);
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) {
      float s = avx2::hsum(acc[t][r]);
      for (int64_t j = k; j < n; ++j) s += x[t * n + j] * wd[r * n + j];
      y[t * ldy + r] = s;
    }
}

LLMC_AVX2 void gemm_range(const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out, int64_t j0,
                          int64_t j1, float* y) {
  thread_local std::vector<float> wd;  // [kMB, in] dequantized block
  if (wd.size() < size_t(kMB * in)) wd.resize(size_t(kMB * in));
  for (int64_t t0 = 0; t0 < rows; t0 += kTB) {
    const int64_t tb = std::min(kTB, rows - t0);
    for (int64_t jb = j0; jb < j1; jb += kMB) {
      const int64_t m = std::min(kMB, j1 - jb);
      dequant_rows(w, in, jb, m, wd.data());
      for (int64_t t = t0; t < t0 + tb; t += 3) {
        const int64_t nt = std::min<int64_t>(3, t0 + tb - t);
        int64_t r = 0;
        for (; r + 4 <= m; r += 4) {
          const float* wr = wd.data() + r * in;
          float* yr = y + t * out + jb + r;
          if (nt == 3) dot_tile<3, 4>(x + t * in, wr, in, yr, out);
          else if (nt == 2) dot_tile<2, 4>(x + t * in, wr, in, yr, out);
          else dot_tile<1, 4>(x + t * in, wr, in, yr, out);
        }
        for (; r < m; ++r) {
          const float* wr = wd.data() + r * in;
          float* yr = y + t * out + jb + r;
          if (nt == 3) dot_tile<3, 1>(x + t * in, wr, in, yr, out);
          else if (nt == 2) dot_tile<2, 1>(x + t * in, wr, in, yr, out);
          else dot_tile<1, 1>(x + t * in, wr, in, yr, out);
        }
      }
    }
  }
}

}  // namespace

namespace quant {
LLMC_AVX2 void range_avx2(const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out, const void* bias,
                          DType bt, const float* xsum, int64_t j0, int64_t j1, float* y) {
  if (rows <= kGemvMaxRows) gemv_range(x, rows, in, w, out, xsum, j0, j1, y);
  else gemm_range(x, rows, in, w, out, j0, j1, y);
  if (!bias) return;
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t j = j0; j < j1; ++j) y[t * out + j] += load_weight(bias, bt, j);
}
}  // namespace quant

namespace {
// The AVX2 u4 decode path's x layout: within each group, every whole block of 16 columns is reordered to its 8 even
// columns then its 8 odd ones (the columns of the low and high nibbles of 8 code bytes); the rest stays in order.
void split_u4_blocks(const float* x, int64_t rows, int64_t in, int64_t gs, float* xd) {  // x, xd: [rows, in]
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t g0 = 0; g0 < in; g0 += gs) {
      const float* src = x + t * in;
      float* dst = xd + t * in;
      int64_t k = g0;
      for (; k + 16 <= g0 + gs; k += 16)
        for (int i = 0; i < 8; ++i) {
          dst[k + i] = src[k + 2 * i];
          dst[k + 8 + i] = src[k + 2 * i + 1];
        }
      for (; k < g0 + gs; ++k) dst[k] = src[k];
    }
}
// What llmc bench reports as kernel_paths.linear_decode / linear_prefill for a quantized linear, named as the float
// linears name theirs (the SIMD level first): codes q8 (i8), q4 (u4) or fp8 (f8e4m3), then "act8" with int8
// activations. String literals (note_kernel_path keeps the pointer). level: 0 scalar, 1 avx2, 2 avx512, 3 avx512_vnni.
const char* quant_path_name(int level, DType qt, bool act8) {
  static const char* const f32_act[3][3] = {{"scalar q8", "scalar q4", "scalar fp8"},
                                            {"avx2 q8", "avx2 q4", "avx2 fp8"},
                                            {"avx512 q8", "avx512 q4", "avx512 fp8"}};
  static const char* const int8_act[4][2] = {{"scalar q8 act8", "scalar q4 act8"},
                                             {"avx2 q8 act8", "avx2 q4 act8"},
                                             {"avx2 q8 act8", "avx2 q4 act8"},  // act8 at avx512 without VNNI runs AVX2
                                             {"avx512_vnni q8 act8", "avx512_vnni q4 act8"}};
  const int c = qt == DType::i8 ? 0 : qt == DType::u4 ? 1 : 2;
  if (act8 && c < 2) return int8_act[level][c];
  return f32_act[level > 2 ? 2 : level][c];
}

}  // namespace

void linear_q(ThreadPool& pool, const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out,
              const void* bias, DType bt, float* y) {
  if (rows <= 0 || out <= 0) return;
  // perm and input_scale: x in qweight's column order, scaled, once per call (xp[t, i] = x[t, perm[i]] * s[i]).
  std::vector<float> xp;
  if (w.perm || w.input_scale) {
    xp.resize(size_t(rows * in));
    for (int64_t t = 0; t < rows; ++t)
      for (int64_t i = 0; i < in; ++i)
        xp[size_t(t * in + i)] = x[t * in + (w.perm ? w.perm[i] : i)] * (w.input_scale ? w.input_scale[i] : 1.0f);
    x = xp.data();
  }
  const Simd level = simd_level();
  const bool simd = level >= Simd::avx2;
  const int64_t macs_per_row = std::max<int64_t>(1, rows * in);
  int64_t grain = (kMinMacsPerChunk + macs_per_row - 1) / macs_per_row;
  grain = std::max<int64_t>(kMB, (grain + kMB - 1) / kMB * kMB);
  // int8 activations (every step, decode and prefill): integer dot products with VNNI (vnni_takes: u4 groups of a
  // multiple of 32, i8 groups of a multiple of 64) or AVX2 (any group), else the float kernels on x' = sx * xq.
  const KernelOp op = rows <= kGemvMaxRows ? KernelOp::linear_decode : KernelOp::linear_prefill;
  if (w.activation_bits == 8 && (w.qt == DType::i8 || w.qt == DType::u4)) {
    quant::Act8 a;
    const bool vnni = level >= Simd::avx512 && quant::vnni_takes(w.qt, w.group_size);
    if (vnni) quant::quantize_activations_avx512(x, rows, in, w.group_size, a);
    else if (simd) quant::quantize_activations_avx2(x, rows, in, w.group_size, a);
    else quant::quantize_activations(x, rows, in, w.group_size, a);
    note_kernel_path(op, quant_path_name(vnni ? 3 : simd ? 1 : 0, w.qt, true));
    if (vnni) {
      if (w.qt == DType::i8) {
        a.xu.resize(a.xq.size());
        for (size_t i = 0; i < a.xq.size(); ++i) a.xu[i] = uint8_t(int(a.xq[i]) + 128);
      } else {
        quant::split_u4_chunks(rows, in, w.group_size, a);
      }
      pool.parallel_for(out, grain, [&](int64_t j0, int64_t j1, int) { quant::range_vnni(a, rows, in, w, out, bias, bt, j0, j1, y); });
      return;
    }
    if (simd) {
      if (w.qt == DType::u4) quant::split_u4_act(rows, in, w.group_size, a);
      pool.parallel_for(out, grain, [&](int64_t j0, int64_t j1, int) { quant::range_act8_avx2(a, rows, in, w, out, bias, bt, j0, j1, y); });
      return;
    }
    xp.resize(size_t(rows * in));
    quant::dequantize_activations(a, rows, in, w.group_size, xp.data());
    x = xp.data();
  } else {
    note_kernel_path(op, quant_path_name(level >= Simd::avx512 ? 2 : simd ? 1 : 0, w.qt, false));
  }
  const int64_t ng = in / w.group_size;
  std::vector<float> xsum;  // [rows, ng]: sum of x over each group, for the offsets term of the decode path
  if (simd && w.offsets && rows <= kGemvMaxRows) {
    xsum.assign(size_t(rows * ng), 0.0f);
    for (int64_t t = 0; t < rows; ++t)
      for (int64_t g = 0; g < ng; ++g) {
        float s = 0.0f;
        for (int64_t i = g * w.group_size; i < (g + 1) * w.group_size; ++i) s += x[t * in + i];
        xsum[size_t(t * ng + g)] = s;
      }
  }
  std::vector<float> xd;  // [rows, in]: x for the AVX2 u4 decode path (split_u4_blocks)
  if (simd && level < Simd::avx512 && w.qt == DType::u4 && rows <= kGemvMaxRows) {
    xd.resize(size_t(rows * in));
    split_u4_blocks(x, rows, in, w.group_size, xd.data());
    x = xd.data();
  }
  pool.parallel_for(out, grain, [&](int64_t j0, int64_t j1, int) {
    const float* xs = xsum.empty() ? nullptr : xsum.data();
    if (level >= Simd::avx512) quant::range_avx512(x, rows, in, w, out, bias, bt, xs, j0, j1, y);
    else if (simd) quant::range_avx2(x, rows, in, w, out, bias, bt, xs, j0, j1, y);
    else linear_q_scalar_range(x, rows, in, w, out, bias, bt, j0, j1, y);
  });
}

}  // namespace llmc::cpu
