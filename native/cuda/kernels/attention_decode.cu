// Decode attention over the paged KV cache: one query token per listed row, split-K over long contexts.
//
// Block (kv head chunk, row, split): up to 8 query heads of one kv group share each K/V tile (GQA/MQA read the
// cache once per group). The split's keys [k_begin, k_end) are walked in tiles of 32:
//   scores: warp w computes heads w and w + 4, lane j key j (q and the K tile in shared memory);
//   online softmax per head in the warp's registers (running max m, denominator l), probabilities and the
//   rescale factor to shared memory;
//   O = O * corr + P V: each thread owns (head, column) pairs of the output in registers.
// A row whose keys fit one split writes out = O / l directly; otherwise each split writes its unnormalised O and
// (m, l) and llmc_attn_decode_reduce merges them: out = sum_s e^(m_s - M) O_s / sum_s e^(m_s - M) l_s.
// Blocks past a row's split count return at once, so the grid depends only on the batch size: the same launches
// serve every step of a CUDA graph.
//
//   q, out: [rows, num_heads * head_dim]
//   grid: (num_kv_heads * chunks_per_group, num_rows, max_splits)   block: kAttnThreads (128)
//   shared memory: attn_decode_smem_floats(HD) * 4 bytes
//   llmc_attn_decode_reduce   grid: (num_heads, num_rows)   block: kReduceThreads
#include "attention.cuh"

namespace llmc_attn_decode {

using namespace llmc_dev;
using llmc_attn::Tile;

// Key range of a row: [lo, pos], cut into splits of split_size keys.
struct Range {
  int pos, lo, nsplit;
};

LLMC_DEVICE Range key_range(const AttnDecodeParams& p, int row) {
  Range r;
  r.pos = p.positions[row];
  r.lo = p.sliding_window > 0 ? imax(0, r.pos - p.sliding_window + 1) : 0;
  r.nsplit = (r.pos + 1 - r.lo + p.split_size - 1) / p.split_size;
  return r;
}

template <int HD>
LLMC_DEVICE void run(const AttnDecodeParams& p) {
  constexpr int BN = Tile<HD>::kBN, KS = Tile<HD>::kKS, GH = kAttnDecodeHeads, NT = kAttnThreads;
  // Output ownership: columns c = c0 + 128 * ci (ci < CPT) of heads g = gpart + TPC * k (k < GPT).
  constexpr int COLS = HD < NT ? HD : NT;  // distinct columns per pass
  constexpr int TPC = NT / COLS;           // thread groups splitting the heads (HD < 128)
  constexpr int CPT = HD / COLS;           // columns per thread (HD = 256: 2)
  constexpr int GPT = GH / TPC;            // heads per thread
  static_assert(GH % TPC == 0, "heads per block must split evenly");

  LLMC_DYN_SMEM(float, smem);
  float* Qs = smem;              // [GH][HD]
  float* Ks = Qs + GH * HD;      // [BN][KS]
  float* Vs = Ks + BN * KS;      // [BN][HD]
  float* Ss = Vs + BN * HD;      // [BN][GH]: probabilities of the tile
  float* Cs = Ss + BN * GH;      // [GH]: rescale factor of the tile
  float* ML = Cs + GH;           // [GH][2]: final (m, l)

  const int ri = blockIdx.y, split = blockIdx.z;
  const int row = p.rows[ri];
  const Range kr = key_range(p, row);
  if (split >= kr.nsplit) return;  // uniform over the block, before any barrier
  const int k_begin = kr.lo + split * p.split_size;
  const int k_end = imin(kr.pos + 1, k_begin + p.split_size);

  const int group = p.num_heads / p.num_kv_heads;
  const int kvh = blockIdx.x / p.chunks_per_group, chunk = blockIdx.x % p.chunks_per_group;
  const int h0 = kvh * group + chunk * p.heads_per_block;
  const int nh = imin(p.heads_per_block, group - chunk * p.heads_per_block);  // heads in this block (<= 8)
  const int hd = p.head_dim;
  const int64_t qw = int64_t(p.num_heads) * hd;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int32_t* table = p.block_tables + int64_t(p.seq_of_token[row]) * p.max_blocks_per_seq;

  for (int i = threadIdx.x; i < GH * HD; i += NT) {
    const int g = i / HD, d = i % HD;
    Qs[i] = (g < nh && d < hd) ? p.q[int64_t(row) * qw + int64_t(h0 + g) * hd + d] : 0.0f;
  }

  // Softmax state of heads warp and warp + 4 (this warp's lanes all hold the same values).
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};
  float slope[2];
#pragma unroll
  for (int k = 0; k < 2; ++k) {
    const int g = warp + 4 * k;
    slope[k] = (p.alibi_slopes != nullptr && g < nh) ? p.alibi_slopes[h0 + g] : 0.0f;
  }
  const int c0 = threadIdx.x % COLS, gpart = threadIdx.x / COLS;
  float o[GPT][CPT];
#pragma unroll
  for (int k = 0; k < GPT; ++k)
#pragma unroll
    for (int ci = 0; ci < CPT; ++ci) o[k][ci] = 0.0f;

  for (int k0 = k_begin; k0 < k_end; k0 += BN) {
    __syncthreads();  // previous tile consumed (and Q written)
    llmc_attn::load_kv_tile<HD>(p.kv, table, kvh, k0, k_end, hd, Ks, Vs);
    __syncthreads();
    const int j = k0 + lane;
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      const int g = warp + 4 * k;  // < GH always
      if (g >= nh) continue;       // warp-uniform: heads past this block's are skipped (MHA: 1 head per block)
      const bool ok = j < k_end;
      const float s = llmc_attn::dot_smem<HD>(Qs + g * HD, Ks + lane * KS);
      const float sc = ok ? s * p.scale + slope[k] * float(j) : -INFINITY;
      const float m_new = fmaxf(m_run[k], warp_max(sc));
      const float corr = m_new == -INFINITY ? 1.0f : expf(m_run[k] - m_new);
      const float pr = ok ? expf(sc - m_new) : 0.0f;
      l_run[k] = l_run[k] * corr + warp_sum(pr);
      m_run[k] = m_new;
      Ss[lane * GH + g] = pr;
      if (lane == 0) Cs[g] = corr;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < GPT; ++k) {
      if (gpart + TPC * k >= nh) continue;
      const float corr = Cs[gpart + TPC * k];
#pragma unroll
      for (int ci = 0; ci < CPT; ++ci) o[k][ci] *= corr;
    }
#pragma unroll 4
    for (int jj = 0; jj < BN; ++jj) {
      float v[CPT];
#pragma unroll
      for (int ci = 0; ci < CPT; ++ci) v[ci] = Vs[jj * HD + c0 + COLS * ci];
#pragma unroll
      for (int k = 0; k < GPT; ++k) {
        if (gpart + TPC * k >= nh) continue;  // uniform per warp when HD >= 32
        const float pr = Ss[jj * GH + gpart + TPC * k];
#pragma unroll
        for (int ci = 0; ci < CPT; ++ci) o[k][ci] += pr * v[ci];
      }
    }
  }

  if (lane == 0) {
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      ML[2 * (warp + 4 * k)] = m_run[k];
      ML[2 * (warp + 4 * k) + 1] = l_run[k];
    }
  }
  __syncthreads();
  const int H = p.num_heads;
#pragma unroll
  for (int k = 0; k < GPT; ++k) {
    const int g = gpart + TPC * k;
    if (g >= nh) continue;
#pragma unroll
    for (int ci = 0; ci < CPT; ++ci) {
      const int c = c0 + COLS * ci;
      if (c >= hd) continue;
      if (kr.nsplit == 1) {
        p.out[int64_t(row) * qw + int64_t(h0 + g) * hd + c] = o[k][ci] / ML[2 * g + 1];
      } else {
        p.part_o[((int64_t(ri) * H + h0 + g) * p.max_splits + split) * hd + c] = o[k][ci];
      }
    }
  }
  const int t = threadIdx.x;
  if (kr.nsplit > 1 && t < nh) {
    float* ml = p.part_ml + ((int64_t(ri) * H + h0 + t) * p.max_splits + split) * 2;
    ml[0] = ML[2 * t];
    ml[1] = ML[2 * t + 1];
  }
}


LLMC_KERNEL void __launch_bounds__(kAttnThreads) llmc_attn_decode_hd32(const AttnDecodeParams p) {
  llmc_attn_decode::run<32>(p);
}
LLMC_KERNEL void __launch_bounds__(kAttnThreads) llmc_attn_decode_hd64(const AttnDecodeParams p) {
  llmc_attn_decode::run<64>(p);
}
LLMC_KERNEL void __launch_bounds__(kAttnThreads) llmc_attn_decode_hd128(const AttnDecodeParams p) {
  llmc_attn_decode::run<128>(p);
}
LLMC_KERNEL void __launch_bounds__(kAttnThreads) llmc_attn_decode_hd256(const AttnDecodeParams p) {
  llmc_attn_decode::run<256>(p);
}

LLMC_KERNEL void __launch_bounds__(kReduceThreads) llmc_attn_decode_reduce(const AttnDecodeParams p) {
  using namespace llmc_dev;
  const int h = blockIdx.x, ri = blockIdx.y;
  const int row = p.rows[ri];
  const llmc_attn_decode::Range kr = llmc_attn_decode::key_range(p, row);
  if (kr.nsplit <= 1) return;  // written directly by the split kernel
  const int hd = p.head_dim;
  const int64_t base = (int64_t(ri) * p.num_heads + h) * p.max_splits;
  const float* ml = p.part_ml + base * 2;
  float M = -INFINITY;
  for (int s = 0; s < kr.nsplit; ++s) M = fmaxf(M, ml[2 * s]);
  float den = 0.0f;
  for (int s = 0; s < kr.nsplit; ++s) den += expf(ml[2 * s] - M) * ml[2 * s + 1];
  float* y = p.out + int64_t(row) * p.num_heads * hd + int64_t(h) * hd;
  for (int c = threadIdx.x; c < hd; c += blockDim.x) {
    float num = 0.0f;
    for (int s = 0; s < kr.nsplit; ++s) num += expf(ml[2 * s] - M) * p.part_o[(base + s) * hd + c];
    y[c] = num / den;
  }
}

}  // namespace llmc_attn_decode
