// Prefill GEMM on AMX-BF16 tiles: y[rows, out] = x[rows, in] . w[out, in]^T for one thread's features [j0, j1).
//
// The tiles compute the transposed product, y^T[j, t] = sum_k w[j, k] x[t, k], so the weights need no packing:
// an A tile is 16 weight rows x 32 bf16 read straight from w (row stride in * 2 bytes), and only the activations
// are packed, once per token block, as B tiles in the pair layout tdpbf16ps wants: xb[k/2][tokens][2] bf16,
// rounded to nearest even. Four accumulator tiles hold 32 features x 32 tokens; every 32-element step of the
// reduction loads 2 A and 2 B tiles (4 KiB) for 4 tdpbf16ps (32 K multiply-adds). Each finished 16x16 f32 tile
// is transposed in zmm registers on its way to y. A feature group or k step that would read past a weight row or
// past the matrix (in % 32 != 0, out % 32 != 0) is copied into a zero-padded buffer first.
//
// Same numerics as the vdpbf16ps path: bf16 x bf16 products summed in f32 (docs/cpu-kernels.md).
#include <algorithm>
#include <cstring>
#include <vector>

#include "avx512.h"
#include "dtype.h"
#include "linear_paths.h"

namespace llmc::cpu::linear_path {
namespace {

constexpr int64_t kTokBlock = 256;  // tokens whose packed activations (<= 1 MiB at in = 2048) stay in L2

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

LLMC_AMX void configure_tiles() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {  // tmm0-3: C (16 features x 16 f32), tmm4-5: A (16 x 32 bf16), tmm6-7: B (16 pairs x 16 tokens)
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
}

// Activations of tokens [t0, t0 + nt) as pairs: dst[kp * ld + t] = bf16(x[t0+t, 2kp]) | bf16(x[t0+t, 2kp+1]) << 16,
// zero for t >= nt or k >= in. ld = nt rounded up to 32.
void pack_x_pairs(const float* x, int64_t in, int64_t t0, int64_t nt, int64_t units, int64_t ld, uint32_t* dst) {
  for (int64_t t = 0; t < ld; ++t) {
    const float* src = x + (t0 + t) * in;
    for (int64_t kp = 0; kp < units; ++kp) {
      const int64_t k = 2 * kp;
      uint32_t pair = 0;
      if (t < nt && k < in) pair = f32_to_bf16(src[k]) | (k + 1 < in ? uint32_t(f32_to_bf16(src[k + 1])) << 16 : 0u);
      dst[kp * ld + t] = pair;
    }
  }
}


LLMC_AMX void store_transposed(const float* tile, float* y, int64_t ldy, int64_t nt, int64_t nj) {
  if (nt <= 0 || nj <= 0) return;
  __m512 r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(tile + 16 * i);
  avx512::transpose16(r);  // r[t] = token t's 16 features
  const __mmask16 m = avx512::first_lanes(nj);
  for (int t = 0; t < nt; ++t) _mm512_mask_storeu_ps(y + t * ldy, m, r[t]);
}

}  // namespace

LLMC_AMX void gemm_amx_bf16(const float* x, int64_t rows, int64_t in, const void* w, int64_t out, int64_t j0,
                            int64_t j1, float* y) {
  const auto* wb = static_cast<const uint16_t*>(w);
  const int64_t units = (in + 31) / 32 * 16;  // k pairs, padded to whole 32-element tile steps
  const int64_t kfull = in / 32 * 32;         // elements the A tiles may read straight from w
  thread_local std::vector<uint32_t> xb;      // [units][ld] pairs of one token block
  thread_local std::vector<uint16_t> wpad;    // [32][units * 2] zero-padded weight rows of a ragged feature group
  alignas(64) float tilebuf[256];
  alignas(64) uint16_t ktail[32 * 32];        // [32 rows][32 bf16]: the k tail of a full feature group
  configure_tiles();
  for (int64_t tb = 0; tb < rows; tb += kTokBlock) {
    const int64_t nt = std::min(kTokBlock, rows - tb);
    const int64_t ld = (nt + 31) / 32 * 32;
    xb.resize(size_t(units * ld));
    pack_x_pairs(x, in, tb, nt, units, ld, xb.data());
    for (int64_t j = j0; j < j1; j += 32) {
      // A source for this group of 32 features: w itself, or a padded copy when the group is ragged.
      const uint16_t* a_src = wb + j * in;
      int64_t a_ld = in;                 // elements per row of a_src
      int64_t a_kfull = kfull;
      if (j + 32 > j1) {
        wpad.assign(size_t(32 * units * 2), 0);
        for (int64_t r = 0; r < j1 - j; ++r) std::memcpy(&wpad[r * units * 2], wb + (j + r) * in, size_t(in) * 2);
        a_src = wpad.data();
        a_ld = units * 2;
        a_kfull = units * 2;
      } else if (kfull < in) {
        std::memset(ktail, 0, sizeof ktail);
        for (int r = 0; r < 32; ++r) std::memcpy(&ktail[r * 32], wb + (j + r) * in + kfull, size_t(in - kfull) * 2);
      }
      for (int64_t t0 = tb; t0 < tb + nt; t0 += 32) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        const uint32_t* b = xb.data() + (t0 - tb);
        for (int64_t k = 0; k < a_kfull; k += 32) {
          _tile_loadd(4, a_src + k, a_ld * 2);
          _tile_loadd(5, a_src + 16 * a_ld + k, a_ld * 2);
          _tile_loadd(6, b + (k / 2) * ld, ld * 4);
          _tile_loadd(7, b + (k / 2) * ld + 16, ld * 4);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 4, 7);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
        if (a_kfull < units * 2) {  // the k tail, from the padded copy
          _tile_loadd(4, ktail, 64);
          _tile_loadd(5, ktail + 16 * 32, 64);
          _tile_loadd(6, b + (a_kfull / 2) * ld, ld * 4);
          _tile_loadd(7, b + (a_kfull / 2) * ld + 16, ld * 4);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 4, 7);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
        // C0: features j..j+15 x tokens t0..t0+15; C1: tokens +16; C2: features +16; C3: both.
        const int64_t tt = t0 - tb;
        auto put = [&](int64_t jj, int64_t dt) {
          store_transposed(tilebuf, y + (t0 + dt) * out + (j + jj), out, std::min<int64_t>(16, nt - tt - dt),
                           std::min<int64_t>(16, j1 - j - jj));
        };
        _tile_stored(0, tilebuf, 64);
        put(0, 0);
        _tile_stored(1, tilebuf, 64);
        put(0, 16);
        _tile_stored(2, tilebuf, 64);
        put(16, 0);
        _tile_stored(3, tilebuf, 64);
        put(16, 16);
      }
    }
  }
  _tile_release();
}

}  // namespace llmc::cpu::linear_path
