// Pieces shared by the attention kernels (attention.cpp: entry and work split; attention_decode.cpp: one token per
// work item; attention_prefill.cpp: tiles of consecutive tokens): where a sequence's keys live in the paged cache
// (any storage dtype, kv_dtype.h), widening a block run to f32, the cache write, and the two kernels' entry points.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <xmmintrin.h>

#include "kernels.h"
#include "kv_dtype.h"

namespace llmc::cpu::attn {

// Where key positions [first, first + count) of one kv head of a sequence live: consecutive rows of one block, in
// the cache's storage dtype (kv_dtype.h), with their per-row scales for i8/f8e4m3.
struct KvRun {
  const uint8_t* k;       // [count, head_dim] elements
  const uint8_t* v;
  const float* k_scale;   // [count] or null
  const float* v_scale;
  int32_t first;          // position of the first row
  int32_t count;
};

struct Cache {
  const AttentionArgs& a;
  KvBlockLayout layout;
  int64_t row_bytes;

  explicit Cache(const AttentionArgs& args)
      : a(args), layout(kv_block_layout(args.kv.dtype, args.kv.num_kv_heads, args.kv.block_size, args.kv.head_dim)),
        row_bytes(int64_t(args.kv.head_dim) * int64_t(kv_elem_bytes(args.kv.dtype))) {}

  uint8_t* block_base(int32_t seq, int32_t pos) const {
    const int32_t phys = a.block_tables[int64_t(seq) * a.max_blocks_per_seq + pos / a.kv.block_size];
    return a.kv.layer_base + int64_t(phys) * a.kv.block_stride;
  }
  // Row index of (kv head, position) inside its block: [num_kv_heads, block_size].
  int64_t row_index(int32_t kv_head, int32_t pos) const { return int64_t(kv_head) * a.kv.block_size + pos % a.kv.block_size; }
  float* k_scales(uint8_t* block) const { return reinterpret_cast<float*>(block + layout.scale_offset); }
  float* v_scales(uint8_t* block) const { return k_scales(block) + int64_t(a.kv.num_kv_heads) * a.kv.block_size; }
  // The run of positions from j (up to `last`) of one kv head that lies in j's block.
  KvRun run_at(int32_t seq, int32_t kv_head, int32_t j, int32_t last) const {
    const int32_t count = std::min(last - j + 1, a.kv.block_size - j % a.kv.block_size);
    uint8_t* block = block_base(seq, j);
    const int64_t row = row_index(kv_head, j);
    const uint8_t* k = block + row * row_bytes;
    const bool scaled = kv_dtype_scaled(a.kv.dtype);
    return KvRun{k, k + layout.v_offset, scaled ? k_scales(block) + row : nullptr,
                 scaled ? v_scales(block) + row : nullptr, j, count};
  }
};

// The run's k and v rows as f32: the cache itself for an f32 cache, else widened into kbuf / vbuf [count, hd].
struct F32Run {
  const float* k;
  const float* v;
};
inline F32Run widen(const AttentionArgs& a, const KvRun& run, float* kbuf, float* vbuf) {
  if (a.kv.dtype == KvDType::f32) return F32Run{reinterpret_cast<const float*>(run.k), reinterpret_cast<const float*>(run.v)};
  kv::load_rows(a.kv.dtype, run.k, run.k_scale, run.count, a.head_dim, kbuf);
  kv::load_rows(a.kv.dtype, run.v, run.v_scale, run.count, a.head_dim, vbuf);
  return F32Run{kbuf, vbuf};
}

inline void write_kv(const AttentionArgs& a, int64_t r) {
  const Cache c{a};
  const int32_t seq = a.seq_of_token[r], pos = a.positions[r];
  uint8_t* block = c.block_base(seq, pos);
  const bool scaled = kv_dtype_scaled(a.kv.dtype);
  const int64_t row = int64_t(a.num_kv_heads) * a.head_dim;
  for (int32_t h = 0; h < a.num_kv_heads; ++h) {
    const int64_t i = c.row_index(h, pos);
    uint8_t* k = block + i * c.row_bytes;
    float ks = 0.0f, vs = 0.0f;
    kv::store_row(a.kv.dtype, a.k + r * row + int64_t(h) * a.head_dim, a.head_dim, k, &ks);
    kv::store_row(a.kv.dtype, a.v + r * row + int64_t(h) * a.head_dim, a.head_dim, k + c.layout.v_offset, &vs);
    if (scaled) {
      c.k_scales(block)[i] = ks;
      c.v_scales(block)[i] = vs;
    }
  }
}

inline int32_t first_key(const AttentionArgs& a, int32_t pos) {
  return a.sliding_window > 0 ? std::max(0, pos - a.sliding_window + 1) : 0;
}

// A run is a few KiB of K and of V in another block of the cache: too short for the hardware prefetchers to pick
// up, so each decode token would wait on DRAM latency block after block. Requesting the next run's lines while
// the current run is computed keeps the reads overlapped.
inline void prefetch_run(const KvRun& run, int64_t row_bytes) {
  const char* k = reinterpret_cast<const char*>(run.k);
  const char* v = reinterpret_cast<const char*>(run.v);
  const int64_t bytes = int64_t(run.count) * row_bytes;
  for (int64_t off = 0; off < bytes; off += 64) {
    _mm_prefetch(k + off, _MM_HINT_T0);
    _mm_prefetch(v + off, _MM_HINT_T0);
  }
  if (run.k_scale) {
    _mm_prefetch(reinterpret_cast<const char*>(run.k_scale), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(run.v_scale), _MM_HINT_T0);
  }
}

// ---- decode: one token, the q heads [h0, h1) of one kv head (at most kMaxGroup)
constexpr int32_t kMaxGroup = 8;
// scratch: decode_scratch_floats(a) floats
size_t decode_scratch_floats(const AttentionArgs& a);
void attend_token(const AttentionArgs& a, Simd level, int64_t r, int32_t h0, int32_t h1, float* scratch);
// The AVX-512 version (attention_decode_avx512.cpp): scores [block_size], o [h1 - h0, head_dim], kbuf/vbuf one run.
void attend_group_avx512(const AttentionArgs& a, int64_t r, int32_t h0, int32_t h1, float* scores, float* o, float* kbuf,
                         float* vbuf);

// ---- prefill: rows [row0, row0 + rows) are consecutive positions of one sequence; q heads [h0, h1) of one kv head.
// rows * (h1 - h0) <= tile_vectors(head_dim) query vectors share each K/V tile of up to kTileK keys.
constexpr int32_t kTileQ = 32;  // most query vectors of a tile (Q and O stay in L1 with the K/V tile)
constexpr int32_t kTileK = 16;
inline int32_t tile_vectors(int32_t head_dim) { return head_dim <= 128 ? 32 : 16; }
size_t tile_scratch_floats(const AttentionArgs& a);

// One key tile as the softmax step sees it: keys key0 .. key0 + count - 1 (count <= kTileK; lanes past count are
// padding), query vector i may see keys lo[i] .. hi[i], alibi adds slope[i] * key (slope null: none).
struct SoftmaxTile {
  int32_t R;
  int32_t key0;
  int32_t count;
  float scale;
  const float* slope;
  const int32_t* lo;
  const int32_t* hi;
};

// The per-level micro-kernels of a tile (attention_prefill.cpp describes the three steps).
struct TileKernels {
  // Kt[hd, kTileK] = K[count, hd]^T, columns past count zero
  void (*transpose)(const float* K, int32_t count, int32_t hd, float* Kt);
  // S[R, kTileK] = Q[R, hd] . Kt[hd, kTileK]
  void (*scores)(const float* Q, int32_t R, int32_t hd, const float* Kt, float* S);
  // S -> P in place, m / l updated, corr[i] = the factor O's row i must be scaled by (1, and P row 0, when row i
  // sees no key of the tile)
  void (*softmax)(float* S, const SoftmaxTile& t, float* m, float* l, float* corr);
  // O[i] = O[i] * corr[i] + sum_k P[i, k] V[k]   (V: [count, hd])
  void (*pv)(const float* P, int32_t R, int32_t count, const float* V, int32_t hd, float* O, const float* corr);
};
const TileKernels& tile_kernels_avx2();
void tile_transpose_avx2(const float* K, int32_t count, int32_t hd, float* Kt);  // also the AVX-512 level's
const TileKernels& tile_kernels_avx512();
void attend_tile(const AttentionArgs& a, Simd level, int64_t row0, int32_t rows, int32_t h0, int32_t h1, float* scratch);

}  // namespace llmc::cpu::attn
