// The backend interface: what runs a plan. The executor packs steps and keeps the KV block tables; a backend owns
// device memory (activation arena, KV storage) and runs the plan's nodes for one step. Only the CPU backend exists
// now; a CUDA backend implements the same class.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "engine_loader.h"

namespace llmc::runtime {

// One packed step: a flat list of T tokens from one or more sequences (docs/engine-format.md "Step semantics").
// Tokens of one sequence are contiguous and in position order.
struct StepBatch {
  int32_t num_tokens = 0;               // T, 1..max_num_tokens
  const int32_t* token_ids = nullptr;   // [T]
  const int32_t* positions = nullptr;   // [T] position of each token in its sequence
  const int32_t* seq_of_token = nullptr;  // [T] sequence slot in [0, num_seqs)
  int32_t num_seqs = 0;
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq] physical KV block ids
  int32_t max_blocks_per_seq = 0;
  const int32_t* logit_rows = nullptr;  // [R] ascending token indices whose logits are wanted
  int32_t num_logit_rows = 0;           // R, 0..T
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual int num_threads() const = 0;
  // Allocates KV storage for num_blocks blocks (every layer). Called once, before the first step.
  virtual void allocate_kv_cache(int32_t num_blocks) = 0;
  // Runs the plan on one step: writes the step's k/v into the cache and returns logits [R, vocab] (f32, host
  // memory), valid until the next call. Not thread-safe: the engine serializes steps.
  virtual const float* run_step(const StepBatch& step) = 0;
};

// "cpu" (or empty) -> the CPU backend; "cuda" -> Error(LLMC_ERR_UNSUPPORTED) in this build; anything else ->
// Error(LLMC_ERR_INVALID_ARGUMENT).
std::unique_ptr<Backend> create_backend(const std::string& name, const LoadedEngine& engine, int num_threads);

std::unique_ptr<Backend> create_cpu_backend(const LoadedEngine& engine, int num_threads);

}  // namespace llmc::runtime
