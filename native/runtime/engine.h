// The loaded engine behind the C handle llmc_engine: the mmapped engine, its backend (arena + KV storage), the KV
// block pool shared by every executor on it, the step lock and the cancel counter.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "backend.h"
#include "collectives.h"
#include "engine_loader.h"
#include "kv_cache.h"
#include "llmc/llmc.h"

struct llmc_engine {
  // Sharded engines: MPI (declared first so it is torn down last, after the backend); null on one rank.
  std::unique_ptr<llmc::runtime::Collectives> comm;
  bool followers_stopped = false;
  std::unique_ptr<llmc::runtime::LoadedEngine> loaded;
  std::unique_ptr<llmc::runtime::Backend> backend;
  std::unique_ptr<llmc::runtime::KvBlockPool> kv_pool;
  int64_t kv_cache_bytes = 0;
  std::string info_json;
  // Steps of different executors (or threads) on this engine take turns: they share the arena and the cache.
  std::mutex step_mutex;
  // llmc_engine_cancel bumps it; a request is cancelled when it differs from the value at the request's start.
  // Lock-free, so it may be bumped from a signal handler.
  std::atomic<uint64_t> cancel_epoch{0};

  const llmc::runtime::Plan& plan() const { return loaded->plan; }
  ~llmc_engine();  // rank 0 of a sharded engine: stops the followers first (sharded.cpp)
};

namespace llmc::runtime {

// Loads ENGINE_DIR with the options (nullptr = defaults). Throws Error.
std::unique_ptr<llmc_engine> open_engine(const std::string& engine_dir, const llmc_load_options* opts);

}  // namespace llmc::runtime
