// attention over the paged KV cache (layout in kernels.h, storage dtypes in kv_dtype.h).
//
// Phase 1 writes every token's k and v rows into its sequence's block at its position (quantized if the cache is).
// Phase 2 (after all writes, so tokens of the same step see each other) computes, for each (token, q head),
// softmax(q.K^T * scale + alibi) V over the sequence's keys at positions lo..pos, lo = pos - window + 1 (or 0),
// with an online softmax over key tiles: running max m, denominator l and output accumulator o are rescaled by
// exp(m_old - m_new) when the max grows, then the tile's exp(s - m) * v rows are added; o / l is the output.
//
// Work items:
//   - prefill tiles (attention_prefill.cpp): rows that are consecutive positions of one sequence (a prompt chunk)
//     are cut into tiles of kTileQ query vectors (tokens x the q heads of one kv group) that share every K/V tile
//     from L1, flash-attention style: no [T, T] scores, K/V read once per tile instead of once per token;
//   - decode tokens (attention_decode.cpp): a row whose neighbours are other sequences' is one item per (kv head,
//     sub-group of its q heads); sub-groups shrink when there would be too few items for the threads (MQA decode).
// Causal attention makes the items' cost grow with the position, so they are sorted by cost and handed out
// dynamically, most expensive first, from an atomic counter shared by one parallel_for chunk per thread: threads
// split a long prefill over heads and query blocks, and a decode batch over sequences x heads.
#include <algorithm>
#include <atomic>
#include <vector>

#include "attention_internal.h"

namespace llmc::cpu {
namespace {

struct Item {
  int64_t row0;
  int32_t rows;   // 0: a decode item (one token); else a prefill tile of `rows` consecutive tokens
  int32_t h0, h1;
  int64_t cost;   // query vectors x keys
};

// Cuts the step into items (see the top of the file).
std::vector<Item> plan_items(const AttentionArgs& a, int threads) {
  const int32_t group = a.num_heads / a.num_kv_heads;
  const int32_t vectors = attn::tile_vectors(a.head_dim);
  const int32_t tile_heads = std::min(group, vectors), tile_rows = std::max(1, vectors / tile_heads);
  std::vector<Item> items;
  std::vector<int64_t> decode_rows;
  for (int64_t r = 0; r < a.rows;) {
    int64_t n = 1;  // rows r .. r + n - 1: consecutive positions of one sequence
    while (r + n < a.rows && a.seq_of_token[r + n] == a.seq_of_token[r] && a.positions[r + n] == a.positions[r] + n) ++n;
    if (n == 1) {
      decode_rows.push_back(r);
    } else {
      for (int64_t t = 0; t < n; t += tile_rows) {
        const int32_t rows = int32_t(std::min<int64_t>(tile_rows, n - t));
        const int32_t last = a.positions[r + t + rows - 1];
        const int64_t keys = last - attn::first_key(a, a.positions[r + t]) + 1;
        for (int32_t kvh = 0; kvh < a.num_kv_heads; ++kvh)
          for (int32_t h = kvh * group; h < (kvh + 1) * group; h += tile_heads) {
            const int32_t h1 = std::min(h + tile_heads, (kvh + 1) * group);
            items.push_back(Item{r + t, rows, h, h1, int64_t(rows) * (h1 - h) * keys});
          }
      }
    }
    r += n;
  }
  if (!decode_rows.empty()) {
    const int64_t nd = int64_t(decode_rows.size());
    int32_t sub = std::min(group, attn::kMaxGroup);
    while (sub > 1 && nd * a.num_kv_heads * ((group + sub - 1) / sub) < 2 * threads) sub = (sub + 1) / 2;
    for (int64_t r : decode_rows) {
      const int64_t keys = a.positions[r] - attn::first_key(a, a.positions[r]) + 1;
      for (int32_t kvh = 0; kvh < a.num_kv_heads; ++kvh)
        for (int32_t h = kvh * group; h < (kvh + 1) * group; h += sub) {
          const int32_t h1 = std::min(h + sub, (kvh + 1) * group);
          items.push_back(Item{r, 0, h, h1, int64_t(h1 - h) * keys});
        }
    }
  }
  std::sort(items.begin(), items.end(), [](const Item& x, const Item& y) { return x.cost > y.cost; });
  return items;
}

}  // namespace

void attention(ThreadPool& pool, const AttentionArgs& a) {
  if (a.rows <= 0) return;
  // Phase 1: cache writes. Cheap (a few KiB per token); parallel only for long prefills.
  pool.parallel_for(a.rows, 64, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) attn::write_kv(a, r);
  });

  // Phase 2: the items, most expensive first, claimed one by one.
  const Simd level = simd_level();
  note_kernel_path(KernelOp::attention, level >= Simd::avx512 ? "avx512 tiles" : level >= Simd::avx2 ? "avx2 tiles" : "scalar");
  const std::vector<Item> items = plan_items(a, pool.size());
  const size_t scratch_floats = std::max(attn::decode_scratch_floats(a), attn::tile_scratch_floats(a));
  std::atomic<size_t> next{0};
  auto body = [&](int64_t, int64_t, int) {
    thread_local std::vector<float> scratch;
    if (scratch.size() < scratch_floats) scratch.resize(scratch_floats);
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < items.size();) {
      const Item& it = items[i];
      if (it.rows == 0) {
        attn::attend_token(a, level, it.row0, it.h0, it.h1, scratch.data());
      } else {
        attn::attend_tile(a, level, it.row0, it.rows, it.h0, it.h1, scratch.data());
      }
    }
  };
  // One chunk per thread, unless the step is too small to be worth a hand-off (a short decode).
  int64_t work = 0;
  for (const Item& it : items) work += it.cost * a.head_dim;
  const int64_t chunks = work < (1 << 16) ? 1 : pool.size();
  pool.parallel_for(chunks, 1, body);
}

}  // namespace llmc::cpu
