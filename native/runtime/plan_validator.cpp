// validate_plan: everything the executor relies on to never touch memory outside the weights, the arena and the KV
// cache. The TS verifier checks the same things at build time; this is the runtime's own guard against corrupt or
// hand-edited engines.
#include <algorithm>
#include <string>
#include <vector>

#include "errors.h"
#include "plan.h"

namespace llmc::runtime {

namespace {

class PlanChecker {
 public:
  PlanChecker(const Plan& plan, const std::string& where)
      : plan_(plan), where_(where), def_(plan.values.size(), -1), last_use_(plan.values.size(), -1) {}

  void run() {
    check_arena_ranges();
    for (size_t i = 0; i < plan_.nodes.size(); ++i) check_node(static_cast<int>(i));
    check_logits();
    check_lifetimes();
  }

 private:
  const Plan& plan_;
  const std::string& where_;
  std::vector<int> def_;       // node index that writes each activation, -1 = none yet
  std::vector<int> last_use_;  // last node index that reads it
  int node_ = -1;              // node being checked

  [[noreturn]] void bad(const std::string& what) const {
    std::string at;
    if (node_ >= 0) {
      const PlanNode& n = plan_.nodes[node_];
      at = "nodes[" + std::to_string(node_) + "] (" + op_name(n.op) + (n.name.empty() ? "" : " \"" + n.name + "\"") + "): ";
    }
    fail(LLMC_ERR_BAD_ENGINE, where_ + ": " + at + what);
  }

  static std::string value_label(const PlanValue& v) {
    return "value " + std::to_string(v.id) + (v.name.empty() ? "" : " \"" + v.name + "\"");
  }

  const PlanValue& value(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= plan_.values.size()) bad("value id " + std::to_string(id) + " does not exist");
    return plan_.values[id];
  }

  // An input activation: it must already have been written by an earlier node.
  const ActivationInfo& in_act(int32_t id) {
    const PlanValue& v = value(id);
    if (v.is_weight()) bad(value_label(v) + " is a weight where an activation is expected");
    if (def_[id] < 0) bad(value_label(v) + " is read before any node writes it");
    last_use_[id] = node_;
    return v.act;
  }

  const WeightInfo& in_weight(int32_t id) const {
    const PlanValue& v = value(id);
    if (!v.is_weight()) bad(value_label(v) + " is an activation where a weight is expected");
    return v.weight;
  }

  const ActivationInfo& out_act(int32_t id) {
    const PlanValue& v = value(id);
    if (v.is_weight()) bad(value_label(v) + " is a weight but is written by a node");
    if (def_[id] >= 0) bad(value_label(v) + " is written twice (nodes " + std::to_string(def_[id]) + " and " + std::to_string(node_) + ")");
    def_[id] = node_;
    last_use_[id] = node_;
    return v.act;
  }

  void expect(bool ok, const std::string& what) const {
    if (!ok) bad(what);
  }

  void same_shape(const ActivationInfo& a, const ActivationInfo& b, const char* what) const {
    expect(a.rows == b.rows && a.width == b.width, std::string(what) + " must have the same rows and width");
  }

  void vector_weight(const WeightInfo& w, int64_t n, const char* what) const {
    expect(w.shape.size() == 1 && w.shape[0] == n, std::string(what) + " must be a 1-D weight of " + std::to_string(n) + " elements");
  }

  // The operands every float linear shares (linear, linear_act, linear_rope): x [rows, in], w [out, in], an optional
  // bias [out] of w's dtype (input index bias_in, -1 in the plan when absent), out [rows, out].
  const ActivationInfo& linear_operands(const PlanNode& n, size_t bias_in) {
    const auto& in = n.inputs;
    const ActivationInfo& x = in_act(in[0]);
    const WeightInfo& w = in_weight(in[1]);
    expect(w.shape.size() == 2 && w.shape[1] == x.width, "weight must be 2-D [out, in] with in == x width");
    if (in[bias_in] >= 0) {
      const WeightInfo& b = in_weight(in[bias_in]);
      vector_weight(b, w.shape[0], "bias");
      expect(b.dtype == w.dtype, "bias must have the weight's dtype");
    }
    return x;
  }

  // Each activation inside its rows' arena: `tokens` values in the token arena (arena.floats_per_token floats per
  // token), `logit_rows` values in the logits arena (arena.logit_floats_per_row floats per row).
  void check_arena_ranges() const {
    for (const PlanValue& v : plan_.values) {
      if (v.is_weight()) continue;
      const bool logits = v.act.rows == RowsKind::logit_rows;
      const int64_t width = logits ? plan_.arena_logit_floats_per_row : plan_.arena_floats_per_token;
      if (v.act.arena_offset + v.act.width > width) {
        bad(value_label(v) + " occupies " + (logits ? "logits" : "token") + " arena floats [" + std::to_string(v.act.arena_offset) + ", " +
            std::to_string(v.act.arena_offset + v.act.width) + ") beyond arena." + (logits ? "logit_floats_per_row " : "floats_per_token ") +
            std::to_string(width));
      }
    }
  }

  static bool is_float(DType t) { return t == DType::f32 || t == DType::f16 || t == DType::bf16; }

  void check_node(int index) {
    node_ = index;
    const PlanNode& n = plan_.nodes[index];
    const auto& in = n.inputs;
    const ModelDims& m = plan_.model;
    // Codes and indices are only read by the quantized op, which checks its own operands.
    if (n.op != OpId::linear_q) {
      for (int32_t id : in) {
        if (id >= 0 && value(id).is_weight() && !is_float(value(id).weight.dtype)) {
          bad(value_label(value(id)) + " has dtype " + dtype_name(value(id).weight.dtype) + ", which only linear_q reads");
        }
      }
    }
    switch (n.op) {
      case OpId::embedding: {
        const WeightInfo& table = in_weight(in[0]);
        expect(table.shape.size() == 2, "table must be 2-D [vocab, width]");
        expect(table.shape[0] >= m.vocab_size, "table has fewer rows than model.vocab_size");
        const ActivationInfo& out = out_act(n.outputs[0]);
        expect(out.rows == RowsKind::tokens && out.width == table.shape[1], "out must be [tokens, table width]");
        break;
      }
      case OpId::pos_embedding: {
        const auto& a = std::get<PosEmbeddingAttrs>(n.attrs);
        const ActivationInfo& x = in_act(in[0]);
        const WeightInfo& table = in_weight(in[1]);
        expect(x.rows == RowsKind::tokens, "x must have token rows");
        expect(table.shape.size() == 2 && table.shape[1] == x.width, "table must be [positions, x width]");
        expect(a.offset >= 0 && int64_t{plan_.limits.max_seq_len} - 1 + a.offset < table.shape[0],
               "table has too few rows for limits.max_seq_len plus offset");
        same_shape(x, out_act(n.outputs[0]), "x and out");
        break;
      }
      case OpId::rms_norm:
      case OpId::layer_norm: {
        const ActivationInfo& x = in_act(in[0]);
        const WeightInfo& w = in_weight(in[1]);
        vector_weight(w, x.width, "weight");
        if (n.op == OpId::layer_norm && in[2] >= 0) {
          const WeightInfo& b = in_weight(in[2]);
          vector_weight(b, x.width, "bias");
          expect(b.dtype == w.dtype, "bias must have the weight's dtype");
        }
        same_shape(x, out_act(n.outputs[0]), "x and out");
        break;
      }
      case OpId::add_rms_norm:
      case OpId::add_layer_norm: {
        const ActivationInfo& a = in_act(in[0]);
        const ActivationInfo& b = in_act(in[1]);
        same_shape(a, b, "both inputs");
        const WeightInfo& w = in_weight(in[2]);
        vector_weight(w, a.width, "weight");
        if (n.op == OpId::add_layer_norm && in[3] >= 0) {
          const WeightInfo& bias = in_weight(in[3]);
          vector_weight(bias, a.width, "bias");
          expect(bias.dtype == w.dtype, "bias must have the weight's dtype");
        }
        expect(n.outputs.size() == 2 && n.outputs[0] != n.outputs[1], "sum and out must be two distinct outputs");
        same_shape(a, out_act(n.outputs[0]), "inputs and sum");
        same_shape(a, out_act(n.outputs[1]), "inputs and out");
        break;
      }
      case OpId::linear:
      case OpId::linear_act: {
        const ActivationInfo& x = linear_operands(n, 2);
        const WeightInfo& w = in_weight(in[1]);
        const ActivationInfo& out = out_act(n.outputs[0]);
        expect(out.rows == x.rows && out.width == w.shape[0], "out must be [x rows, weight rows]");
        break;
      }
      case OpId::linear_rope: {  // linear, then heads [0, num_heads) of out rotate
        const auto& a = std::get<RopeAttrs>(n.attrs);
        const ActivationInfo& x = linear_operands(n, 3);
        const WeightInfo& w = in_weight(in[1]);
        expect(x.rows == RowsKind::tokens, "x must have token rows (rope reads each token's position)");
        expect(a.num_heads > 0 && a.head_dim > 0 && int64_t{a.num_heads} * a.head_dim <= w.shape[0],
               "num_heads and head_dim must be positive, num_heads*head_dim at most the weight rows");
        expect(a.rotary_dim > 0 && a.rotary_dim % 2 == 0 && a.rotary_dim <= a.head_dim, "rotary_dim must be even, in (0, head_dim]");
        const WeightInfo& inv_freq = in_weight(in[2]);
        expect(inv_freq.dtype == DType::f32, "inv_freq must be f32");
        vector_weight(inv_freq, a.rotary_dim / 2, "inv_freq");
        const ActivationInfo& out = out_act(n.outputs[0]);
        expect(out.rows == x.rows && out.width == w.shape[0], "out must be [x rows, weight rows]");
        break;
      }
      case OpId::linear_q: {
        const auto& a = std::get<LinearQAttrs>(n.attrs);
        const ActivationInfo& x = in_act(in[0]);
        const WeightInfo& q = in_weight(in[1]);
        expect(q.dtype == DType::i8 || q.dtype == DType::u4 || q.dtype == DType::f8e4m3, "qweight must be i8, u4 or f8e4m3");
        expect(q.shape.size() == 2 && q.shape[1] == x.width, "qweight must be 2-D [out, in] with in == x width");
        const int64_t out_f = q.shape[0], in_f = q.shape[1];
        expect(a.group_size > 0 && in_f % a.group_size == 0, "group_size must divide in_features");
        expect(q.dtype != DType::u4 || a.group_size % 2 == 0, "u4 groups must hold an even number of columns");
        expect(a.activation_bits == 0 || (a.activation_bits == 8 && q.dtype != DType::f8e4m3), "activation_bits must be 0, or 8 with i8/u4 codes");
        const int64_t groups = in_f / a.group_size;
        for (int slot : {2, 3}) {
          if (in[slot] < 0) continue;
          const WeightInfo& s = in_weight(in[slot]);
          expect(s.dtype == DType::f32 && s.shape.size() == 2 && s.shape[0] == out_f && s.shape[1] == groups,
                 std::string(slot == 2 ? "scales" : "offsets") + " must be f32 [out, in/group_size]");
        }
        if (in[4] >= 0) {
          const WeightInfo& b = in_weight(in[4]);
          vector_weight(b, out_f, "bias");
          expect(is_float(b.dtype), "bias must be a float weight");
        }
        if (in[5] >= 0) {
          const WeightInfo& p = in_weight(in[5]);
          vector_weight(p, in_f, "perm");
          expect(p.dtype == DType::i32 && !p.is_dummy(), "perm must be a stored i32 weight");
        }
        if (in[6] >= 0) {
          const WeightInfo& s = in_weight(in[6]);
          vector_weight(s, in_f, "input_scale");
          expect(s.dtype == DType::f32, "input_scale must be f32");
        }
        const ActivationInfo& out = out_act(n.outputs[0]);
        expect(out.rows == x.rows && out.width == out_f, "out must be [x rows, qweight rows]");
        break;
      }
      case OpId::rope: {
        const auto& a = std::get<RopeAttrs>(n.attrs);
        const ActivationInfo& x = in_act(in[0]);
        const WeightInfo& inv_freq = in_weight(in[1]);
        expect(a.num_heads > 0 && a.head_dim > 0, "num_heads and head_dim must be positive");
        expect(x.rows == RowsKind::tokens && x.width == int64_t{a.num_heads} * a.head_dim, "x must be [tokens, num_heads*head_dim]");
        expect(a.rotary_dim > 0 && a.rotary_dim % 2 == 0 && a.rotary_dim <= a.head_dim, "rotary_dim must be even, in (0, head_dim]");
        expect(inv_freq.dtype == DType::f32, "inv_freq must be f32");
        vector_weight(inv_freq, a.rotary_dim / 2, "inv_freq");
        same_shape(x, out_act(n.outputs[0]), "x and out");
        break;
      }
      case OpId::attention: {
        const auto& a = std::get<AttentionAttrs>(n.attrs);
        const KvCacheSpec& kv = plan_.kv;
        expect(a.num_heads > 0 && a.num_kv_heads > 0 && a.head_dim > 0 && a.num_heads % a.num_kv_heads == 0,
               "num_heads must be a positive multiple of num_kv_heads, head_dim positive");
        expect(a.layer >= 0 && a.layer < kv.num_layers, "layer is outside kv_cache.num_layers");
        expect(a.num_kv_heads == kv.num_kv_heads && a.head_dim == kv.head_dim, "num_kv_heads/head_dim differ from kv_cache's");
        expect(a.sliding_window >= 0, "sliding_window must be >= 0");
        const ActivationInfo& q = in_act(in[0]);
        const ActivationInfo& k = in_act(in[1]);
        const ActivationInfo& v = in_act(in[2]);
        int64_t qw = int64_t{a.num_heads} * a.head_dim, kvw = int64_t{a.num_kv_heads} * a.head_dim;
        expect(q.rows == RowsKind::tokens && q.width == qw, "q must be [tokens, num_heads*head_dim]");
        expect(k.rows == RowsKind::tokens && k.width == kvw, "k must be [tokens, num_kv_heads*head_dim]");
        expect(v.rows == RowsKind::tokens && v.width == kvw, "v must be [tokens, num_kv_heads*head_dim]");
        if (in[3] >= 0) {
          const WeightInfo& slopes = in_weight(in[3]);
          expect(slopes.dtype == DType::f32, "alibi_slopes must be f32");
          vector_weight(slopes, a.num_heads, "alibi_slopes");
        }
        const ActivationInfo& out = out_act(n.outputs[0]);
        expect(out.rows == RowsKind::tokens && out.width == qw, "out must be [tokens, num_heads*head_dim]");
        break;
      }
      case OpId::add:
      case OpId::mul:
      case OpId::gated_activation: {
        const ActivationInfo& a = in_act(in[0]);
        const ActivationInfo& b = in_act(in[1]);
        same_shape(a, b, "both inputs");
        same_shape(a, out_act(n.outputs[0]), "inputs and out");
        break;
      }
      case OpId::activation: {
        const ActivationInfo& x = in_act(in[0]);
        same_shape(x, out_act(n.outputs[0]), "x and out");
        break;
      }
      case OpId::split: {
        const auto& a = std::get<SplitAttrs>(n.attrs);
        const ActivationInfo& x = in_act(in[0]);
        expect(!a.sizes.empty() && a.sizes.size() == n.outputs.size(), "sizes must list one width per output");
        int64_t total = 0;
        for (size_t i = 0; i < a.sizes.size(); ++i) {
          expect(a.sizes[i] > 0, "sizes must be positive");
          total += a.sizes[i];
          const ActivationInfo& out = out_act(n.outputs[i]);
          expect(out.rows == x.rows && out.width == a.sizes[i], "output " + std::to_string(i) + " must be [x rows, sizes[" + std::to_string(i) + "]]");
        }
        expect(total == x.width, "sizes must add up to x width");
        break;
      }
      case OpId::select_rows: {
        const ActivationInfo& x = in_act(in[0]);
        const ActivationInfo& out = out_act(n.outputs[0]);
        expect(x.rows == RowsKind::tokens, "x must have token rows");
        expect(out.rows == RowsKind::logit_rows && out.width == x.width, "out must be [logit_rows, x width]");
        break;
      }
      case OpId::all_reduce: {
        const ActivationInfo& x = in_act(in[0]);
        expect(plan_.mapping.tp > 1, "all_reduce needs tensor-parallel ranks (mapping.tp > 1)");
        same_shape(x, out_act(n.outputs[0]), "x and out");
        break;
      }
      case OpId::all_gather: {
        const auto& a = std::get<AllGatherAttrs>(n.attrs);
        const ActivationInfo& x = in_act(in[0]);
        const ActivationInfo& out = out_act(n.outputs[0]);
        const RankMapping& m = plan_.mapping;
        expect(m.tp > 1 && static_cast<int32_t>(a.sizes.size()) == m.tp, "sizes must have one entry per tensor-parallel rank");
        int64_t total = 0;
        for (int32_t s : a.sizes) {
          expect(s > 0, "sizes must be positive");
          total += s;
        }
        expect(a.sizes[m.tp_rank] == x.width, "x width must be sizes[tp_rank]");
        expect(out.rows == x.rows && out.width == total, "out must be [x rows, sum of sizes]");
        break;
      }
      case OpId::send:
      case OpId::recv: {
        const auto& a = std::get<PeerAttrs>(n.attrs);
        expect(a.peer >= 0 && a.peer < plan_.mapping.world_size && a.peer != plan_.mapping.rank, "peer must be another rank of the world");
        if (n.op == OpId::send) {
          in_act(in[0]);
        } else {
          const ActivationInfo& out = out_act(n.outputs[0]);
          expect(out.rows == a.rows && out.width == a.width, "out must be [rows, width] as the attributes say");
        }
        break;
      }
      case OpId::embedding_shard: {
        const auto& a = std::get<EmbeddingShardAttrs>(n.attrs);
        const WeightInfo& table = in_weight(in[0]);
        expect(table.shape.size() == 2, "table must be 2-D [part, width]");
        expect(a.vocab_start >= 0 && a.vocab_start + table.shape[0] <= m.vocab_size, "table rows must lie inside model.vocab_size");
        const ActivationInfo& out = out_act(n.outputs[0]);
        expect(out.rows == RowsKind::tokens && out.width == table.shape[1], "out must be [tokens, table width]");
        break;
      }
      default: bad("op not handled by the runtime");
    }
  }

  void check_logits() {
    node_ = -1;
    if (plan_.logits_value == -1) {
      if (plan_.mapping.rank == 0) bad("outputs.logits is -1 (none), which only ranks other than 0 may have");
      return;
    }
    const PlanValue& v = value(plan_.logits_value);
    std::string label = "outputs.logits (" + value_label(v) + ")";
    if (v.is_weight()) bad(label + " must be an activation");
    if (v.act.rows != RowsKind::logit_rows || v.act.width != plan_.model.vocab_size) {
      bad(label + " must be [logit_rows, model.vocab_size]");
    }
    if (def_[v.id] < 0) bad(label + " is never written");
    last_use_[v.id] = static_cast<int>(plan_.nodes.size());  // read by the runtime after the last node
  }

  // Two activations of the same arena whose lifetimes overlap must not share its floats (no op works in place
  // either: an output is live at the node that reads its inputs). The token and logits arenas are separate buffers.
  void check_lifetimes() const {
    check_lifetimes(RowsKind::tokens, "token arena");
    check_lifetimes(RowsKind::logit_rows, "logits arena");
  }
  void check_lifetimes(RowsKind rows, const char* arena) const {
    struct Live { int32_t id; int def, last; int64_t lo, hi; };
    std::vector<Live> live;
    for (const PlanValue& v : plan_.values) {
      if (v.is_weight() || v.act.rows != rows || def_[v.id] < 0) continue;
      live.push_back({v.id, def_[v.id], last_use_[v.id], v.act.arena_offset, v.act.arena_offset + v.act.width});
    }
    std::sort(live.begin(), live.end(), [](const Live& a, const Live& b) { return a.lo < b.lo; });
    for (size_t i = 0; i < live.size(); ++i) {
      for (size_t j = i + 1; j < live.size() && live[j].lo < live[i].hi; ++j) {
        const Live& a = live[i];
        const Live& b = live[j];
        if (a.def <= b.last && b.def <= a.last) {
          fail(LLMC_ERR_BAD_ENGINE, where_ + ": " + value_label(plan_.values[a.id]) + " and " + value_label(plan_.values[b.id]) +
                                        " share " + arena + " floats while both are live");
        }
      }
    }
  }
};

}  // namespace

void validate_plan(const Plan& plan, const std::string& where) { PlanChecker(plan, where).run(); }

void validate_weight_indices(const Plan& plan, const std::string& where) {
  for (size_t k = 0; k < plan.nodes.size(); ++k) {
    const PlanNode& n = plan.nodes[k];
    if (n.op != OpId::linear_q || n.inputs[5] < 0) continue;
    // perm: every index in range and each once, since the kernel gathers x through it.
    const WeightInfo& p = plan.values[n.inputs[5]].weight;
    const int64_t in_f = p.shape[0];
    std::vector<bool> seen(size_t(in_f), false);
    const int32_t* idx = static_cast<const int32_t*>(p.data);
    for (int64_t i = 0; i < in_f; ++i) {
      if (idx[i] < 0 || idx[i] >= in_f || seen[size_t(idx[i])]) {
        fail(LLMC_ERR_BAD_ENGINE, where + ": nodes[" + std::to_string(k) + "] (linear_q \"" + n.name + "\"): perm is not a permutation of [0, " + std::to_string(in_f) + ")");
      }
      seen[size_t(idx[i])] = true;
    }
  }
}

}  // namespace llmc::runtime
