// linear_q with int8 activations (activation_bits 8, llmc build --int8-activations), for every step (decode and
// prefill; the scale is per row, so a row gives the same numbers alone or inside a prefill call).
//
// The definition: each row of x is cut into the weight's groups, and each group is replaced by its int8
// fake-quantization x' = sx * xq, sx = (largest |x| in the group) / 127, xq = round(x / sx) in [-127, 127]; then
// linear_q as usual. So every path computes the same numbers up to f32 rounding:
//   - AVX512-VNNI (this file; groups of a multiple of 64 columns): integer dot products of the codes with xq,
//       y[t, o] = sum_g sw[o, g] * sx[t, g] * D[t, o, g] + offset[o, g] * sx[t, g] * sum(xq[t, g]),
//     D = sum_i code[o, i] * xq[t, i] exact in int32. vpdpbusd multiplies unsigned by signed bytes: u4 codes are the
//     unsigned side and xq the signed one; i8 codes are the signed side and xq + 128 the unsigned one, corrected by
//     128 * sum(code) per row and group.
//   - AVX2 (no VNNI, or groups that are not a multiple of 64): linear_quant_act8_avx2.cpp, vpmaddubsw with the sign
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
  a.xq.resize(size_t(rows * in));
  a.sx.resize(size_t(rows * ng));
  a.qsum.resize(size_t(rows * ng));
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
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

namespace {

constexpr int kTT = 2;   // tokens per tile
constexpr int kRT = 4;   // weight rows per tile

// One tile: NT tokens x NR rows of the block. ua/sb: for u4 the unsigned operand is the weight (wb rows) and the
// signed one xq; for i8 the unsigned one is xu = xq + 128 and the signed one the weight.
template <int NT, int NR>
LLMC_VNNI void tile(const Act8& a, const QuantWeight& w, int64_t in, int64_t t0, int64_t o0, const uint8_t* wb,
                    const int32_t* wsum, float* res /* [NT][NR] */) {
  const int64_t gs = w.group_size, ng = in / gs;
  const bool u4 = w.qt == DType::u4;
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
      for (int r = 0; r < NR; ++r) {
        const void* p = u4 ? static_cast<const void*>(wb + r * in + k)
                           : static_cast<const void*>(static_cast<const int8_t*>(w.q) + (o0 + r) * in + k);
        wv[r] = _mm512_loadu_si512(p);
      }
      for (int t = 0; t < NT; ++t)
        xv[t] = _mm512_loadu_si512(u4 ? static_cast<const void*>(a.xq.data() + (t0 + t) * in + k)
                                      : static_cast<const void*>(a.xu.data() + (t0 + t) * in + k));
      for (int t = 0; t < NT; ++t)
        for (int r = 0; r < NR; ++r)
          iacc[t][r] = u4 ? _mm512_dpbusd_epi32(iacc[t][r], wv[r], xv[t]) : _mm512_dpbusd_epi32(iacc[t][r], xv[t], wv[r]);
    }
    for (int t = 0; t < NT; ++t) {
      const float sx = a.sx[size_t((t0 + t) * ng + g)];
      for (int r = 0; r < NR; ++r) {
        const float sc = w.scales[(o0 + r) * ng + g] * sx;
        facc[t][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[t][r]), _mm512_set1_ps(sc), facc[t][r]);
        if (!u4) corr[t][r] += double(sc) * 128.0 * double(wsum[r * ng + g]);
        if (w.offsets) corr[t][r] -= double(w.offsets[(o0 + r) * ng + g]) * double(sx) * double(a.qsum[size_t((t0 + t) * ng + g)]);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) res[t * NR + r] = float(double(_mm512_reduce_add_ps(facc[t][r])) - corr[t][r]);
}

template <int NT>
LLMC_VNNI void rows_of_block(const Act8& a, const QuantWeight& w, int64_t in, int64_t out, int64_t t0, int64_t jb, int64_t m,
                             const uint8_t* wb, const int32_t* wsum, float* y) {
  const int64_t ng = in / w.group_size;
  float res[NT * kRT];
  int64_t r = 0;
  for (; r + kRT <= m; r += kRT) {
    tile<NT, kRT>(a, w, in, t0, jb + r, wb + r * in, wsum + r * ng, res);
    for (int t = 0; t < NT; ++t)
      for (int u = 0; u < kRT; ++u) y[(t0 + t) * out + jb + r + u] = res[t * kRT + u];
  }
  for (; r < m; ++r) {
    tile<NT, 1>(a, w, in, t0, jb + r, wb + r * in, wsum + r * ng, res);
    for (int t = 0; t < NT; ++t) y[(t0 + t) * out + jb + r] = res[t];
  }
}

}  // namespace

LLMC_VNNI void range_vnni(const Act8& a, int64_t rows, int64_t in, const QuantWeight& w, int64_t out, const void* bias,
                          DType bt, int64_t j0, int64_t j1, float* y) {
  const int64_t gs = w.group_size, ng = in / gs;
  thread_local std::vector<uint8_t> wb;   // [kMB, in] u4 codes unpacked to bytes
  thread_local std::vector<int32_t> wsum; // [kMB, ng] i8 code sums per group (the +128 correction)
  wb.resize(size_t(kMB * in));
  wsum.resize(size_t(kMB * ng));
  for (int64_t jb = j0; jb < j1; jb += kMB) {
    const int64_t m = std::min(kMB, j1 - jb);
    for (int64_t r = 0; r < m; ++r) {
      const uint8_t* row = static_cast<const uint8_t*>(w.q) + (jb + r) * row_bytes(w.qt, in);
      if (w.qt == DType::u4) {
        for (int64_t i = 0; i < in; i += 2) {
          wb[size_t(r * in + i)] = row[i / 2] & 15;
          wb[size_t(r * in + i + 1)] = row[i / 2] >> 4;
        }
      } else {
        for (int64_t g = 0; g < ng; ++g) {
          int32_t s = 0;
          for (int64_t i = g * gs; i < (g + 1) * gs; ++i) s += int8_t(row[i]);
          wsum[size_t(r * ng + g)] = s;
        }
      }
    }
    for (int64_t t = 0; t < rows; t += kTT) {
      if (rows - t >= kTT) rows_of_block<kTT>(a, w, in, out, t, jb, m, wb.data(), wsum.data(), y);
      else rows_of_block<1>(a, w, in, out, t, jb, m, wb.data(), wsum.data(), y);
    }
  }
  if (!bias) return;
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t j = j0; j < j1; ++j) y[t * out + j] += load_weight(bias, bt, j);
}

}  // namespace llmc::cpu::quant
