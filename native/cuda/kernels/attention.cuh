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

// Loads keys [k0, k0 + kAttnKeyTile) of kv head `kvh` into Ks [BN][HD + 4] and Vs [BN][HD]: keys >= k_end and
// columns >= hd are zero (so dot products over the padded HD need no bounds).
template <int HD>
LLMC_DEVICE void load_kv_tile(const KvLayer& kv, const int32_t* table, int kvh, int k0, int k_end, int hd, float* Ks,
                              float* Vs) {
  constexpr int BN = Tile<HD>::kBN, KS = Tile<HD>::kKS, C4 = HD / 4;
  const int64_t voff = kv_v_offset(kv);
  const bool vec = (hd & 3) == 0;
  for (int i = threadIdx.x; i < BN * C4; i += blockDim.x) {
    const int r = i / C4, c = (i % C4) * 4;
    const int j = k0 + r;
    float4 kk = make_float4(0.0f, 0.0f, 0.0f, 0.0f), vv = kk;
    if (j < k_end && c < hd) {
      const float* krow = kv_k_row(kv, table, j, kvh);  // [head_dim]
      if (vec) {
        kk = load_f4(krow + c);
        vv = load_f4(krow + voff + c);
      } else {
        kk.x = krow[c];
        vv.x = krow[voff + c];
        if (c + 1 < hd) { kk.y = krow[c + 1]; vv.y = krow[voff + c + 1]; }
        if (c + 2 < hd) { kk.z = krow[c + 2]; vv.z = krow[voff + c + 2]; }
        if (c + 3 < hd) { kk.w = krow[c + 3]; vv.w = krow[voff + c + 3]; }
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
