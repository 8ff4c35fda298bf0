// linear_q with int8 activations (activation_bits 8) at the AVX2 level: integer dot products of the codes with the
// int8 activations xq (see linear_quant_act8.cpp for the definition), for decode and prefill alike:
//   y[t, o] = sum_g sw[o, g] * sx[t, g] * D[t, o, g]  +  sum_g offset[o, g] * sx[t, g] * sum_{i in g} xq[t, i],
//   D[t, o, g] = sum_{i in g} code[o, i] * xq[t, i], exact in int32.
// AVX2 has no VNNI; vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16 with saturation.
//   - i8 codes (-128..127) against xq (-127..127): the sign trick with the code as the unsigned side,
//       vpmaddubsw(|code|, sign(xq, code)) (vpabsb, vpsignb): |code| <= 128 as an unsigned byte, xq * sign(code) is
//       in -127..127 (no overflow even for code -128), so a pair sum is at most 2 * 128 * 127 = 32512 < 32767:
//       never saturates. Then vpmaddwd by ones widens pairs to int32.
//   - u4 codes (0..15) are already unsigned: vpmaddubsw(code, xq) directly, pair sums at most 2 * 15 * 127 = 3810,
//       so two vpmaddubsw results are added in int16 (7620) before vpmaddwd by ones. xq comes in the layout
//       Act8::xr (every whole block of 32 columns of a group as its 16 even columns then its 16 odd ones), so 16
//       code bytes become 32 codes with one shift, one lane insert and one and.
// Group sums are exact integers, so the result of each (token, row) pair does not depend on the tile it was
// computed in: decode (rows 1..8) and prefill give bit-identical outputs for the same row of x. Per group the int32
// vector is converted once and multiplied by sw * sx into an f32 vector accumulator (the same order for every
// tile shape); the offsets term is summed in double after the
// group loop from Act8::xs. Columns of a group past its last whole 32 (group sizes that are
// not a multiple of 32) are summed as integers in scalar code and join the group's int32 sum exactly.
// Prefill is blocked like the float GEMM: kTB tokens x kMB weight rows per block (the block's codes stay in L1 while
// the tokens pass), register tiles of up to 4 tokens x 2 rows.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "avx2.h"
#include "linear_quant.h"

namespace llmc::cpu::quant {
namespace {

constexpr int kTT = 4;  // tokens per register tile (4x2 measured 20-25 % faster than 3x2 for i8, same for u4)
constexpr int kRT = 2;  // weight rows per register tile

// 32 u4 codes of columns k..k+31 (k even) as bytes: lanes 0..15 the even columns, 16..31 the odd ones.
LLMC_AVX2 inline __m256i codes32_u4(const uint8_t* row, int64_t k) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2));
  const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// acc[t][r] += the integer dot products of columns [k, end) of weight rows w + r * ldw (U4: codes unpacked to
// bytes by unpack_u4) and activation rows
// x + t * ldx, whole blocks of 32 columns only; returns the first column not done. Accumulators are plain locals of
// the caller's loop (always inlined), so they stay in registers.
template <bool U4, int NT, int NR>
LLMC_AVX2 __attribute__((always_inline)) inline int64_t dot_blocks(const uint8_t* w, int64_t ldw, const int8_t* x,
                                                                   int64_t ldx, int64_t k, int64_t end,
                                                                   __m256i (&acc)[NT][NR]) {
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (U4) {
    for (; k + 64 <= end; k += 64) {
      __m256i c0[NR], c1[NR];
#pragma GCC unroll 4
      for (int r = 0; r < NR; ++r) {
        c0[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * ldw + k));
        c1[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * ldw + k + 32));
      }
#pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + t * ldx + k));
        const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + t * ldx + k + 32));
#pragma GCC unroll 4
        for (int r = 0; r < NR; ++r) {
          const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(c0[r], x0), _mm256_maddubs_epi16(c1[r], x1));
          acc[t][r] = _mm256_add_epi32(acc[t][r], _mm256_madd_epi16(p, ones));
        }
      }
    }
    for (; k + 32 <= end; k += 32) {
      __m256i c[NR];
#pragma GCC unroll 4
      for (int r = 0; r < NR; ++r) c[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * ldw + k));
#pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + t * ldx + k));
#pragma GCC unroll 4
        for (int r = 0; r < NR; ++r)
          acc[t][r] = _mm256_add_epi32(acc[t][r], _mm256_madd_epi16(_mm256_maddubs_epi16(c[r], xv), ones));
      }
    }
  } else {
    for (; k + 32 <= end; k += 32) {
      __m256i wv[NR], aw[NR];
#pragma GCC unroll 4
      for (int r = 0; r < NR; ++r) {
        wv[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * ldw + k));
        aw[r] = _mm256_abs_epi8(wv[r]);
      }
#pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + t * ldx + k));
#pragma GCC unroll 4
        for (int r = 0; r < NR; ++r) {
          const __m256i p = _mm256_maddubs_epi16(aw[r], _mm256_sign_epi8(xv, wv[r]));
          acc[t][r] = _mm256_add_epi32(acc[t][r], _mm256_madd_epi16(p, ones));
        }
      }
    }
  }
  return k;
}

// res[t * NR + r] = y[t0 + t, o0 + r] without bias, for NT tokens and NR rows.
// wr: row o0's codes (i8: the weight itself, ldw = in; U4: the block buffer of unpack_u4, ldw = in).
template <bool U4, int NT, int NR>
LLMC_AVX2 void tile(const Act8& a, const QuantWeight& w, int64_t in, int64_t t0, int64_t o0, const uint8_t* wr,
                    float* res) {
  const int64_t gs = w.group_size, ng = in / gs, ldw = in;
  const int8_t* xt = (U4 ? a.xr.data() : a.xq.data()) + t0 * in;  // U4: the xr layout; tail columns in order in both
  __m256 facc[NT][NR];
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) facc[t][r] = _mm256_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    __m256i acc[NT][NR];
    for (int t = 0; t < NT; ++t)
      for (int r = 0; r < NR; ++r) acc[t][r] = _mm256_setzero_si256();
    const int64_t end = (g + 1) * gs;
    const int64_t k = dot_blocks<U4, NT, NR>(wr, ldw, xt, in, g * gs, end, acc);
    if (k < end)  // columns k..end-1 (group sizes that are not a multiple of 32): exact integer sums in lane 0
      for (int t = 0; t < NT; ++t)
        for (int r = 0; r < NR; ++r) {
          int32_t tail = 0;
          for (int64_t j = k; j < end; ++j)
            tail += (U4 ? int32_t(wr[r * ldw + j]) : int32_t(int8_t(wr[r * ldw + j]))) * int32_t(xt[t * in + j]);
          acc[t][r] = _mm256_add_epi32(acc[t][r], _mm256_setr_epi32(tail, 0, 0, 0, 0, 0, 0, 0));
        }
    for (int t = 0; t < NT; ++t) {
      const float sx = a.sx[size_t((t0 + t) * ng + g)];
      for (int r = 0; r < NR; ++r) {
        const __m256 sc = _mm256_set1_ps(w.scales[(o0 + r) * ng + g] * sx);
        facc[t][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[t][r]), sc, facc[t][r]);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) {
      double corr = 0.0;  // the offsets term: sum_g offset[o, g] * sx[t, g] * sum(xq[t, g]), a.xs = sx * sum(xq) in double
      if (w.offsets)
        for (int64_t g = 0; g < ng; ++g) corr += double(w.offsets[(o0 + r) * ng + g]) * a.xs[size_t((t0 + t) * ng + g)];
      res[t * NR + r] = float(double(avx2::hsum(facc[t][r])) + corr);
    }
}

// Tokens [t0, t0 + nt) x rows [jb, jb + m) of y.
template <bool U4>
LLMC_AVX2 void block(const Act8& a, const QuantWeight& w, int64_t in, int64_t out, int64_t t0, int64_t nt, int64_t jb,
                     int64_t m, const uint8_t* wb, float* y) {
  float res[kTT * kRT];
  // Decode (all rows of the call in one block of at most kGemvMaxRows): one weight row at a time, a single linear
  // stream from memory (as the f32 GEMV, linear_quant.cpp); prefill: kRT rows per tile.
  const int64_t rt = nt <= kGemvMaxRows ? 1 : kRT;
  for (int64_t t = t0; t < t0 + nt; t += kTT) {
    const int64_t tt = std::min<int64_t>(kTT, t0 + nt - t);
    for (int64_t r = jb; r < jb + m; r += rt) {
      const int64_t rr = std::min<int64_t>(rt, jb + m - r);
      switch (tt * 4 + rr) {
        case 4 * 4 + 2: tile<U4, 4, 2>(a, w, in, t, r, wb + (r - jb) * in, res); break;
        case 4 * 4 + 1: tile<U4, 4, 1>(a, w, in, t, r, wb + (r - jb) * in, res); break;
        case 3 * 4 + 2: tile<U4, 3, 2>(a, w, in, t, r, wb + (r - jb) * in, res); break;
        case 2 * 4 + 2: tile<U4, 2, 2>(a, w, in, t, r, wb + (r - jb) * in, res); break;
        case 1 * 4 + 2: tile<U4, 1, 2>(a, w, in, t, r, wb + (r - jb) * in, res); break;
        case 3 * 4 + 1: tile<U4, 3, 1>(a, w, in, t, r, wb + (r - jb) * in, res); break;
        case 2 * 4 + 1: tile<U4, 2, 1>(a, w, in, t, r, wb + (r - jb) * in, res); break;
        default: tile<U4, 1, 1>(a, w, in, t, r, wb + (r - jb) * in, res); break;
      }
      for (int64_t u = 0; u < tt; ++u)
        for (int64_t v = 0; v < rr; ++v) y[(t + u) * out + r + v] = res[u * rr + v];
    }
  }
}

// Rows [o0, o0 + m) of u4 codes to bytes in dst[m, in]: per group, each whole block of 32 columns as its 16 even
// columns then its 16 odd ones (the Act8::xr order; what one load, shift, lane insert and and give), the rest in
// order. Once per block of kMB rows, for every token of the block.
LLMC_AVX2 void unpack_u4(const QuantWeight& w, int64_t in, int64_t o0, int64_t m, uint8_t* dst) {
  const int64_t gs = w.group_size;
  for (int64_t r = 0; r < m; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.q) + (o0 + r) * (in / 2);
    uint8_t* d = dst + r * in;
    for (int64_t g0 = 0; g0 < in; g0 += gs) {
      int64_t k = g0;
      for (; k + 32 <= g0 + gs; k += 32) _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + k), codes32_u4(row, k));
      for (; k < g0 + gs; ++k) d[k] = uint8_t(code_at(row, DType::u4, k));
    }
  }
}

}  // namespace

LLMC_AVX2 void range_act8_avx2(const Act8& a, int64_t rows, int64_t in, const QuantWeight& w, int64_t out,
                               const void* bias, DType bt, int64_t j0, int64_t j1, float* y) {
  const bool u4 = w.qt == DType::u4;
  thread_local std::vector<uint8_t> wb;  // [kMB, in]: u4 codes of the block unpacked to bytes
  if (u4 && wb.size() < size_t(kMB * in)) wb.resize(size_t(kMB * in));
  for (int64_t t0 = 0; t0 < rows; t0 += kTB) {
    const int64_t nt = std::min(kTB, rows - t0);
    for (int64_t jb = j0; jb < j1; jb += kMB) {
      const int64_t m = std::min(kMB, j1 - jb);
      if (u4) {
        unpack_u4(w, in, jb, m, wb.data());
        block<true>(a, w, in, out, t0, nt, jb, m, wb.data(), y);
      } else {
        block<false>(a, w, in, out, t0, nt, jb, m, static_cast<const uint8_t*>(w.q) + jb * in, y);
      }
    }
  }
  if (!bias) return;
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t j = j0; j < j1; ++j) y[t * out + j] += load_weight(bias, bt, j);
}

// x (f32, [rows, in]) to Act8 with the same numbers as quantize_activations: the division, round-to-nearest-even
// (vroundps in the default rounding mode is nearbyint) and clamp are the same IEEE operations, 8 lanes at a time.
LLMC_AVX2 void quantize_activations_avx2(const float* x, int64_t rows, int64_t in, int64_t group, Act8& a) {
  const int64_t ng = in / group;
  a.size_for(rows, in, group);
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t g = 0; g < ng; ++g) {
      const float* xg = x + t * in + g * group;
      int8_t* q = a.xq.data() + t * in + g * group;
      __m256 vmax = _mm256_setzero_ps();
      int64_t i = 0;
      for (; i + 8 <= group; i += 8) vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_loadu_ps(xg + i), absmask));
      float amax = avx2::hmax(vmax);
      for (; i < group; ++i) amax = std::max(amax, std::fabs(xg[i]));
      const float sx = amax > 0.0f ? amax / 127.0f : 1.0f;
      const __m256 sv = _mm256_set1_ps(sx);
      __m256i vsum = _mm256_setzero_si256();
      i = 0;
      for (; i + 8 <= group; i += 8) {
        const __m256 r = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(xg + i), sv), _MM_FROUND_CUR_DIRECTION);
        const __m256i v = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(r, lo), hi));
        vsum = _mm256_add_epi32(vsum, v);
        const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        const __m128i w8 = _mm_packs_epi16(w16, w16);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), w8);
      }
      const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(vsum), _mm256_extracti128_si256(vsum, 1));
      const __m128i s2 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
      int32_t qs = _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, 0xb1)));
      for (; i < group; ++i) {
        const int v = int(std::clamp(std::nearbyint(xg[i] / sx), -127.0f, 127.0f));
        q[i] = int8_t(v);
        qs += v;
      }
      a.sx[size_t(t * ng + g)] = sx;
      a.qsum[size_t(t * ng + g)] = qs;
      a.xs[size_t(t * ng + g)] = double(sx) * double(qs);
    }
}

}  // namespace llmc::cpu::quant
