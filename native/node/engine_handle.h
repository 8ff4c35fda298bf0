// The native engine shared between its JS wrapper and the workers running on it. The engine is freed when the
// last owner lets go, so close() (or garbage collection) while a generate is running cannot free it under the
// worker: close() only marks it closed and asks the running request to stop.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>

#include "llmc/llmc.h"

namespace llmc_node {

struct EngineHandle {
  explicit EngineHandle(llmc_engine* e) : engine(e) {}
  ~EngineHandle() { llmc_engine_free(engine); }
  EngineHandle(const EngineHandle&) = delete;
  EngineHandle& operator=(const EngineHandle&) = delete;

  llmc_engine* const engine;
  // One request at a time per engine: llmc_generate and llmc_score run on the calling thread and share the
  // engine's executor, so concurrent calls queue here (on libuv pool threads) instead of racing.
  std::mutex run_mutex;
  std::atomic<bool> closed{false};
};

using EngineHandlePtr = std::shared_ptr<EngineHandle>;

}  // namespace llmc_node
