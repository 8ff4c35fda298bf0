// Prefill attention tiled like flash attention: a tile of up to kTileQ query vectors (consecutive tokens of one
// sequence x the q heads of one kv group) walks the sequence's keys in tiles of up to kTileK (one block run), with
// an online softmax, so no [T, T] score matrix exists: per key tile
//   S[kTileQ, kTileK] = Q K^T                            (scores: K transposed to [head_dim, kTileK] once per tile)
//   S = S * scale + alibi, masked outside each row's causal/sliding-window range; running max m, rescale factor
//   corr = e^(m_old - m_new), P = e^(S - m), l = l * corr + rowsum(P)                   (softmax)
//   O = O * corr + P V                                                                   (pv)
// and out = O / l. Q, O, the K/V tile and S stay in L1/L2 (32 query vectors up to head_dim 128: Q + O 32 KiB there;
// 16 above). A K/V tile of a 16-bit or
// quantized cache is widened to f32 once per tile, shared by all kTileQ query vectors.
//
// The three steps are per-level micro-kernels (TileKernels): the scalar reference here, AVX2 and AVX-512 in
// attention_tile_avx2.cpp / attention_tile_avx512.cpp. The driver, the masking rules and the bookkeeping are shared.
#include <cmath>
#include <limits>

#include "attention_internal.h"

namespace llmc::cpu::attn {
namespace {

void transpose_scalar(const float* K, int32_t count, int32_t hd, float* Kt) {
  for (int32_t d = 0; d < hd; ++d) {
    float* kt = Kt + int64_t(d) * kTileK;
    for (int32_t k = 0; k < count; ++k) kt[k] = K[int64_t(k) * hd + d];
    for (int32_t k = count; k < kTileK; ++k) kt[k] = 0.0f;
  }
}

void scores_scalar(const float* Q, int32_t R, int32_t hd, const float* Kt, float* S) {
  for (int32_t i = 0; i < R; ++i) {
    float acc[kTileK] = {};
    for (int32_t d = 0; d < hd; ++d)
      for (int32_t k = 0; k < kTileK; ++k) acc[k] += Q[int64_t(i) * hd + d] * Kt[int64_t(d) * kTileK + k];
    std::memcpy(S + int64_t(i) * kTileK, acc, sizeof acc);
  }
}

void softmax_scalar(float* S, const SoftmaxTile& t, float* m, float* l, float* corr) {
  for (int32_t i = 0; i < t.R; ++i) {
    float* s = S + int64_t(i) * kTileK;
    float mx = -std::numeric_limits<float>::infinity();
    for (int32_t k = 0; k < kTileK; ++k) {
      const int32_t j = t.key0 + k;
      const bool valid = k < t.count && j >= t.lo[i] && j <= t.hi[i];
      s[k] = valid ? s[k] * t.scale + (t.slope ? t.slope[i] * float(j) : 0.0f) : -std::numeric_limits<float>::infinity();
      mx = std::max(mx, s[k]);
    }
    if (mx == -std::numeric_limits<float>::infinity()) {  // no key of this tile is visible to row i
      corr[i] = 1.0f;
      for (int32_t k = 0; k < kTileK; ++k) s[k] = 0.0f;
      continue;
    }
    const float m_new = std::max(m[i], mx);
    corr[i] = std::exp(m[i] - m_new);  // 0 on the row's first tile (m = -inf)
    m[i] = m_new;
    float sum = 0.0f;
    for (int32_t k = 0; k < kTileK; ++k) {
      s[k] = std::exp(s[k] - m_new);
      sum += s[k];
    }
    l[i] = l[i] * corr[i] + sum;
  }
}

void pv_scalar(const float* P, int32_t R, int32_t count, const float* V, int32_t hd, float* O, const float* corr) {
  for (int32_t i = 0; i < R; ++i) {
    float* o = O + int64_t(i) * hd;
    for (int32_t d = 0; d < hd; ++d) o[d] *= corr[i];
    for (int32_t k = 0; k < count; ++k) {
      const float p = P[int64_t(i) * kTileK + k];
      for (int32_t d = 0; d < hd; ++d) o[d] += p * V[int64_t(k) * hd + d];
    }
  }
}

const TileKernels kScalar{transpose_scalar, scores_scalar, softmax_scalar, pv_scalar};

}  // namespace

size_t tile_scratch_floats(const AttentionArgs& a) {
  // Q | O [kTileQ, hd] | K transposed [hd, kTileK] | widened k, v rows [kTileK, hd] x 2 | S [kTileQ, kTileK]
  return (2 * size_t(kTileQ) + 3 * size_t(kTileK)) * size_t(a.head_dim) + size_t(kTileQ) * kTileK + 16;
}

void attend_tile(const AttentionArgs& a, Simd level, int64_t row0, int32_t rows, int32_t h0, int32_t h1, float* scratch) {
  const TileKernels& kern = level >= Simd::avx512 ? tile_kernels_avx512() : level >= Simd::avx2 ? tile_kernels_avx2() : kScalar;
  const Cache c{a};
  const int32_t hd = a.head_dim, G = h1 - h0, R = rows * G;
  const int32_t kv_head = h0 / (a.num_heads / a.num_kv_heads);
  const int32_t seq = a.seq_of_token[row0], pos0 = a.positions[row0];
  float* Q = scratch;                              // [R, hd]: vector i = row i / G, head h0 + i % G
  float* O = Q + int64_t(kTileQ) * hd;             // [R, hd]
  float* Kt = O + int64_t(kTileQ) * hd;            // [hd, kTileK]
  float* kbuf = Kt + int64_t(kTileK) * hd;         // [kTileK, hd]
  float* vbuf = kbuf + int64_t(kTileK) * hd;
  float* S = vbuf + int64_t(kTileK) * hd;          // [R, kTileK]
  int32_t lo[kTileQ], hi[kTileQ];
  float slope[kTileQ], m[kTileQ], l[kTileQ], corr[kTileQ];
  for (int32_t i = 0; i < R; ++i) {
    const int32_t r = i / G, h = h0 + i % G;
    std::memcpy(Q + int64_t(i) * hd, a.q + ((row0 + r) * a.num_heads + h) * hd, size_t(hd) * sizeof(float));
    hi[i] = pos0 + r;
    lo[i] = first_key(a, hi[i]);
    slope[i] = a.alibi_slopes ? a.alibi_slopes[h] : 0.0f;
    m[i] = -std::numeric_limits<float>::infinity();
    l[i] = 0.0f;
  }
  std::fill(O, O + int64_t(R) * hd, 0.0f);
  const SoftmaxTile st{R, 0, 0, a.scale, a.alibi_slopes ? slope : nullptr, lo, hi};
  const int32_t last = hi[R - 1];
  for (int32_t j = lo[0]; j <= last;) {
    const int32_t count = std::min({kTileK, a.kv.block_size - j % a.kv.block_size, last - j + 1});
    const F32Run f = widen(a, c.run_at(seq, kv_head, j, j + count - 1), kbuf, vbuf);
    kern.transpose(f.k, count, hd, Kt);
    kern.scores(Q, R, hd, Kt, S);
    SoftmaxTile t = st;
    t.key0 = j;
    t.count = count;
    kern.softmax(S, t, m, l, corr);
    kern.pv(S, R, count, f.v, hd, O, corr);
    j += count;
  }
  for (int32_t i = 0; i < R; ++i) {
    const int32_t r = i / G, h = h0 + i % G;
    float* out = a.out + ((row0 + r) * a.num_heads + h) * hd;
    const float inv = 1.0f / l[i];
    for (int32_t d = 0; d < hd; ++d) out[d] = O[int64_t(i) * hd + d] * inv;
  }
}

}  // namespace llmc::cpu::attn
