// The KV block manager (backend-independent): the cache is num_blocks blocks of block_size tokens; a block id names
// the same block in every layer. The backend owns the storage (layout: kernels.h PagedKvLayer); this pool hands out
// block ids and each sequence keeps its block table (logical block i -> physical block id).
//
// Prefix caching: a full block whose tokens (and every token before them) are known can be published under a hash
// of that whole prefix. A later sequence with the same prefix takes a reference to the published block instead of
// recomputing it (blocks are reference-counted; a shared block is only read, because a sequence writes at positions
// past its cached prefix, which start a block of its own). A block whose last reference goes stays cached but
// evictable: fresh allocations take never-cached free blocks first, then evict cached ones least recently used.
#pragma once
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace llmc::runtime {

struct KvPoolStats {
  int32_t num_blocks = 0;
  int32_t free_blocks = 0;     // allocatable: never-cached free + cached blocks nobody references
  int32_t cached_blocks = 0;   // published prefix blocks (referenced or not)
  int64_t prefix_queried = 0;  // full prompt blocks looked up
  int64_t prefix_hits = 0;     // of those, found in the cache
};

class KvBlockPool {
 public:
  KvBlockPool(int32_t num_blocks, int32_t block_size);

  int32_t num_blocks() const { return num_blocks_; }
  int32_t block_size() const { return block_size_; }
  int32_t free_blocks() const;
  // Blocks that hold `tokens` positions.
  int32_t blocks_for_tokens(int64_t tokens) const;
  KvPoolStats stats() const;

  // Appends n fresh blocks to *table (evicting unreferenced cached blocks if needed), or takes none and returns
  // false when fewer than n can be had.
  bool allocate(int32_t n, std::vector<int32_t>* table);
  // Drops this table's reference to each of its blocks and clears it.
  void release(std::vector<int32_t>* table);

  // The hash of the prefix tokens[0, (i+1)*block_size) given the hash of the prefix before block i (0 for i = 0).
  static uint64_t chain_hash(uint64_t prev, const int32_t* block_tokens, int32_t block_size);

  // Looks up the leading full blocks of tokens[0, n) (at most max_blocks of them), appends each one found to *table
  // with a reference taken, stops at the first miss, and returns the number found. *hashes receives the chain hash
  // of every looked-up block that was found. Counts queries and hits for stats().
  int32_t match_prefix(const int32_t* tokens, int32_t n, int32_t max_blocks, std::vector<int32_t>* table,
                       std::vector<uint64_t>* hashes);
  // Publishes `block` as holding the full prefix with chain hash `hash` whose last block's tokens are given
  // (kept to rule out hash collisions). A hash already published (by another block) is left as it is.
  void publish(int32_t block, uint64_t hash, const int32_t* block_tokens);

 private:
  struct Cached {
    int32_t block;
    std::vector<int32_t> tokens;  // the block's own tokens, compared on lookup
  };
  int32_t take_block_locked();  // -1 when none
  void forget_locked(int32_t block);

  int32_t num_blocks_;
  int32_t block_size_;
  mutable std::mutex mutex_;        // executors on one engine (and llmc_score) share the pool
  std::vector<int32_t> refs_;       // [num_blocks] references held by block tables
  std::vector<int32_t> free_;       // never-cached (or evicted) unreferenced blocks; stack, lowest ids first
  std::list<int32_t> lru_;          // cached unreferenced blocks, least recently used first
  std::vector<std::list<int32_t>::iterator> lru_pos_;  // [num_blocks] valid while the block is in lru_
  std::vector<uint8_t> in_lru_;
  std::unordered_map<uint64_t, Cached> by_hash_;
  std::vector<uint64_t> hash_of_;   // [num_blocks] published hash
  std::vector<uint8_t> published_;  // [num_blocks]
  int64_t queried_ = 0, hits_ = 0;
};

}  // namespace llmc::runtime
