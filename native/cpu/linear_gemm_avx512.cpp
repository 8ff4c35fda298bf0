// Prefill GEMM on AVX-512: y[rows, out] = x[rows, in] . w[out, in]^T for one thread's output features [j0, j1).
//
// Outer-product form (as BLIS does it): a 6-token x 64-feature tile of y lives in 24 zmm accumulators; each step
// of the reduction loads 4 vectors of 16 packed weights (one k, 64 features) and broadcasts 6 activations, for 24
// FMAs (f32) or 24 vdpbf16ps (bf16: each one two k at once, so twice the work). Packing puts both operands in the
// order the tile reads them:
//   weights: panels of 64 features, [k][64] (f32) or [k/2][64][2] (bf16 pairs), transposed 16x16 in registers;
//   activations: micro-panels of 6 tokens, [k][6] (f32) or [k/2][6] bf16 pairs (rounded to nearest even).
// Blocking: a weight panel of kKc k-units (32 KiB) stays in L1 while every 6-token micro-panel of the token block
// (kMc tokens, <= 48 KiB, in L2) passes over it; the weight block of kNc features (256 KiB) stays in L2 across the
// token blocks. Partial sums over k blocks accumulate in y (the first block stores, the others add).
//
// f32 path: any weight dtype, widened to f32 while packed (exact), so it matches the scalar reference to rounding
// order. bf16 path: bf16 weights as stored and activations rounded to bf16, products summed in f32; see
// docs/cpu-kernels.md for what that does to accuracy.
#include <algorithm>
#include <cstring>
#include <vector>

#include "avx512.h"
#include "dtype.h"
#include "linear_paths.h"

namespace llmc::cpu::linear_path {
namespace {

constexpr int kMr = 6;            // tokens per micro-tile
constexpr int64_t kKc = 128;      // k-units per block: floats (f32) or bf16 pairs (bf16)
constexpr int64_t kNc = 512;      // features per packed weight block (8 panels)
constexpr int64_t kMc = 16 * kMr; // tokens per packed activation block

// ---- packing

// Weight panel: features [r0, r0 + nr) (nr <= 64), k-units [u0, u0 + nu) -> dst[nu][64] of 32-bit elements.
// f32 path: an element is w[r, k] widened to f32. bf16 path: an element is the pair w[r, 2u], w[r, 2u + 1].
LLMC_AVX512 void pack_w_f32(const void* w, DType wt, int64_t in, int64_t r0, int64_t nr, int64_t u0, int64_t nu,
                            float* dst) {
  const size_t es = dtype_size(wt);
  for (int g = 0; g < 4; ++g) {
    for (int64_t kk = 0; kk < nu; kk += 16) {
      __m512 v[16];
      const int64_t n = std::min<int64_t>(16, nu - kk);
      for (int i = 0; i < 16; ++i) {
        const int64_t r = g * 16 + i;
        v[i] = r < nr ? avx512::load16(static_cast<const char*>(w) + size_t(r0 + r) * size_t(in) * es, wt, u0 + kk, n)
                      : _mm512_setzero_ps();
      }
      avx512::transpose16(v);
      for (int j = 0; j < n; ++j) _mm512_storeu_ps(dst + (kk + j) * 64 + g * 16, v[j]);
    }
  }
}

LLMC_AVX512 void pack_w_bf16(const uint16_t* w, int64_t in, int64_t r0, int64_t nr, int64_t u0, int64_t nu,
                             uint32_t* dst) {
  for (int g = 0; g < 4; ++g) {
    for (int64_t kk = 0; kk < nu; kk += 16) {
      __m512 v[16];
      const int64_t k = 2 * (u0 + kk);                         // first bf16 element of this 16-pair block
      const int64_t n = std::min<int64_t>(32, in - k);          // valid bf16 elements (an odd tail leaves a 0)
      const __mmask32 m = n >= 32 ? __mmask32(0xffffffffu) : __mmask32((1u << n) - 1);
      for (int i = 0; i < 16; ++i) {
        const int64_t r = g * 16 + i;
        v[i] = r < nr ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(m, w + (r0 + r) * in + k)) : _mm512_setzero_ps();
      }
      avx512::transpose16(v);
      const int64_t np = std::min<int64_t>(16, nu - kk);
      for (int j = 0; j < np; ++j) _mm512_storeu_ps(reinterpret_cast<float*>(dst + (kk + j) * 64 + g * 16), v[j]);
    }
  }
}

// Activation micro-panel: tokens [t0, t0 + nt) (nt <= 6; the others are 0), k-units [u0, u0 + nu) -> dst[nu][6].
void pack_x_f32(const float* x, int64_t in, int64_t t0, int64_t nt, int64_t u0, int64_t nu, float* dst) {
  for (int t = 0; t < kMr; ++t) {
    const float* src = x + (t0 + t) * in + u0;
    if (t < nt)
      for (int64_t k = 0; k < nu; ++k) dst[k * kMr + t] = src[k];
    else
      for (int64_t k = 0; k < nu; ++k) dst[k * kMr + t] = 0.0f;
  }
}

void pack_x_bf16(const float* x, int64_t in, int64_t t0, int64_t nt, int64_t u0, int64_t nu, uint32_t* dst) {
  for (int t = 0; t < kMr; ++t) {
    const float* src = x + (t0 + t) * in;
    for (int64_t u = 0; u < nu; ++u) {
      const int64_t k = 2 * (u0 + u);
      uint32_t pair = 0;
      if (t < nt) pair = f32_to_bf16(src[k]) | (k + 1 < in ? uint32_t(f32_to_bf16(src[k + 1])) << 16 : 0u);
      dst[u * kMr + t] = pair;
    }
  }
}

// ---- micro-tiles: y[t, 0:ncols] (+)= sum over the block, t < mrows

LLMC_AVX512 inline void store_tile(__m512 (&c)[kMr][4], float* y, int64_t ldy, int mrows, int64_t ncols, bool add) {
  for (int t = 0; t < kMr; ++t) {
    if (t >= mrows) break;
    for (int i = 0; i < 4; ++i) {
      const __mmask16 m = avx512::first_lanes(ncols - 16 * i);
      if (!m) break;
      float* p = y + t * ldy + 16 * i;
      const __m512 v = add ? _mm512_add_ps(c[t][i], _mm512_maskz_loadu_ps(m, p)) : c[t][i];
      _mm512_mask_storeu_ps(p, m, v);
    }
  }
}

LLMC_AVX512 void micro_f32(int64_t nu, const float* xp, const float* wp, float* y, int64_t ldy, int mrows,
                           int64_t ncols, bool add) {
  __m512 c[kMr][4];
  for (int t = 0; t < kMr; ++t)
    for (int i = 0; i < 4; ++i) c[t][i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < nu; ++k) {
    const __m512 b0 = _mm512_loadu_ps(wp + k * 64), b1 = _mm512_loadu_ps(wp + k * 64 + 16);
    const __m512 b2 = _mm512_loadu_ps(wp + k * 64 + 32), b3 = _mm512_loadu_ps(wp + k * 64 + 48);
    for (int t = 0; t < kMr; ++t) {
      const __m512 a = _mm512_set1_ps(xp[k * kMr + t]);
      c[t][0] = _mm512_fmadd_ps(a, b0, c[t][0]);
      c[t][1] = _mm512_fmadd_ps(a, b1, c[t][1]);
      c[t][2] = _mm512_fmadd_ps(a, b2, c[t][2]);
      c[t][3] = _mm512_fmadd_ps(a, b3, c[t][3]);
    }
  }
  store_tile(c, y, ldy, mrows, ncols, add);
}

LLMC_AVX512_BF16 void micro_bf16(int64_t nu, const uint32_t* xp, const uint32_t* wp, float* y, int64_t ldy,
                                 int mrows, int64_t ncols, bool add) {
  __m512 c[kMr][4];
  for (int t = 0; t < kMr; ++t)
    for (int i = 0; i < 4; ++i) c[t][i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < nu; ++k) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(wp + k * 64), b1 = (__m512bh)_mm512_loadu_si512(wp + k * 64 + 16);
    const __m512bh b2 = (__m512bh)_mm512_loadu_si512(wp + k * 64 + 32), b3 = (__m512bh)_mm512_loadu_si512(wp + k * 64 + 48);
    for (int t = 0; t < kMr; ++t) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(xp[k * kMr + t]));
      c[t][0] = _mm512_dpbf16_ps(c[t][0], a, b0);
      c[t][1] = _mm512_dpbf16_ps(c[t][1], a, b1);
      c[t][2] = _mm512_dpbf16_ps(c[t][2], a, b2);
      c[t][3] = _mm512_dpbf16_ps(c[t][3], a, b3);
    }
  }
  store_tile(c, y, ldy, mrows, ncols, add);
}

// ---- the blocked loops, shared by both element kinds

template <class E, class PackW, class PackX, class Micro>
void blocked_gemm(const float* x, int64_t rows, int64_t units, int64_t out, int64_t j0, int64_t j1, float* y,
                  PackW pack_w, PackX pack_x, Micro micro) {
  thread_local std::vector<E> wbuf, xbuf;  // [kNc/64][kKc][64] weights | [kMc/6][kKc][6] activations
  wbuf.resize(size_t(kNc * kKc));
  xbuf.resize(size_t(kMc * kKc));
  for (int64_t jc = j0; jc < j1; jc += kNc) {
    const int64_t nc = std::min(kNc, j1 - jc);
    const int64_t panels = (nc + 63) / 64;
    for (int64_t u0 = 0; u0 < units; u0 += kKc) {
      const int64_t nu = std::min(kKc, units - u0);
      for (int64_t p = 0; p < panels; ++p)
        pack_w(jc + 64 * p, std::min<int64_t>(64, nc - 64 * p), u0, nu, wbuf.data() + p * kKc * 64);
      for (int64_t ic = 0; ic < rows; ic += kMc) {
        const int64_t mc = std::min(kMc, rows - ic);
        const int64_t mpanels = (mc + kMr - 1) / kMr;
        for (int64_t q = 0; q < mpanels; ++q)
          pack_x(ic + q * kMr, std::min<int64_t>(kMr, mc - q * kMr), u0, nu, xbuf.data() + q * kKc * kMr);
        for (int64_t p = 0; p < panels; ++p) {
          const int64_t ncols = std::min<int64_t>(64, nc - 64 * p);
          for (int64_t q = 0; q < mpanels; ++q) {
            const int mrows = int(std::min<int64_t>(kMr, mc - q * kMr));
            micro(nu, xbuf.data() + q * kKc * kMr, wbuf.data() + p * kKc * 64, y + (ic + q * kMr) * out + jc + 64 * p,
                  out, mrows, ncols, u0 > 0);
          }
        }
      }
    }
  }
}

}  // namespace

void gemm_avx512_f32(const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out, int64_t j0,
                     int64_t j1, float* y) {
  blocked_gemm<float>(
      x, rows, in, out, j0, j1, y,
      [&](int64_t r0, int64_t nr, int64_t u0, int64_t nu, float* dst) { pack_w_f32(w, wt, in, r0, nr, u0, nu, dst); },
      [&](int64_t t0, int64_t nt, int64_t u0, int64_t nu, float* dst) { pack_x_f32(x, in, t0, nt, u0, nu, dst); },
      micro_f32);
}

void gemm_avx512_bf16(const float* x, int64_t rows, int64_t in, const void* w, int64_t out, int64_t j0, int64_t j1,
                      float* y) {
  const auto* wb = static_cast<const uint16_t*>(w);
  blocked_gemm<uint32_t>(
      x, rows, (in + 1) / 2, out, j0, j1, y,
      [&](int64_t r0, int64_t nr, int64_t u0, int64_t nu, uint32_t* dst) { pack_w_bf16(wb, in, r0, nr, u0, nu, dst); },
      [&](int64_t t0, int64_t nt, int64_t u0, int64_t nu, uint32_t* dst) { pack_x_bf16(x, in, t0, nt, u0, nu, dst); },
      micro_bf16);
}

}  // namespace llmc::cpu::linear_path
