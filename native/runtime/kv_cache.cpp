#include "kv_cache.h"

#include "errors.h"

namespace llmc::runtime {

int64_t kv_bytes_per_block(const KvCacheSpec& kv) { return int64_t{kv.num_layers} * kv.bytes_per_block_per_layer(); }

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

}  // namespace llmc::runtime
