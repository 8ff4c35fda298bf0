// Shared pieces of the two attention kernels (attention_prefill.cu, attention_decode.cu): the K/V tile loader and
// the shared-memory sizes the launchers request.
#pragma once
#include "common.cuh"

namespace llmc_attn {

using namespace llmc_dev;

// Row stride (floats) of the Q and K tiles in shared memory: 16-byte aligned rows, and a 4-float pad so that the
// eight lanes of a quarter-warp reading eight different rows with 16-byte loads hit distinct banks.
template <int HD>
struct Tile {
  static constexpr int kBN = kAttnKeyTile;
  static constexpr int kKS = HD + 4;
};

// Loads keys [k0, k0 + kAttnKeyTile) of kv head `kvh` into Ks [BN][HD + 4] and Vs [BN][HD] as f32 (16-bit and
// quantized caches widened, times the row's scale): keys >= k_end and columns >= hd are zero (so dot products over
// the padded HD need no bounds).
template <int HD>
LLMC_DEVICE void load_kv_tile(const KvLayer& kv, const int32_t* table, int kvh, int k0, int k_end, int hd, float* Ks,
                              float* Vs) {
  constexpr int BN = Tile<HD>::kBN, KS = Tile<HD>::kKS, C4 = HD / 4;
  const int64_t voff = kv.v_offset;
  const int dt = kv.dtype;
  const bool scaled = kv_code_scaled(dt);
  const bool vec = dt == kKvF32 && (hd & 3) == 0;
  for (int i = threadIdx.x; i < BN * C4; i += blockDim.x) {
    const int r = i / C4, c = (i % C4) * 4;
    const int j = k0 + r;
    float4 kk = make_float4(0.0f, 0.0f, 0.0f, 0.0f), vv = kk;
    if (j < k_end && c < hd) {
      const KvRowRef ref = kv_row(kv, table, j, kvh);
      const uint8_t* krow = kv_k_bytes(kv, ref);  // [head_dim] elements of dt
      if (vec) {
        kk = load_f4(reinterpret_cast<const float*>(krow) + c);
        vv = load_f4(reinterpret_cast<const float*>(krow + voff) + c);
      } else {
        const float ks = scaled ? kv_k_scales(kv, ref.block)[ref.row] : 1.0f;
        const float vs = scaled ? kv_v_scales(kv, ref.block)[ref.row] : 1.0f;
        float kt[4] = {0.0f, 0.0f, 0.0f, 0.0f}, vt[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if (c + e < hd) {
            kt[e] = kv_widen(dt, krow, c + e) * ks;
            vt[e] = kv_widen(dt, krow + voff, c + e) * vs;
          }
        }
        kk = make_float4(kt[0], kt[1], kt[2], kt[3]);
        vv = make_float4(vt[0], vt[1], vt[2], vt[3]);
      }
    }
    store_f4(Ks + r * KS + c, kk);
    store_f4(Vs + r * HD + c, vv);
  }
}

// q . k over the padded head dim, q and k in shared memory (16-byte aligned rows).
template <int HD>
LLMC_DEVICE float dot_smem(const float* q, const float* k) {
  float s = 0.0f;
#pragma unroll
  for (int d = 0; d < HD; d += 4) {
    const float4 a = load_f4(q + d), b = load_f4(k + d);
    s += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
  }
  return s;
}

}  // namespace llmc_attn
