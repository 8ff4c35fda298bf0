// linear_q with int8 activations (activation_bits 8, llmc build --int8-activations), for every step (decode and
// prefill; the scale is per row, so a row gives the same numbers alone or inside a prefill call).
//
// The definition: each row of x is cut into the weight's groups, and each group is replaced by its int8
// fake-quantization x' = sx * xq, sx = (largest |x| in the group) / 127, xq = round(x / sx) in [-127, 127]; then
// linear_q as usual. So every path computes the same numbers up to f32 rounding:
//   - AVX512-VNNI (this file): integer dot products of the codes with xq,
//       y[t, o] = sum_g sw[o, g] * sx[t, g] * D[t, o, g] + offset[o, g] * sx[t, g] * sum(xq[t, g]),
//     D = sum_i code[o, i] * xq[t, i] exact in int32. vpdpbusd multiplies unsigned by signed bytes.
//     u4 codes (groups of a multiple of 32; tile_u4): the codes are the unsigned side, read straight from the packed
//       bytes: 64 bytes of a row are 128 columns, the low nibbles its even columns and the high nibbles its odd
//       ones, so xq is laid out once per call (split_u4_chunks) as, per 128 columns, the xq of the 64 even columns
//       then of the 64 odd ones; two vpdpbusd then leave in int32 lane l the dot of columns 8l .. 8l + 7 of the
//       chunk, all in one group. Groups of a multiple of 128 sum lanes over the group and scale once by
//       sw * sx; smaller groups (g32: 4 per chunk, g64: 2, g96 ...) convert per chunk and scale per lane by the
//       lane's group's sw (one masked load + vpermps per row and chunk) times sx (per token and chunk, once per
//       call). A row with in % 128 != 0 ends in a masked load of its last bytes (xq and sx zero-padded there).
//       The offsets term is a float dot of the row's offsets with sx * sum(xq) per group.
//     i8 codes (groups of a multiple of 64; tile): the codes are the signed side and xq + 128 the unsigned one,
//       corrected by 128 * sum(code) per row and group.
//     x is quantized with AVX-512 (quantize_activations_avx512: the same numbers as the scalar one).
//   - AVX2 (no VNNI, or groups the VNNI path does not take): linear_quant_act8_avx2.cpp, vpmaddubsw with the sign
//     trick for i8 codes, directly for u4 codes; the same formula.
//   - scalar: x' is built and the float kernels run on it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "linear_quant.h"

#define LLMC_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma")))

namespace llmc::cpu::quant {

void quantize_activations(const float* x, int64_t rows, int64_t in, int64_t group, Act8& a) {
  const int64_t ng = in / group;
  a.size_for(rows, in, group);
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t g = 0; g < ng; ++g) {
      const float* xg = x + t * in + g * group;
      float amax = 0.0f;
      for (int64_t i = 0; i < group; ++i) amax = std::max(amax, std::fabs(xg[i]));
      const float sx = amax > 0.0f ? amax / 127.0f : 1.0f;
      int32_t qs = 0;
      for (int64_t i = 0; i < group; ++i) {
        const int v = int(std::clamp(std::nearbyint(xg[i] / sx), -127.0f, 127.0f));
        a.xq[size_t(t * in + g * group + i)] = int8_t(v);
        qs += v;
      }
      a.sx[size_t(t * ng + g)] = sx;
      a.qsum[size_t(t * ng + g)] = qs;
      a.xs[size_t(t * ng + g)] = double(sx) * double(qs);
    }
}

// x (f32, [rows, in]) to Act8 with the same numbers as quantize_activations, 16 lanes at a time: the same IEEE
// division, round to nearest even (vcvtps2dq in the default rounding mode is nearbyint) and clamp; the group's
// columns past its last whole 16 are masked loads (the zero lanes add nothing to amax or qsum).
LLMC_VNNI void quantize_activations_avx512(const float* x, int64_t rows, int64_t in, int64_t group, Act8& a) {
  const int64_t ng = in / group;
  a.size_for(rows, in, group);
  const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t g = 0; g < ng; ++g) {
      const float* xg = x + t * in + g * group;
      int8_t* q = a.xq.data() + t * in + g * group;
      __m512 vmax = _mm512_setzero_ps();
      for (int64_t i = 0; i < group; i += 16) {
        const __mmask16 m = group - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (group - i)) - 1);
        vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, xg + i)));
      }
      const float amax = _mm512_reduce_max_ps(vmax);
      const float sx = amax > 0.0f ? amax / 127.0f : 1.0f;
      const __m512 sv = _mm512_set1_ps(sx);
      __m512i vsum = _mm512_setzero_si512();
      for (int64_t i = 0; i < group; i += 16) {
        const __mmask16 m = group - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (group - i)) - 1);
        const __m512 r = _mm512_div_ps(_mm512_maskz_loadu_ps(m, xg + i), sv);
        const __m512i v = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(r, lo), hi));
        vsum = _mm512_add_epi32(vsum, v);
        _mm_mask_storeu_epi8(q + i, m, _mm512_cvtepi32_epi8(v));
      }
      const int32_t qs = _mm512_reduce_add_epi32(vsum);
      a.sx[size_t(t * ng + g)] = sx;
      a.qsum[size_t(t * ng + g)] = qs;
      a.xs[size_t(t * ng + g)] = double(sx) * double(qs);
    }
}

void dequantize_activations(const Act8& a, int64_t rows, int64_t in, int64_t group, float* out) {
  const int64_t ng = in / group;
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t i = 0; i < in; ++i) out[t * in + i] = a.sx[size_t(t * ng + i / group)] * float(a.xq[size_t(t * in + i)]);
}

void split_u4_act(int64_t rows, int64_t in, int64_t group, Act8& a) {
  a.xr.resize(a.xq.size());
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t g0 = 0; g0 < in; g0 += group) {
      const int8_t* src = a.xq.data() + t * in;
      int8_t* dst = a.xr.data() + t * in;
      int64_t k = g0;
      for (; k + 32 <= g0 + group; k += 32)
        for (int i = 0; i < 16; ++i) {
          dst[k + i] = src[k + 2 * i];
          dst[k + 16 + i] = src[k + 2 * i + 1];
        }
      for (; k < g0 + group; ++k) dst[k] = src[k];
    }
}

bool vnni_available() {
#if defined(__x86_64__)
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  }();
  return has;
#else
  return false;
#endif
}

bool vnni_takes(DType qt, int64_t group) {
  if (!vnni_available()) return false;
  if (qt == DType::u4) return group % 32 == 0;
  return qt == DType::i8 && group % 64 == 0;
}

// xq to the chunk layout of the u4 kernel (Act8::xc: per 128 columns the 64 even ones, then the 64 odd ones, which
// is what the low and the high nibbles of 64 code bytes multiply), sx per lane (Act8::sxc) and sx * qsum per group.
// Once per call, every token.
LLMC_VNNI void split_u4_chunks(int64_t rows, int64_t in, int64_t group, Act8& a) {
  const int64_t ng = in / group, nc = (in + 127) / 128;
  a.xc.assign(size_t(rows * nc * 128), 0);
  a.sxc.assign(size_t(rows * nc * 16), 0.0f);
  a.cq.resize(size_t(rows * ng));
  a.cg0.resize(size_t(nc));
  a.crel.resize(size_t(nc * 16));
  for (int64_t c = 0; c < nc; ++c) {
    a.cg0[size_t(c)] = int32_t(128 * c / group);
    for (int64_t l = 0; l < 16; ++l) {
      const int64_t col = 128 * c + 8 * l;
      a.crel[size_t(c * 16 + l)] = int32_t((col < in ? col / group : ng - 1) - a.cg0[size_t(c)]);
    }
  }
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t g = 0; g < ng; ++g) a.cq[size_t(t * ng + g)] = a.sx[size_t(t * ng + g)] * float(a.qsum[size_t(t * ng + g)]);
    for (int64_t c = 0; c < nc; ++c) {
      const int8_t* src = a.xq.data() + t * in + 128 * c;
      int8_t* dst = a.xc.data() + (t * nc + c) * 128;
      const int64_t n = std::min<int64_t>(128, in - 128 * c);
      const __mmask64 m0 = n >= 64 ? ~__mmask64(0) : (__mmask64(1) << n) - 1;
      const __mmask64 m1 = n >= 128 ? ~__mmask64(0) : n > 64 ? (__mmask64(1) << (n - 64)) - 1 : 0;
      const __m512i lo = _mm512_maskz_loadu_epi8(m0, src), hi = _mm512_maskz_loadu_epi8(m1, src + 64);
      // vpmovwb keeps the low byte of each 16-bit word: the even columns; shifted by 8 first, the odd ones.
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi16_epi8(lo));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32), _mm512_cvtepi16_epi8(hi));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 64), _mm512_cvtepi16_epi8(_mm512_srli_epi16(lo, 8)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 96), _mm512_cvtepi16_epi8(_mm512_srli_epi16(hi, 8)));
      float* sxc = a.sxc.data() + (t * nc + c) * 16;
      for (int64_t l = 0; l < 16; ++l) {
        const int64_t col = 128 * c + 8 * l;
        if (col < in) sxc[l] = a.sx[size_t(t * ng + col / group)];
      }
    }
  }
}

namespace {

constexpr int kTT = 2;   // tokens per tile
constexpr int kRT = 4;   // weight rows per tile

// One tile of the i8 kernel: NT tokens x NR rows of the block; the unsigned operand is xu = xq + 128 and the signed
// one the weight.
template <int NT, int NR>
LLMC_VNNI void tile(const Act8& a, const QuantWeight& w, int64_t in, int64_t t0, int64_t o0, const int32_t* wsum,
                    float* res /* [NT][NR] */) {
  const int64_t gs = w.group_size, ng = in / gs;
  __m512 facc[NT][NR];
  double corr[NT][NR] = {};
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) facc[t][r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    __m512i iacc[NT][NR];
    for (int t = 0; t < NT; ++t)
      for (int r = 0; r < NR; ++r) iacc[t][r] = _mm512_setzero_si512();
    for (int64_t k = g * gs; k < (g + 1) * gs; k += 64) {
      __m512i wv[NR], xv[NT];
      for (int r = 0; r < NR; ++r) wv[r] = _mm512_loadu_si512(static_cast<const int8_t*>(w.q) + (o0 + r) * in + k);
      for (int t = 0; t < NT; ++t) xv[t] = _mm512_loadu_si512(a.xu.data() + (t0 + t) * in + k);
      for (int t = 0; t < NT; ++t)
        for (int r = 0; r < NR; ++r) iacc[t][r] = _mm512_dpbusd_epi32(iacc[t][r], xv[t], wv[r]);
    }
    for (int t = 0; t < NT; ++t) {
      const float sx = a.sx[size_t((t0 + t) * ng + g)];
      for (int r = 0; r < NR; ++r) {
        const float sc = w.scales[(o0 + r) * ng + g] * sx;
        facc[t][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[t][r]), _mm512_set1_ps(sc), facc[t][r]);
        corr[t][r] += double(sc) * 128.0 * double(wsum[r * ng + g]);
        if (w.offsets) corr[t][r] -= double(w.offsets[(o0 + r) * ng + g]) * double(sx) * double(a.qsum[size_t((t0 + t) * ng + g)]);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) res[t * NR + r] = float(double(_mm512_reduce_add_ps(facc[t][r])) - corr[t][r]);
}

template <int NT>
LLMC_VNNI void rows_of_block(const Act8& a, const QuantWeight& w, int64_t in, int64_t out, int64_t t0, int64_t jb, int64_t m,
                             const int32_t* wsum, float* y) {
  const int64_t ng = in / w.group_size;
  float res[NT * kRT];
  int64_t r = 0;
  for (; r + kRT <= m; r += kRT) {
    tile<NT, kRT>(a, w, in, t0, jb + r, wsum + r * ng, res);
    for (int t = 0; t < NT; ++t)
      for (int u = 0; u < kRT; ++u) y[(t0 + t) * out + jb + r + u] = res[t * kRT + u];
  }
  for (; r < m; ++r) {
    tile<NT, 1>(a, w, in, t0, jb + r, wsum + r * ng, res);
    for (int t = 0; t < NT; ++t) y[(t0 + t) * out + jb + r] = res[t];
  }
}


// sum_i a[i] * b[i] in f32, 16 lanes then the fixed reduction: the same order for every tile.
LLMC_VNNI inline float dot_f32(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// Rows per register tile of the u4 kernel for NT tokens: decode (NT 1) 8 independent chains; GA (groups of a
// multiple of 128, integer sums kept over the group) needs NT x NR int32 and f32 accumulators, so fewer rows.
constexpr int u4_rows(int nt, bool ga) { return nt == 1 ? 8 : ga ? (nt >= 3 ? 2 : 4) : 4; }

// One tile of the u4 kernel: NT tokens from t0 x NR weight rows from o0, res[NT][NR] without bias. Per chunk of 128
// columns (64 code bytes b of a row): lo = b & 15 are its even columns, hi = b >> 4 its odd ones, against Act8::xc's
// two halves; int32 lane l then holds the dot of columns 128c + 8l .. 128c + 8l + 7, which lie in one group.
//   GA false (group size not a multiple of 128: g32, g64, ...): per chunk the int32 lanes are converted and scaled
//     by SW * SX, SW the row's scale of each lane's group (one masked load and one vpermps of the group scales),
//     SX the token's sx per lane (Act8::sxc). The last chunk of a row with in % 128 != 0 is a masked load (the
//     bytes past the row read as zero and Act8::xc / sxc are zero-padded there).
//   GA true: the int32 lanes are summed over the whole group, then converted once and scaled by sw * sx.
// The offsets term is a float dot of the row's offsets with Act8::cq. Every (token, row) pair goes through the
// same operations in the same order whatever the tile: decode and prefill give bit-identical results.
template <int NT, int NR, bool GA>
LLMC_VNNI void tile_u4(const Act8& a, const QuantWeight& w, int64_t in, int64_t t0, int64_t o0, float* res) {
  const int64_t gs = w.group_size, ng = in / gs, nc = (in + 127) / 128, rb = in / 2;
  const uint8_t* q = static_cast<const uint8_t*>(w.q) + o0 * rb;
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  __m512 facc[NT][NR];
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) facc[t][r] = _mm512_setzero_ps();
  if constexpr (!GA) {
    for (int64_t c = 0; c < nc; ++c) {
      const int64_t nb = std::min<int64_t>(64, rb - 64 * c);
      const __mmask64 bm = nb == 64 ? ~__mmask64(0) : (__mmask64(1) << nb) - 1;
      const int64_t g0 = a.cg0[size_t(c)];
      const __m512i rel = _mm512_loadu_si512(a.crel.data() + c * 16);
      const __mmask16 sm = ng - g0 >= 16 ? __mmask16(0xffff) : __mmask16((1u << (ng - g0)) - 1);
      for (int r = 0; r < NR; ++r) {
        const __m512i b = _mm512_maskz_loadu_epi8(bm, q + r * rb + 64 * c);
        const __m512i lo = _mm512_and_si512(b, m4), hi = _mm512_and_si512(_mm512_srli_epi16(b, 4), m4);
        const __m512 sw = _mm512_permutexvar_ps(rel, _mm512_maskz_loadu_ps(sm, w.scales + (o0 + r) * ng + g0));
        for (int t = 0; t < NT; ++t) {
          const int8_t* xc = a.xc.data() + ((t0 + t) * nc + c) * 128;
          const __m512i d = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(xc)), hi,
                                                _mm512_loadu_si512(xc + 64));
          const __m512 s = _mm512_mul_ps(sw, _mm512_loadu_ps(a.sxc.data() + ((t0 + t) * nc + c) * 16));
          facc[t][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), s, facc[t][r]);
        }
      }
    }
  } else {
    const int64_t cpg = gs / 128;  // chunks per group
    for (int64_t g = 0; g < ng; ++g) {
      __m512i iacc[NT][NR];
      for (int t = 0; t < NT; ++t)
        for (int r = 0; r < NR; ++r) iacc[t][r] = _mm512_setzero_si512();
      for (int64_t c = g * cpg; c < (g + 1) * cpg; ++c)
        for (int r = 0; r < NR; ++r) {
          const __m512i b = _mm512_loadu_si512(q + r * rb + 64 * c);
          const __m512i lo = _mm512_and_si512(b, m4), hi = _mm512_and_si512(_mm512_srli_epi16(b, 4), m4);
          for (int t = 0; t < NT; ++t) {
            const int8_t* xc = a.xc.data() + ((t0 + t) * nc + c) * 128;
            iacc[t][r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(iacc[t][r], lo, _mm512_loadu_si512(xc)), hi,
                                             _mm512_loadu_si512(xc + 64));
          }
        }
      for (int t = 0; t < NT; ++t) {
        const float sx = a.sx[size_t((t0 + t) * ng + g)];
        for (int r = 0; r < NR; ++r)
          facc[t][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[t][r]), _mm512_set1_ps(w.scales[(o0 + r) * ng + g] * sx), facc[t][r]);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) {
      float v = _mm512_reduce_add_ps(facc[t][r]);
      if (w.offsets) v += dot_f32(w.offsets + (o0 + r) * ng, a.cq.data() + (t0 + t) * ng, ng);
      res[t * NR + r] = v;
    }
}

// NT tokens from t0 x rows [jb, jb + m) of y.
template <int NT, bool GA>
LLMC_VNNI void rows_u4(const Act8& a, const QuantWeight& w, int64_t in, int64_t out, int64_t t0, int64_t jb, int64_t m, float* y) {
  constexpr int NR = u4_rows(NT, GA);
  float res[NT * NR];
  int64_t r = 0;
  for (; r + NR <= m; r += NR) {
    tile_u4<NT, NR, GA>(a, w, in, t0, jb + r, res);
    for (int t = 0; t < NT; ++t)
      for (int u = 0; u < NR; ++u) y[(t0 + t) * out + jb + r + u] = res[t * NR + u];
  }
  for (; r < m; ++r) {
    tile_u4<NT, 1, GA>(a, w, in, t0, jb + r, res);
    for (int t = 0; t < NT; ++t) y[(t0 + t) * out + jb + r] = res[t];
  }
}

// Blocked like the float GEMM: kTB tokens x kMB weight rows (the rows' codes stay in L1 while the tokens pass).
template <bool GA>
LLMC_VNNI void range_u4(const Act8& a, int64_t rows, int64_t in, const QuantWeight& w, int64_t out, int64_t j0, int64_t j1, float* y) {
  for (int64_t tb = 0; tb < rows; tb += kTB) {
    const int64_t te = std::min(rows, tb + kTB);
    for (int64_t jb = j0; jb < j1; jb += kMB) {
      const int64_t m = std::min(kMB, j1 - jb);
      int64_t t = tb;
      for (; t + 4 <= te; t += 4) rows_u4<4, GA>(a, w, in, out, t, jb, m, y);
      if (te - t == 3) rows_u4<3, GA>(a, w, in, out, t, jb, m, y);
      else if (te - t == 2) rows_u4<2, GA>(a, w, in, out, t, jb, m, y);
      else if (te - t == 1) rows_u4<1, GA>(a, w, in, out, t, jb, m, y);
    }
  }
}

}  // namespace

LLMC_VNNI void range_vnni(const Act8& a, int64_t rows, int64_t in, const QuantWeight& w, int64_t out, const void* bias,
                          DType bt, int64_t j0, int64_t j1, float* y) {
  const int64_t gs = w.group_size, ng = in / gs;
  if (w.qt == DType::u4) {
    if (gs % 128 == 0) range_u4<true>(a, rows, in, w, out, j0, j1, y);
    else range_u4<false>(a, rows, in, w, out, j0, j1, y);
    if (bias)
      for (int64_t t = 0; t < rows; ++t)
        for (int64_t j = j0; j < j1; ++j) y[t * out + j] += load_weight(bias, bt, j);
    return;
  }
  thread_local std::vector<int32_t> wsum;  // [kMB, ng] i8 code sums per group (the +128 correction)
  wsum.resize(size_t(kMB * ng));
  for (int64_t jb = j0; jb < j1; jb += kMB) {
    const int64_t m = std::min(kMB, j1 - jb);
    for (int64_t r = 0; r < m; ++r) {
      const int8_t* row = static_cast<const int8_t*>(w.q) + (jb + r) * in;
      for (int64_t g = 0; g < ng; ++g) {
        int32_t s = 0;
        for (int64_t i = g * gs; i < (g + 1) * gs; ++i) s += row[i];
        wsum[size_t(r * ng + g)] = s;
      }
    }
    for (int64_t t = 0; t < rows; t += kTT) {
      if (rows - t >= kTT) rows_of_block<kTT>(a, w, in, out, t, jb, m, wsum.data(), y);
      else rows_of_block<1>(a, w, in, out, t, jb, m, wsum.data(), y);
    }
  }
  if (!bias) return;
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t j = j0; j < j1; ++j) y[t * out + j] += load_weight(bias, bt, j);
}

}  // namespace llmc::cpu::quant
