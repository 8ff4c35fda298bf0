#include "kv_block_pool.h"

#include <algorithm>

namespace llmc::runtime {

KvBlockPool::KvBlockPool(int32_t num_blocks, int32_t block_size)
    : num_blocks_(num_blocks), block_size_(block_size), refs_(num_blocks, 0), lru_pos_(num_blocks), in_lru_(num_blocks, 0),
      hash_of_(num_blocks, 0), published_(num_blocks, 0) {
  free_.reserve(static_cast<size_t>(num_blocks));
  for (int32_t b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
}

int32_t KvBlockPool::free_blocks() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int32_t>(free_.size() + lru_.size());
}

int32_t KvBlockPool::blocks_for_tokens(int64_t tokens) const {
  return static_cast<int32_t>((tokens + block_size_ - 1) / block_size_);
}

KvPoolStats KvBlockPool::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  KvPoolStats s;
  s.num_blocks = num_blocks_;
  s.free_blocks = static_cast<int32_t>(free_.size() + lru_.size());
  s.cached_blocks = static_cast<int32_t>(by_hash_.size());
  s.prefix_queried = queried_;
  s.prefix_hits = hits_;
  return s;
}

uint64_t KvBlockPool::chain_hash(uint64_t prev, const int32_t* t, int32_t n) {
  // FNV-1a over the previous hash and the block's token ids, then a splitmix finalizer.
  uint64_t h = 1469598103934665603ULL ^ prev;
  for (int32_t i = 0; i < n; ++i) {
    h ^= static_cast<uint32_t>(t[i]);
    h *= 1099511628211ULL;
  }
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ULL;
  return h ^ (h >> 29);
}

void KvBlockPool::forget_locked(int32_t b) {
  if (!published_[b]) return;
  auto it = by_hash_.find(hash_of_[b]);
  if (it != by_hash_.end() && it->second.block == b) by_hash_.erase(it);
  published_[b] = 0;
}

int32_t KvBlockPool::take_block_locked() {
  int32_t b = -1;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    b = lru_.front();  // least recently used cached block: evicted
    lru_.pop_front();
    in_lru_[b] = 0;
    forget_locked(b);
  }
  if (b >= 0) refs_[b] = 1;
  return b;
}

bool KvBlockPool::allocate(int32_t n, std::vector<int32_t>* table) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (n < 0 || static_cast<size_t>(n) > free_.size() + lru_.size()) return false;
  for (int32_t i = 0; i < n; ++i) table->push_back(take_block_locked());
  return true;
}

void KvBlockPool::release(std::vector<int32_t>* table) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Last block first, so the freed stack hands the lowest ids out again first and the LRU list evicts a
  // sequence's tail blocks before its head (a shorter prefix stays useful longer).
  for (auto it = table->rbegin(); it != table->rend(); ++it) {
    const int32_t b = *it;
    if (b < 0 || b >= num_blocks_ || refs_[b] <= 0) continue;
    if (--refs_[b] > 0) continue;
    if (published_[b]) {
      lru_pos_[b] = lru_.insert(lru_.begin(), b);  // the tail goes first: evicted before the head blocks
      in_lru_[b] = 1;
    } else {
      free_.push_back(b);
    }
  }
  table->clear();
}

int32_t KvBlockPool::match_prefix(const int32_t* tokens, int32_t n, int32_t max_blocks, std::vector<int32_t>* table,
                                  std::vector<uint64_t>* hashes) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int32_t full = std::min(n / block_size_, max_blocks);
  uint64_t h = 0;
  int32_t found = 0;
  queried_ += std::max(full, 0);
  for (int32_t i = 0; i < full; ++i) {
    const int32_t* t = tokens + int64_t{i} * block_size_;
    h = chain_hash(h, t, block_size_);
    auto it = by_hash_.find(h);
    if (it == by_hash_.end() || !std::equal(it->second.tokens.begin(), it->second.tokens.end(), t)) break;
    const int32_t b = it->second.block;
    if (in_lru_[b]) {
      lru_.erase(lru_pos_[b]);
      in_lru_[b] = 0;
    }
    ++refs_[b];
    table->push_back(b);
    hashes->push_back(h);
    ++hits_;
    ++found;
  }
  return found;
}

void KvBlockPool::publish(int32_t block, uint64_t hash, const int32_t* block_tokens) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (block < 0 || block >= num_blocks_ || published_[block] || by_hash_.count(hash)) return;
  by_hash_.emplace(hash, Cached{block, std::vector<int32_t>(block_tokens, block_tokens + block_size_)});
  hash_of_[block] = hash;
  published_[block] = 1;
}

}  // namespace llmc::runtime
