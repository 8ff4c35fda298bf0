// The backend interface: what runs a plan. The executor packs steps and keeps the KV block tables; a backend owns
// device memory (activation arena, KV storage) and runs the plan's nodes for one step. The CPU backend
// (cpu_backend.h) is the reference; the CUDA backend (native/cuda/cuda_backend.h) implements the same class.
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
  int32_t num_logit_rows = 0;           // R, 0..min(T, max_logit_rows)
};

// Logit rows one step may ask for: the plan's limits.max_logit_rows (chosen by the compiler: one per sampled
// sequence, at least 64, at most max_num_tokens). Backends hold the `logit_rows` values (the LM head's input and
// output, [R, vocab]) in the plan's logits arena, which has this many rows, not max_num_tokens.
inline int32_t max_logit_rows(const Limits& lim) { return lim.max_logit_rows; }
class Collectives;  // collectives.h

class Backend {
 public:
  virtual ~Backend() = default;
  // A sharded engine's communication (all_reduce, all_gather, send, recv); set once after construction.
  // (The CUDA backend also sets up NCCL here for its device data.)
  virtual void attach_collectives(Collectives* c) { comm_ = c; }
  virtual const char* name() const = 0;
  virtual int num_threads() const = 0;
  // Allocates KV storage for num_blocks blocks (every layer). Called once, before the first step.
  virtual void allocate_kv_cache(int32_t num_blocks) = 0;
  // Runs the plan on one step: writes the step's k/v into the cache and returns logits [R, vocab] (f32, host
  // memory), valid until the next call. Not thread-safe: the engine serializes steps.
  virtual const float* run_step(const StepBatch& step) = 0;

  // Optional hooks (the defaults suit host-memory backends):
  // The number of KV blocks to allocate given the requested count (from kv_cache_bytes, or the default when
  // `explicit_budget` is false): a device backend caps the default to its free memory, or refuses a budget that
  // does not fit, with the numbers. Called once, before allocate_kv_cache.
  virtual int32_t fit_kv_blocks(int32_t requested, bool explicit_budget) { return requested; }
  // Extra `"key": value` pairs for llmc_engine_info_json (comma-separated, no braces), e.g. the device name.
  virtual std::string info_json_fields() const { return ""; }
  // Greedy fast path: runs the step like run_step and returns, instead of logits, the argmax id of each logit row
  // (lowest id on ties, NaN never wins: Sampler's greedy rule), computed where the logits are. nullptr = not
  // supported; the caller then uses run_step.
  virtual const int32_t* run_step_argmax(const StepBatch& step) { return nullptr; }

 protected:
  Collectives* comm_ = nullptr;
};

// "cpu" (or empty) -> the CPU backend; "cuda" -> the CUDA backend, or Error(LLMC_ERR_UNSUPPORTED) when libcuda.so.1
// cannot be loaded (no NVIDIA driver) or there is no usable GPU; anything else -> Error(LLMC_ERR_INVALID_ARGUMENT).
std::unique_ptr<Backend> create_backend(const std::string& name, const LoadedEngine& engine, int num_threads);

std::unique_ptr<Backend> create_cpu_backend(const LoadedEngine& engine, int num_threads);
std::unique_ptr<Backend> create_cuda_backend(const LoadedEngine& engine);  // native/cuda/cuda_backend.cpp

}  // namespace llmc::runtime
