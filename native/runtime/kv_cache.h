// Paged KV cache bookkeeping (backend-independent): the cache is num_blocks blocks of block_size tokens; a block
// id names the same block in every layer. The backend owns the storage (layout: kernels.h PagedKvLayer); this
// pool hands out block ids from a free list, and each sequence keeps its block table (logical block i of the
// sequence -> physical block id) until it finishes.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "plan.h"

namespace llmc::runtime {

// Bytes of one block over all layers, k and v (f32).
int64_t kv_bytes_per_block(const KvCacheSpec& kv);

// Blocks for a byte budget (0 = the default: max_batch_size sequences of max_seq_len tokens). Throws
// Error(LLMC_ERR_LIMIT) when the budget does not hold a single block.
int32_t kv_block_count(const KvCacheSpec& kv, const Limits& limits, int64_t budget_bytes);

class KvBlockPool {
 public:
  KvBlockPool(int32_t num_blocks, int32_t block_size);

  int32_t num_blocks() const { return num_blocks_; }
  int32_t block_size() const { return block_size_; }
  int32_t free_blocks() const;
  // Blocks that hold `tokens` positions.
  int32_t blocks_for_tokens(int64_t tokens) const;

  // Appends n free block ids to *table, or takes none and returns false when fewer than n are free.
  bool allocate(int32_t n, std::vector<int32_t>* table);
  // Returns every block of *table to the free list and clears it.
  void release(std::vector<int32_t>* table);

 private:
  int32_t num_blocks_;
  int32_t block_size_;
  mutable std::mutex mutex_;   // executors on one engine share the pool
  std::vector<int32_t> free_;  // stack: the lowest ids are handed out first
};

}  // namespace llmc::runtime
