#include "kv_cache.h"

#include "errors.h"

namespace llmc::runtime {

int64_t kv_bytes_per_block(const KvCacheSpec& kv) {
  return int64_t{kv.num_layers} * kv.floats_per_block_per_layer() * static_cast<int64_t>(sizeof(float));
}

int32_t kv_block_count(const KvCacheSpec& kv, const Limits& limits, int64_t budget_bytes) {
  const int64_t per_seq = (int64_t{limits.max_seq_len} + kv.block_size - 1) / kv.block_size;
  const int64_t block_bytes = kv_bytes_per_block(kv);
  if (budget_bytes <= 0 || block_bytes == 0) {
    int64_t blocks = int64_t{limits.max_batch_size} * per_seq;
    return static_cast<int32_t>(blocks > INT32_MAX ? INT32_MAX : blocks);
  }
  int64_t blocks = budget_bytes / block_bytes;
  if (blocks < 1) {
    fail(LLMC_ERR_LIMIT, "kv_cache_bytes " + std::to_string(budget_bytes) + " is smaller than one KV block (" +
                             std::to_string(block_bytes) + " bytes: " + std::to_string(kv.block_size) + " tokens of all layers)");
  }
  return static_cast<int32_t>(blocks > INT32_MAX ? INT32_MAX : blocks);
}

KvBlockPool::KvBlockPool(int32_t num_blocks, int32_t block_size) : num_blocks_(num_blocks), block_size_(block_size) {
  free_.reserve(static_cast<size_t>(num_blocks));
  for (int32_t b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
}

int32_t KvBlockPool::free_blocks() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int32_t>(free_.size());
}

int32_t KvBlockPool::blocks_for_tokens(int64_t tokens) const {
  return static_cast<int32_t>((tokens + block_size_ - 1) / block_size_);
}

bool KvBlockPool::allocate(int32_t n, std::vector<int32_t>* table) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (n < 0 || static_cast<size_t>(n) > free_.size()) return false;
  for (int32_t i = 0; i < n; ++i) {
    table->push_back(free_.back());
    free_.pop_back();
  }
  return true;
}

void KvBlockPool::release(std::vector<int32_t>* table) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = table->rbegin(); it != table->rend(); ++it) free_.push_back(*it);
  table->clear();
}

}  // namespace llmc::runtime
