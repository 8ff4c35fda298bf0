// The CPU backend: runs the plan with llmc::cpu kernels (native/cpu/kernels.h) on a thread pool. Every value's
// pointer is fixed at load (weights in the mmapped file, activations in the arena), so a step only varies the row
// counts: T for "tokens" values, R for "logit_rows" values.
#pragma once
#include <cstdint>
#include <vector>

#include "../cpu/kernels.h"
#include "../cpu/thread_pool.h"
#include "activation_dump.h"
#include "test_fault.h"
#include "backend.h"
#include "host_buffer.h"

namespace llmc::runtime {

class CpuBackend final : public Backend {
 public:
  CpuBackend(const LoadedEngine& engine, int num_threads);

  const char* name() const override { return "cpu"; }
  int num_threads() const override { return pool_.size(); }
  void allocate_kv_cache(int32_t num_blocks) override;
  const float* run_step(const StepBatch& step) override;

 private:
  // A node input or output with its storage resolved.
  struct Operand {
    float* act = nullptr;        // activation storage in the arena (null for weights and absent inputs)
    const void* w = nullptr;     // weight bytes (null for activations and absent inputs)
    DType wt = DType::f32;
    RowsKind rows = RowsKind::tokens;
    int64_t width = 0;           // activation row width; weights: last dim
  };
  struct BoundNode {
    const PlanNode* node = nullptr;
    std::vector<Operand> in;
    std::vector<Operand> out;
    std::vector<float*> split_outs;  // split only
  };

  Operand bind(int32_t value_id);
  void run_node(const BoundNode& b, const StepBatch& step);
  void plant_fault(const BoundNode& b, const StepBatch& step);  // LLMC_TEST_FAULT_OP (tests of llmc verify)
  int64_t rows_of(const Operand& o, const StepBatch& step) const {
    return o.rows == RowsKind::tokens ? step.num_tokens : step.num_logit_rows;
  }

  const Plan& plan_;
  std::shared_ptr<cpu::ThreadPool> pool_holder_;  // shared with other engines of the same thread count
  cpu::ThreadPool& pool_;
  HostBuffer arena_;        // [arena.floats_per_token * max_num_tokens] f32: the `tokens` values at their planned offsets
  HostBuffer logit_arena_;  // [arena.logit_floats_per_row * max_logit_rows] f32: the `logit_rows` values, likewise
  HostBuffer kv_;        // [num_layers, num_blocks] blocks of kv_block_layout(plan kv dtype) bytes
  int32_t kv_blocks_ = 0;
  std::vector<BoundNode> nodes_;
  const float* logits_ = nullptr;
  TestFault fault_;      // LLMC_TEST_FAULT_OP: a planted kernel bug, tests only
  std::vector<int32_t> shard_ids_;  // embedding_shard: the step's ids made local to this rank's rows
  ActivationDump dump_;  // LLMC_DUMP_DIR: every activation of every step, for finding the first wrong layer
};

}  // namespace llmc::runtime
