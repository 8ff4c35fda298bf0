// Running a sharded engine (docs/parallel.md). Rank 0 runs the executor as on one rank; before each step its
// ShardedBackend broadcasts the packed step (token ids, positions, sequence slots, block tables, logit rows) and
// the other ranks, in follow_steps(), run the same step on their own plan. Rank 0 frees the engine -> a stop
// message -> the followers return. The KV block count is rank 0's, broadcast at load, so block tables agree.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "backend.h"
#include "collectives.h"

struct llmc_engine;

namespace llmc::runtime {

// Wraps rank 0's backend: broadcasts every step, then runs it locally. No greedy fast path (the followers could
// not know which entry point rank 0 used).
std::unique_ptr<Backend> wrap_rank0_backend(std::unique_ptr<Backend> inner, Collectives& comm);

// Followers: runs rank 0's steps until it stops. Throws Error on a failed step (the caller aborts the job).
void follow_steps(llmc_engine& engine);

// Rank 0: tells the followers to return from follow_steps (once; later calls do nothing).
void stop_followers(llmc_engine& engine);

// The KV block count of every rank: rank 0's value, broadcast.
int32_t agree_kv_blocks(Collectives& comm, int32_t blocks);

}  // namespace llmc::runtime
