// Prefill attention over the paged KV cache, flash-attention style in f32: no [seq, seq] score matrix.
//
// One block per (query tile, head); a tile is up to 32 consecutive tokens of one sequence (the host lists tiles,
// latest positions first). 4 warps x 8 query rows. For each tile of 32 keys (read from the cache, where
// llmc_kv_write has just stored this step's k/v):
//   S = Q K^T * scale (+ alibi_slope[h] * key_position), masked to key <= query position (and
//       key > position - sliding_window): lane j of a warp computes key j's score for the warp's 8 rows;
//   online softmax per row: m_new = max(m, max_j S), l = l * exp(m - m_new) + sum_j exp(S - m_new),
//       O = O * exp(m - m_new) + P V, with P = exp(S - m_new) staged in shared memory;
// then out = O / l. Key tiles past the tile's last query position are never loaded (causal skipping).
// GQA/MQA: head h reads kv head h / (num_heads / num_kv_heads).
//
//   q, out: [rows, num_heads * head_dim]     grid: (num_tiles, num_heads)   block: kAttnThreads (128)
//   llmc_attn_prefill_hd<HD>: head_dim <= HD, zero-padded to HD in shared memory
//   shared memory: attn_prefill_smem_floats(HD) * 4 bytes (54 KiB at HD = 128: above 48 KiB, the launcher raises
//   the kernel's dynamic limit)
//
// Later: share the K/V tile among the heads of a kv group, cp.async double buffering, and an f16/bf16-activation
// variant on tensor cores (mma / wgmma) once activations stop being f32.
#include "attention.cuh"

namespace llmc_attn_prefill {

using namespace llmc_dev;
using llmc_attn::Tile;

constexpr int kWarps = kAttnThreads / 32;
constexpr int kRowsPerWarp = kAttnPrefillRows / kWarps;  // 8

template <int HD>
LLMC_DEVICE void run(const AttnPrefillParams& p) {
  constexpr int BM = kAttnPrefillRows, BN = Tile<HD>::kBN, KS = Tile<HD>::kKS, RPW = kRowsPerWarp, CPL = HD / 32;
  LLMC_DYN_SMEM(float, smem);
  float* Qs = smem;           // [BM][KS]
  float* Ks = Qs + BM * KS;   // [BN][KS]
  float* Vs = Ks + BN * KS;   // [BN][HD]
  float* Ps = Vs + BN * HD;   // [warps][BN][RPW]

  const int tile = blockIdx.x, h = blockIdx.y;
  const int seq = p.tiles[4 * tile], row0 = p.tiles[4 * tile + 1], count = p.tiles[4 * tile + 2];
  const int hd = p.head_dim;
  const int kvh = h / (p.num_heads / p.num_kv_heads);
  const int64_t qw = int64_t(p.num_heads) * hd;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int32_t* table = p.block_tables + int64_t(seq) * p.max_blocks_per_seq;
  const float slope = p.alibi_slopes != nullptr ? p.alibi_slopes[h] : 0.0f;

  // Q tile, zero past `count` rows and `hd` columns.
  for (int i = threadIdx.x; i < BM * HD; i += blockDim.x) {
    const int r = i / HD, d = i % HD;
    Qs[r * KS + d] = (r < count && d < hd) ? p.q[int64_t(row0 + r) * qw + int64_t(h) * hd + d] : 0.0f;
  }

  // This warp's rows: positions (-1 = no row), running max, denominator, output columns lane + 32 c.
  int qpos[RPW];
  float m[RPW], l[RPW], o[RPW][CPL];
#pragma unroll
  for (int i = 0; i < RPW; ++i) {
    const int r = warp * RPW + i;
    qpos[i] = r < count ? p.positions[row0 + r] : -1;
    m[i] = -INFINITY;
    l[i] = 0.0f;
#pragma unroll
    for (int c = 0; c < CPL; ++c) o[i][c] = 0.0f;
  }
  const int pos_first = p.positions[row0], pos_last = p.positions[row0 + count - 1];
  const int window = p.sliding_window;
  const int key_lo = window > 0 ? imax(0, pos_first - window + 1) : 0;

  for (int k0 = key_lo / BN * BN; k0 <= pos_last; k0 += BN) {
    __syncthreads();  // the previous tile's K, V and P are consumed (and Q is written, on the first pass)
    llmc_attn::load_kv_tile<HD>(p.kv, table, kvh, k0, pos_last + 1, hd, Ks, Vs);
    __syncthreads();

    // Scores of key j = k0 + lane for the warp's rows.
    float s[RPW];
#pragma unroll
    for (int i = 0; i < RPW; ++i) s[i] = 0.0f;
    const float* krow = Ks + lane * KS;
#pragma unroll 4
    for (int d = 0; d < HD; d += 4) {
      const float4 kk = load_f4(krow + d);
#pragma unroll
      for (int i = 0; i < RPW; ++i) {
        const float4 qq = load_f4(Qs + (warp * RPW + i) * KS + d);
        s[i] += qq.x * kk.x + qq.y * kk.y + qq.z * kk.z + qq.w * kk.w;
      }
    }
    const int j = k0 + lane;
    float* pw = Ps + warp * BN * RPW;  // [BN][RPW]
#pragma unroll
    for (int i = 0; i < RPW; ++i) {
      const bool ok = qpos[i] >= 0 && j <= qpos[i] && (window <= 0 || j > qpos[i] - window);
      const float sc = ok ? s[i] * p.scale + slope * float(j) : -INFINITY;
      const float m_new = fmaxf(m[i], warp_max(sc));
      // m_new == -inf: no visible key yet for this row (nothing to rescale).
      const float corr = m_new == -INFINITY ? 1.0f : expf(m[i] - m_new);
      const float pr = ok ? expf(sc - m_new) : 0.0f;
      l[i] = l[i] * corr + warp_sum(pr);
      m[i] = m_new;
#pragma unroll
      for (int c = 0; c < CPL; ++c) o[i][c] *= corr;
      pw[lane * RPW + i] = pr;
    }
    __syncwarp();

    // O += P V: lane owns columns lane + 32 c.
#pragma unroll 2
    for (int jj = 0; jj < BN; ++jj) {
      const float4 p0 = load_f4(pw + jj * RPW), p1 = load_f4(pw + jj * RPW + 4);
      const float pr[8] = {p0.x, p0.y, p0.z, p0.w, p1.x, p1.y, p1.z, p1.w};
#pragma unroll
      for (int c = 0; c < CPL; ++c) {
        const float v = Vs[jj * HD + lane + 32 * c];
#pragma unroll
        for (int i = 0; i < RPW; ++i) o[i][c] += pr[i] * v;
      }
    }
  }

#pragma unroll
  for (int i = 0; i < RPW; ++i) {
    const int r = warp * RPW + i;
    if (r >= count) continue;
    float* y = p.out + int64_t(row0 + r) * qw + int64_t(h) * hd;
#pragma unroll
    for (int c = 0; c < CPL; ++c) {
      const int d = lane + 32 * c;
      if (d < hd) y[d] = o[i][c] / l[i];
    }
  }
}


LLMC_KERNEL void __launch_bounds__(kAttnThreads) llmc_attn_prefill_hd32(const AttnPrefillParams p) {
  llmc_attn_prefill::run<32>(p);
}
LLMC_KERNEL void __launch_bounds__(kAttnThreads) llmc_attn_prefill_hd64(const AttnPrefillParams p) {
  llmc_attn_prefill::run<64>(p);
}
LLMC_KERNEL void __launch_bounds__(kAttnThreads) llmc_attn_prefill_hd128(const AttnPrefillParams p) {
  llmc_attn_prefill::run<128>(p);
}
LLMC_KERNEL void __launch_bounds__(kAttnThreads) llmc_attn_prefill_hd256(const AttnPrefillParams p) {
  llmc_attn_prefill::run<256>(p);
}

}  // namespace llmc_attn_prefill
