// CPU backend setup (arena, KV storage, operand binding) and the plan executor: one kernel call per node.
#include "cpu_backend.h"

#include <cstring>

#include "collectives.h"
#include "errors.h"

namespace llmc::runtime {

std::unique_ptr<Backend> create_cpu_backend(const LoadedEngine& engine, int num_threads) {
  return std::make_unique<CpuBackend>(engine, num_threads);
}

CpuBackend::CpuBackend(const LoadedEngine& engine, int num_threads) : plan_(engine.plan), pool_holder_(cpu::ThreadPool::shared(num_threads)), pool_(*pool_holder_) {
  // The plan's two arenas (docs/engine-format.md "Plan JSON"): `tokens` values at max_num_tokens rows, `logit_rows`
  // values (the LM head's rows, [R, vocab] for the logits) at max_logit_rows rows; the validator checked every
  // activation lies inside its arena.
  const unsigned __int128 floats =
      static_cast<unsigned __int128>(plan_.arena_floats_per_token) * static_cast<uint64_t>(plan_.limits.max_num_tokens) +
      static_cast<unsigned __int128>(plan_.arena_logit_floats_per_row) * static_cast<uint64_t>(plan_.limits.max_logit_rows);
  if (floats > (static_cast<unsigned __int128>(1) << 44)) {
    fail(LLMC_ERR_LIMIT, "the activation arenas (" + std::to_string(plan_.arena_floats_per_token) + " floats per token x " +
                             std::to_string(plan_.limits.max_num_tokens) + " tokens, " + std::to_string(plan_.arena_logit_floats_per_row) +
                             " floats per logit row x " + std::to_string(plan_.limits.max_logit_rows) +
                             " rows) are too large; rebuild with a smaller --max-num-tokens");
  }
  arena_.allocate(static_cast<size_t>(std::max<int64_t>(plan_.arena_floats_per_token, 1)) * plan_.limits.max_num_tokens * sizeof(float), "activation arena");
  logit_arena_.allocate(static_cast<size_t>(std::max<int64_t>(plan_.arena_logit_floats_per_row, 1)) * plan_.limits.max_logit_rows * sizeof(float), "logits arena");
  nodes_.reserve(plan_.nodes.size());
  for (const PlanNode& n : plan_.nodes) {
    BoundNode b;
    b.node = &n;
    for (int32_t id : n.inputs) b.in.push_back(id >= 0 ? bind(id) : Operand{});
    for (int32_t id : n.outputs) b.out.push_back(bind(id));
    if (n.op == OpId::split) {
      for (const Operand& o : b.out) b.split_outs.push_back(o.act);
    }
    nodes_.push_back(std::move(b));
  }
  logits_ = plan_.logits_value >= 0 ? bind(plan_.logits_value).act : nullptr;  // -1: a rank without logits
}

CpuBackend::Operand CpuBackend::bind(int32_t value_id) {
  const PlanValue& v = plan_.values[value_id];
  Operand o;
  if (v.is_weight()) {
    o.w = v.weight.data;
    o.wt = v.weight.dtype;
    o.width = v.weight.shape.back();
  } else if (v.act.rows == RowsKind::logit_rows) {
    o.act = logit_arena_.floats() + v.act.arena_offset * plan_.limits.max_logit_rows;
    o.rows = v.act.rows;
    o.width = v.act.width;
  } else {
    o.act = arena_.floats() + v.act.arena_offset * plan_.limits.max_num_tokens;
    o.rows = v.act.rows;
    o.width = v.act.width;
  }
  return o;
}

void CpuBackend::allocate_kv_cache(int32_t num_blocks) {
  const KvCacheSpec& kv = plan_.kv;
  const unsigned __int128 bytes = static_cast<unsigned __int128>(kv.num_layers) * static_cast<uint64_t>(num_blocks) *
                                  static_cast<uint64_t>(kv.bytes_per_block_per_layer());
  if (bytes > (static_cast<unsigned __int128>(1) << 46)) fail(LLMC_ERR_LIMIT, "the KV cache budget is too large for this machine");
  kv_.allocate(static_cast<size_t>(bytes), "KV cache");
  kv_blocks_ = num_blocks;
}

const float* CpuBackend::run_step(const StepBatch& step) {
  if (step.num_tokens < 1 || step.num_tokens > plan_.limits.max_num_tokens || step.num_logit_rows < 0 ||
      step.num_logit_rows > step.num_tokens || step.num_logit_rows > plan_.limits.max_logit_rows) {
    fail(LLMC_ERR_INTERNAL, "bad step: " + std::to_string(step.num_tokens) + " tokens, " + std::to_string(step.num_logit_rows) + " logit rows");
  }
  if (!dump_.enabled()) {
    for (const BoundNode& b : nodes_) {
      run_node(b, step);
      if (fault_.hits(op_name(b.node->op))) plant_fault(b, step);
    }
    return logits_;
  }
  dump_.begin_step();
  for (const BoundNode& b : nodes_) {
    run_node(b, step);
    if (fault_.hits(op_name(b.node->op))) plant_fault(b, step);
    for (size_t i = 0; i < b.out.size(); ++i) {
      dump_.write(op_name(b.node->op), plan_.values[b.node->outputs[i]].name, b.out[i].act, rows_of(b.out[i], step), b.out[i].width);
    }
  }
  return logits_;
}

void CpuBackend::plant_fault(const BoundNode& b, const StepBatch& step) {
  for (const Operand& o : b.out) TestFault::apply(o.act, rows_of(o, step), o.width);
}

void CpuBackend::run_node(const BoundNode& b, const StepBatch& step) {
  const PlanNode& n = *b.node;
  if (n.op == OpId::send) {  // the only op without an output
    const Operand& x = b.in[0];
    const int64_t rows = rows_of(x, step);
    if (rows > 0) comm_->send(x.act, rows * x.width * 4, std::get<PeerAttrs>(n.attrs).peer, n.name.c_str());
    return;
  }
  const Operand& out = b.out[0];
  const int64_t rows = rows_of(out, step);
  if (rows == 0) return;  // e.g. the LM head in a step that wants no logits
  const auto& in = b.in;
  switch (n.op) {
    case OpId::embedding: {
      const auto& a = std::get<EmbeddingAttrs>(n.attrs);
      cpu::embedding(pool_, step.token_ids, rows, in[0].w, in[0].wt, out.width, a.scale, out.act);
      break;
    }
    case OpId::pos_embedding: {
      const auto& a = std::get<PosEmbeddingAttrs>(n.attrs);
      cpu::pos_embedding(pool_, in[0].act, step.positions, rows, in[1].w, in[1].wt, out.width, a.offset, out.act);
      break;
    }
    case OpId::rms_norm: {
      const auto& a = std::get<RmsNormAttrs>(n.attrs);
      cpu::rms_norm(pool_, in[0].act, rows, out.width, in[1].w, in[1].wt, a.eps, a.weight_offset, out.act);
      break;
    }
    case OpId::layer_norm: {
      const auto& a = std::get<LayerNormAttrs>(n.attrs);
      cpu::layer_norm(pool_, in[0].act, rows, out.width, in[1].w, in[1].wt, in[2].w, a.eps, out.act);
      break;
    }
    case OpId::linear:
      // y[rows, out] = x[rows, in] . w[out, in]^T (+ bias[out])
      cpu::linear(pool_, in[0].act, rows, in[0].width, in[1].w, in[1].wt, out.width, in[2].w, out.act);
      break;
    case OpId::linear_q: {
      // y[rows, out] = x[rows, in] . dequant(qweight)^T (+ bias[out])
      cpu::QuantWeight w;
      w.q = in[1].w;
      w.qt = in[1].wt;
      w.scales = static_cast<const float*>(in[2].w);
      w.offsets = static_cast<const float*>(in[3].w);
      w.perm = static_cast<const int32_t*>(in[5].w);
      w.input_scale = static_cast<const float*>(in[6].w);
      w.group_size = std::get<LinearQAttrs>(n.attrs).group_size;
      w.activation_bits = std::get<LinearQAttrs>(n.attrs).activation_bits;
      cpu::linear_q(pool_, in[0].act, rows, in[0].width, w, out.width, in[4].w, in[4].wt, out.act);
      break;
    }
    case OpId::linear_act:
      // y = act(x . w^T + bias)
      cpu::linear_act(pool_, in[0].act, rows, in[0].width, in[1].w, in[1].wt, out.width, in[2].w,
                      std::get<ActivationAttrs>(n.attrs).kind, out.act);
      break;
    case OpId::linear_rope: {
      // y = x . w^T + bias; heads [0, num_heads) of y (q's, then k's) rotated by each token's position
      const auto& a = std::get<RopeAttrs>(n.attrs);
      cpu::linear_rope(pool_, in[0].act, rows, in[0].width, in[1].w, in[1].wt, out.width, in[3].w, step.positions, a.num_heads,
                       a.head_dim, a.rotary_dim, static_cast<const float*>(in[2].w), a.style, out.act);  // inputs: x, w, inv_freq, bias
      break;
    }
    case OpId::add_rms_norm: {  // outputs: sum, out
      const auto& a = std::get<RmsNormAttrs>(n.attrs);
      cpu::add_rms_norm(pool_, in[0].act, in[1].act, rows, out.width, in[2].w, in[2].wt, a.eps, a.weight_offset, out.act,
                        b.out[1].act);
      break;
    }
    case OpId::add_layer_norm: {
      const auto& a = std::get<LayerNormAttrs>(n.attrs);
      cpu::add_layer_norm(pool_, in[0].act, in[1].act, rows, out.width, in[2].w, in[2].wt, in[3].w, a.eps, out.act,
                          b.out[1].act);
      break;
    }
    case OpId::rope: {
      const auto& a = std::get<RopeAttrs>(n.attrs);
      cpu::rope(pool_, in[0].act, rows, step.positions, a.num_heads, a.head_dim, a.rotary_dim,
                static_cast<const float*>(in[1].w), a.style, out.act);
      break;
    }
    case OpId::attention: {
      const auto& a = std::get<AttentionAttrs>(n.attrs);
      const KvCacheSpec& kv = plan_.kv;
      cpu::AttentionArgs args;
      args.q = in[0].act;
      args.k = in[1].act;
      args.v = in[2].act;
      args.rows = rows;
      args.positions = step.positions;
      args.seq_of_token = step.seq_of_token;
      args.block_tables = step.block_tables;
      args.max_blocks_per_seq = step.max_blocks_per_seq;
      // Layer l's blocks (kv_block_layout bytes each) start at block l * num_blocks.
      args.kv.block_stride = kv.bytes_per_block_per_layer();
      args.kv.layer_base = static_cast<uint8_t*>(kv_.data()) + int64_t{a.layer} * kv_blocks_ * args.kv.block_stride;
      args.kv.block_size = kv.block_size;
      args.kv.num_kv_heads = kv.num_kv_heads;
      args.kv.head_dim = kv.head_dim;
      args.kv.dtype = kv.dtype;
      args.num_heads = a.num_heads;
      args.num_kv_heads = a.num_kv_heads;
      args.head_dim = a.head_dim;
      args.scale = a.scale;
      args.sliding_window = a.sliding_window;
      args.alibi_slopes = static_cast<const float*>(in[3].w);
      args.out = out.act;
      cpu::attention(pool_, args);
      break;
    }
    case OpId::add: cpu::add(pool_, in[0].act, in[1].act, rows * out.width, out.act); break;
    case OpId::mul: cpu::mul(pool_, in[0].act, in[1].act, rows * out.width, out.act); break;
    case OpId::activation:
      cpu::activation(pool_, in[0].act, rows * out.width, std::get<ActivationAttrs>(n.attrs).kind, out.act);
      break;
    case OpId::gated_activation:
      cpu::gated_activation(pool_, in[0].act, in[1].act, rows * out.width, std::get<ActivationAttrs>(n.attrs).kind, out.act);
      break;
    case OpId::split: {
      const auto& a = std::get<SplitAttrs>(n.attrs);
      cpu::split(pool_, in[0].act, rows, a.sizes.data(), static_cast<int32_t>(a.sizes.size()), b.split_outs.data());
      break;
    }
    case OpId::select_rows:
      cpu::select_rows(in[0].act, out.width, step.logit_rows, rows, out.act);
      break;
    case OpId::all_reduce:
      std::memcpy(out.act, in[0].act, static_cast<size_t>(rows * out.width) * sizeof(float));
      comm_->all_reduce_sum(out.act, rows * out.width, n.name.c_str());
      break;
    case OpId::all_gather: {
      const auto& a = std::get<AllGatherAttrs>(n.attrs);
      comm_->all_gather_cols(in[0].act, rows, a.sizes.data(), static_cast<int32_t>(a.sizes.size()), out.act, n.name.c_str());
      break;
    }
    case OpId::recv:
      comm_->recv(out.act, rows * out.width * 4, std::get<PeerAttrs>(n.attrs).peer, n.name.c_str());
      break;
    case OpId::embedding_shard: {
      // This rank's rows [start, start + part) of the table; other tokens get zero rows (all_reduce adds them).
      const auto& a = std::get<EmbeddingShardAttrs>(n.attrs);
      const int64_t part = plan_.values[n.inputs[0]].weight.shape[0];
      shard_ids_.resize(static_cast<size_t>(rows));
      for (int64_t t = 0; t < rows; ++t) {
        const int64_t local = int64_t{step.token_ids[t]} - a.vocab_start;
        shard_ids_[static_cast<size_t>(t)] = local >= 0 && local < part ? static_cast<int32_t>(local) : 0;
      }
      cpu::embedding(pool_, shard_ids_.data(), rows, in[0].w, in[0].wt, out.width, a.scale, out.act);
      for (int64_t t = 0; t < rows; ++t) {
        const int64_t local = int64_t{step.token_ids[t]} - a.vocab_start;
        if (local < 0 || local >= part) std::memset(out.act + t * out.width, 0, static_cast<size_t>(out.width) * sizeof(float));
      }
      break;
    }
    default: fail(LLMC_ERR_UNSUPPORTED, std::string("the CPU backend does not implement op ") + op_name(n.op));
  }
}

}  // namespace llmc::runtime
