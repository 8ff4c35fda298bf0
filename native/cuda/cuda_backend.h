// The CUDA backend: runs an engine's plan on one NVIDIA GPU with the kernels of ENGINE/kernels/llmc.fatbin, under
// the same contract as the CPU backend (native/runtime/backend.h, cpu_backend.cpp): one packed step in, host logits
// [R, vocab] out.
//
// Memory (all allocated at load, sizes printed on stderr unless LLMC_CUDA_QUIET=1):
//   weights      every weight uploaded once from the mmapped engine (or generated dummy values), laid out at its
//                data-section offset in one allocation;
//   arenas       the plan's activation arenas (f32): the token arena, arena_floats_per_token * max_num_tokens floats
//                (the `tokens` values), and the logits arena, arena_logit_floats_per_row * max_logit_rows floats (the
//                `logit_rows` values: the LM head's rows and the [R, vocab] logits);
//   step arrays  token ids, positions, sequence slots, logit rows, block tables, attention tiles (int32), uploaded
//                each step from pinned host memory;
//   workspaces   decode attention split-K partials, GEMM split-K partials, argmax ids;
//   KV cache     num_blocks blocks of every layer, f32, the CPU backend's layout; the block count comes from
//                kv_cache_bytes, or by default max_batch_size full sequences capped to 90 % of the free memory.
// Decode steps (every sequence with one token) run as CUDA graphs, captured once per batch size on first use and
// replayed after the step arrays are uploaded (LLMC_CUDA_GRAPHS=0 turns them off). Prefill and mixed steps launch
// kernels one by one.
//
// Environment: LLMC_CUDA_DEVICE (ordinal, default 0), LLMC_CUDA_FATBIN (use this fatbin instead of the engine's),
// LLMC_CUDA_GRAPHS=0, LLMC_CUDA_SYNC=1 (synchronise after every launch and name the failing kernel),
// LLMC_CUDA_DECODE_SPLIT (keys per decode split-K chunk), LLMC_CUDA_CUBLASLT=0, LLMC_CUBLASLT (library path),
// LLMC_CUDA_DEVICE_ARGMAX=0 (greedy steps copy logits to the host instead of ids), LLMC_CUDA_QUIET=1.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../runtime/activation_dump.h"
#include "../runtime/backend.h"
#include "cublaslt.h"
#include "device.h"
#include "launch.h"
#include "nccl.h"

namespace llmc::cuda {

class CudaBackend final : public runtime::Backend {
 public:
  // `api`: the driver table (libcuda or the emulator). Throws runtime::Error.
  CudaBackend(const runtime::LoadedEngine& engine, const DriverApi& api);
  ~CudaBackend() override;

  const char* name() const override { return "cuda"; }
  int num_threads() const override { return 1; }
  int32_t fit_kv_blocks(int32_t requested, bool explicit_budget) override;
  void allocate_kv_cache(int32_t num_blocks) override;
  const float* run_step(const runtime::StepBatch& step) override;
  const int32_t* run_step_argmax(const runtime::StepBatch& step) override;
  std::string info_json_fields() const override;
  // A sharded engine: NCCL for the device data (nccl.h); CUDA graphs off (collectives are not captured).
  void attach_collectives(runtime::Collectives* c) override;

  Device& device() { return *dev_; }
  double device_bandwidth_gbs() const { return bandwidth_gbs_; }
  int64_t graphs_captured() const { return int64_t(graphs_.size()); }

 private:
  struct Operand {
    float* act = nullptr;      // activation storage in the device arena
    const void* w = nullptr;   // weight in device memory
    int dtype = 0;
    runtime::RowsKind rows = runtime::RowsKind::tokens;
    int64_t width = 0;
  };
  struct BoundNode {
    const runtime::PlanNode* node = nullptr;
    std::vector<Operand> in;
    std::vector<Operand> out;
    std::vector<float*> split_outs;
  };
  // Offsets (int32 elements) of the step arrays inside the meta buffers (host staging and device copy).
  struct MetaLayout {
    int64_t token_ids, positions, seq_of_token, logit_rows, decode_rows, tiles, block_tables, shard_ids, total;
  };
  struct Graph {
    CUgraphExec exec = nullptr;
  };

  void load_fatbin();
  void upload_weights();
  void measure_bandwidth();
  Operand bind(int32_t value_id);
  void run_nodes(const runtime::StepBatch& step, bool argmax);
  void run_node(const BoundNode& b, const runtime::StepBatch& step);
  void dump_node(const BoundNode& b, const runtime::StepBatch& step);
  void prepare_step(const runtime::StepBatch& step);
  void execute(const runtime::StepBatch& step, bool argmax);
  bool graph_eligible(const runtime::StepBatch& step) const;
  int rows_of(const Operand& o, const runtime::StepBatch& step) const {
    return o.rows == runtime::RowsKind::tokens ? step.num_tokens : step.num_logit_rows;
  }
  template <class T = int32_t>
  T* meta_dev(int64_t offset) const {
    return reinterpret_cast<T*>(meta_dev_.get<int32_t>() + offset);
  }

  const runtime::LoadedEngine& engine_;
  const runtime::Plan& plan_;
  std::unique_ptr<Device> dev_;  // first member destroyed last: every buffer below frees into its context
  std::unique_ptr<CublasLt> lt_;
  std::string lt_why_;
  DeviceBuffer weights_;
  std::vector<const void*> weight_ptrs_;  // value id -> device address of the weight
  DeviceBuffer arena_;        // token arena
  DeviceBuffer logit_arena_;  // logits arena
  DeviceBuffer meta_dev_;
  PinnedBuffer meta_host_;
  DeviceBuffer decode_part_;
  DeviceBuffer gemm_ws_;
  DeviceBuffer ids_dev_;
  PinnedBuffer ids_host_;
  PinnedBuffer logits_host_;
  DeviceBuffer kv_;
  MetaLayout meta_{};
  runtime::ActivationDump dump_;   // LLMC_DUMP_DIR: every activation of every step (llmc verify --backend cuda)
  std::vector<float> dump_host_;
  int32_t max_seqs_ = 0;
  int32_t max_blocks_per_seq_ = 0;
  int32_t max_tiles_ = 0;
  int32_t kv_blocks_ = 0;
  int max_head_dim_ = 0;
  ops::LinearContext lin_{};
  ops::DecodeSplits splits_{};
  ops::StepArrays step_arrays_{};
  std::vector<BoundNode> nodes_;
  float* logits_dev_ = nullptr;
  std::map<std::pair<int32_t, int32_t>, Graph> graphs_;  // (batch size, argmax) -> decode graph
  bool use_graphs_ = true;
  bool use_device_argmax_ = true;
  bool quiet_ = false;
  double bandwidth_gbs_ = 0;
  double upload_seconds_ = 0;
  std::string fatbin_path_;
  std::unique_ptr<NcclCollectives> nccl_;
  int32_t shard_vocab_start_ = -1;  // embedding_shard: this rank's first table row (-1: no such node)
  int64_t shard_vocab_rows_ = 0;
};

}  // namespace llmc::cuda
