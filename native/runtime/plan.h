// The engine's plan in typed form: what rank0.engine's plan JSON says (docs/engine-format.md), parsed once at load
// so the executor never looks at JSON or strings. Attributes are resolved per op into the structs below; enums use
// the generated ops.generated.h types.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "../cpu/kernels.h"
#include "json.h"
#include "llmc/ops.generated.h"

namespace llmc::runtime {

using cpu::DType;

// Activation rows: the step's tokens, or the rows whose logits the step wants (after select_rows).
enum class RowsKind : int32_t { tokens = 0, logit_rows = 1 };

// A weight stored without bytes (llmc build --dummy-weights): its values are generated at load from these
// settings (dummy_weights.h has the exact formula), so the engine file holds no weight data.
struct DummyInit {
  enum class Kind : int32_t { none = 0, normal = 1, ones = 2, constant = 3 };
  Kind kind = Kind::none;  // normal: N(0, std); ones: 1 + N(0, std); constant: every element = value
  uint64_t seed = 0;
  float std = 0;
  float value = 0;
};

struct WeightInfo {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;  // 1-D [n] or 2-D [rows, cols], row-major
  uint64_t offset = 0;         // bytes from the start of the data section (multiple of 64); unused when dummy
  uint64_t nbytes = 0;         // == product(shape) * dtype size
  DummyInit dummy;             // kind none: the bytes are in the data section
  const void* data = nullptr;  // resolved by the loader: data section + offset inside the mmapped file, or the
                               // generated values of a dummy weight (fill_dummy_weights)
  bool is_dummy() const { return dummy.kind != DummyInit::Kind::none; }
};

struct ActivationInfo {
  RowsKind rows = RowsKind::tokens;
  int64_t width = 0;         // floats per row (the row stride)
  int64_t arena_offset = 0;  // in its rows' arena: tokens values start at token arena + arena_offset * max_num_tokens,
                             // logit_rows values at logits arena + arena_offset * max_logit_rows
};

struct PlanValue {
  enum class Kind { weight, activation };
  int32_t id = 0;
  std::string name;
  Kind kind = Kind::activation;
  WeightInfo weight;      // kind == weight
  ActivationInfo act;     // kind == activation

  bool is_weight() const { return kind == Kind::weight; }
  int64_t numel() const;  // weights only
};

// ---- Per-op attributes (schema/ops.json) ----------------------------------------------------------------------
struct EmbeddingAttrs { float scale = 1.0f; };
struct PosEmbeddingAttrs { int32_t offset = 0; };
struct RmsNormAttrs { float eps = 0; float weight_offset = 0; };
struct LayerNormAttrs { float eps = 0; };
struct RopeAttrs { int32_t num_heads = 0; int32_t head_dim = 0; int32_t rotary_dim = 0; RopeStyle style = RopeStyle::neox; };
struct AttentionAttrs {
  int32_t layer = 0;
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  float scale = 1.0f;
  int32_t sliding_window = 0;  // 0 = none
};
struct ActivationAttrs { ActivationKind kind = ActivationKind::identity; };  // activation and gated_activation
struct SplitAttrs { std::vector<int32_t> sizes; };
struct LinearQAttrs { int32_t group_size = 0; int32_t activation_bits = 0; };
// Communication (sharded engines; docs/parallel.md). all_reduce has no attributes.
struct AllGatherAttrs { std::vector<int32_t> sizes; };        // columns from each tensor-parallel rank, in rank order
struct PeerAttrs { int32_t peer = 0; int32_t width = 0; RowsKind rows = RowsKind::tokens; };  // send (peer), recv
struct EmbeddingShardAttrs { float scale = 1.0f; int32_t vocab_start = 0; };

// monostate: ops without attributes (linear, add, mul, select_rows).
using NodeAttrs = std::variant<std::monostate, EmbeddingAttrs, PosEmbeddingAttrs, RmsNormAttrs, LayerNormAttrs,
                               RopeAttrs, AttentionAttrs, ActivationAttrs, SplitAttrs, LinearQAttrs, AllGatherAttrs,
                               PeerAttrs, EmbeddingShardAttrs>;

struct PlanNode {
  OpId op = OpId::invalid;
  std::string name;
  std::vector<int32_t> inputs;   // value ids; -1 = absent optional input (always padded to the op's input count)
  std::vector<int32_t> outputs;  // value ids
  NodeAttrs attrs;
};

// ---- Whole plan -----------------------------------------------------------------------------------------------
struct ModelDims {
  int32_t vocab_size = 0;
  int32_t hidden_size = 0;
  int32_t num_layers = 0;
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
};

struct Limits {
  int32_t max_batch_size = 0;  // sequences in one step
  int32_t max_seq_len = 0;     // prompt + generated tokens of one sequence
  int32_t max_num_tokens = 0;  // tokens in one packed step
  int32_t max_logit_rows = 0;  // logit rows one step may ask for: the logits arena's rows (min(max_batch_size,
                               // max_num_tokens) .. max_num_tokens; the compiler writes max(max_batch_size, 64) capped)
};

// Paged KV cache shape. Per layer and block: k then v, each [num_kv_heads, block_size, head_dim] of the storage
// dtype, then per-row scales for i8/f8e4m3 (cpu/kv_dtype.h kv_block_layout; docs/kv-cache.md).
struct KvCacheSpec {
  int32_t num_layers = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t block_size = 0;
  cpu::KvDType dtype = cpu::KvDType::f32;
  cpu::KvBlockLayout layout() const { return cpu::kv_block_layout(dtype, num_kv_heads, block_size, head_dim); }
  int64_t bytes_per_block_per_layer() const { return layout().block_bytes; }
};

// Where this rank sits in a tp x pp engine (plan "mapping"; absent = the one-rank engine: world_size 1).
// rank = pp_rank * tp + tp_rank; a tensor-parallel group is the tp consecutive ranks of one stage.
struct RankMapping {
  int32_t rank = 0, world_size = 1, tp = 1, pp = 1, tp_rank = 0, pp_rank = 0;
  int32_t first_layer = 0, num_layers = 0, num_heads = 0, num_kv_heads = 0, vocab_start = 0, vocab_size = 0;
};

struct Plan {
  int64_t format_version = 0;
  std::string schema_hash;
  ModelDims model;
  Limits limits;
  KvCacheSpec kv;
  int64_t arena_floats_per_token = 0;       // token arena: this * max_num_tokens floats, the `tokens` values
  int64_t arena_logit_floats_per_row = 0;   // logits arena: this * max_logit_rows floats, the `logit_rows` values
  std::vector<PlanValue> values;  // values[i].id == i
  std::vector<PlanNode> nodes;    // execution order
  int32_t logits_value = -1;      // activation [logit_rows, vocab_size]; -1 on a rank other than 0 that makes none
  RankMapping mapping;
};

// Reads the plan JSON into a Plan. Throws Error: LLMC_ERR_VERSION for an unknown op name, LLMC_ERR_BAD_ENGINE for
// anything malformed (messages start with `where`, e.g. "rank0.engine plan").
Plan parse_plan(const json::Value& root, const std::string& where);

// Checks that the plan can run without reading or writing out of bounds: value kinds and shapes per op, arena
// ranges inside the arena, every activation written before it is read, the logits output's shape.
// Weight byte ranges are the loader's job. Throws Error(LLMC_ERR_BAD_ENGINE).
void validate_plan(const Plan& plan, const std::string& where);
// After the weights are bound: index weights (linear_q's perm) hold valid indices. Throws Error(LLMC_ERR_BAD_ENGINE).
void validate_weight_indices(const Plan& plan, const std::string& where);

// Bytes of a weight of this dtype and shape (sub-byte dtypes pack each row to whole bytes: dtype_matrix_bytes).
uint64_t weight_bytes(DType t, const std::vector<int64_t>& shape);

}  // namespace llmc::runtime
