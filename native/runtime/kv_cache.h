// Paged KV cache sizing: bytes per block and blocks for a budget. The block manager is kv_block_pool.h.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "kv_block_pool.h"
#include "plan.h"

namespace llmc::runtime {

// Bytes of one block over all layers: k, v and (i8/f8e4m3) their scales, in the storage dtype.
int64_t kv_bytes_per_block(const KvCacheSpec& kv);

// Blocks for a byte budget (0 = the default: max_batch_size sequences of max_seq_len tokens). Throws
// Error(LLMC_ERR_LIMIT) when the budget does not hold a single block.
int32_t kv_block_count(const KvCacheSpec& kv, const Limits& limits, int64_t budget_bytes);

}  // namespace llmc::runtime
