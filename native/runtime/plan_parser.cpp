// Plan JSON -> Plan (docs/engine-format.md, "Plan JSON"). Only structure and types are checked here; whether
// the shapes fit together is validate_plan's job (plan_validator.cpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "json_fields.h"
#include "plan.h"

namespace llmc::runtime {

namespace {

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxOffset = int64_t{1} << 52;  // offsets and sizes beyond 4 PiB are certainly corrupt

// Reads a node's "attrs" object: typed getters with defaults, then finish() refuses attributes the op does not
// have (with a matching schema hash that can only be a writer bug, and silently ignoring it could change the math).
class AttrReader {
 public:
  AttrReader(const JsonFields& f, const json::Value* attrs, std::string path)
      : f_(f), attrs_(attrs), path_(std::move(path)) {
    if (attrs_ != nullptr && !attrs_->is_object()) {
      f_.fail_at(path_, std::string("expected an object, found ") + json::type_name(attrs_->type()));
    }
  }

  float get_float(const char* name, const float* fallback) {
    const json::Value* v = take(name, fallback != nullptr);
    if (v == nullptr) return *fallback;
    if (!v->is_number()) f_.fail_at(JsonFields::join(path_, name), "expected a number");
    double d = v->as_double();
    if (!std::isfinite(static_cast<float>(d))) f_.fail_at(JsonFields::join(path_, name), "not a finite float");
    return static_cast<float>(d);
  }
  float get_float(const char* name) { return get_float(name, nullptr); }
  float get_float_or(const char* name, float fallback) { return get_float(name, &fallback); }

  int32_t get_int(const char* name, const int32_t* fallback) {
    const json::Value* v = take(name, fallback != nullptr);
    if (v == nullptr) return *fallback;
    return static_cast<int32_t>(f_.as_integer(*v, JsonFields::join(path_, name), -kMaxInt32, kMaxInt32));
  }
  int32_t get_int(const char* name) { return get_int(name, nullptr); }
  int32_t get_int_or(const char* name, int32_t fallback) { return get_int(name, &fallback); }

  std::vector<int32_t> get_int_array(const char* name) {
    const json::Value* v = take(name, false);
    std::string p = JsonFields::join(path_, name);
    if (!v->is_array()) f_.fail_at(p, "expected an array of integers");
    std::vector<int32_t> out;
    for (size_t i = 0; i < v->as_array().size(); ++i) {
      out.push_back(static_cast<int32_t>(f_.as_integer(v->as_array()[i], JsonFields::index(p, i), -kMaxInt32, kMaxInt32)));
    }
    return out;
  }

  template <typename Enum>
  Enum get_enum(const char* name, bool (*from_name)(const char*, Enum*)) {
    const json::Value* v = take(name, false);
    std::string p = JsonFields::join(path_, name);
    if (!v->is_string()) f_.fail_at(p, "expected an enum name (a string)");
    Enum out{};
    if (!from_name(v->as_string().c_str(), &out)) f_.fail_at(p, "unknown value \"" + v->as_string() + "\"");
    return out;
  }

  void finish() const {
    if (attrs_ == nullptr) return;
    for (const auto& kv : attrs_->as_object()) {
      if (used_.count(kv.first) == 0) f_.fail_at(path_, "unknown attribute \"" + kv.first + "\" for this op");
    }
  }

 private:
  const json::Value* take(const char* name, bool optional) {
    used_.insert(name);
    const json::Value* v = attrs_ == nullptr ? nullptr : attrs_->find(name);
    if (v == nullptr && !optional) f_.fail_at(path_, std::string("missing required attribute \"") + name + "\"");
    return v;
  }

  const JsonFields& f_;
  const json::Value* attrs_;
  std::string path_;
  std::set<std::string> used_;
};

NodeAttrs parse_attrs(OpId op, AttrReader& a) {
  switch (op) {
    case OpId::embedding: return EmbeddingAttrs{a.get_float_or("scale", 1.0f)};
    case OpId::pos_embedding: return PosEmbeddingAttrs{a.get_int_or("offset", 0)};
    case OpId::rms_norm:
    case OpId::add_rms_norm: {
      RmsNormAttrs r;
      r.eps = a.get_float("eps");
      r.weight_offset = a.get_float_or("weight_offset", 0.0f);
      return r;
    }
    case OpId::layer_norm:
    case OpId::add_layer_norm: return LayerNormAttrs{a.get_float("eps")};
    case OpId::rope:
    case OpId::linear_rope: {
      RopeAttrs r;
      r.num_heads = a.get_int("num_heads");
      r.head_dim = a.get_int("head_dim");
      r.rotary_dim = a.get_int("rotary_dim");
      r.style = a.get_enum<RopeStyle>("style", &rope_style_from_name);
      return r;
    }
    case OpId::attention: {
      AttentionAttrs r;
      r.layer = a.get_int("layer");
      r.num_heads = a.get_int("num_heads");
      r.num_kv_heads = a.get_int("num_kv_heads");
      r.head_dim = a.get_int("head_dim");
      r.scale = a.get_float("scale");
      r.sliding_window = a.get_int_or("sliding_window", 0);
      return r;
    }
    case OpId::activation:
    case OpId::linear_act:
    case OpId::gated_activation: return ActivationAttrs{a.get_enum<ActivationKind>("kind", &activation_kind_from_name)};
    case OpId::split: return SplitAttrs{a.get_int_array("sizes")};
    case OpId::linear_q: {
      LinearQAttrs r;
      r.group_size = a.get_int("group_size");
      r.activation_bits = a.get_int_or("activation_bits", 0);
      return r;
    }
    case OpId::all_gather: return AllGatherAttrs{a.get_int_array("sizes")};
    case OpId::send: return PeerAttrs{a.get_int("peer"), 0, RowsKind::tokens};
    case OpId::recv: {
      PeerAttrs r{a.get_int("peer"), a.get_int("width"), RowsKind::tokens};
      r.rows = a.get_enum<RowKind>("rows", &row_kind_from_name) == RowKind::logit_rows ? RowsKind::logit_rows : RowsKind::tokens;
      return r;
    }
    case OpId::embedding_shard: return EmbeddingShardAttrs{a.get_float_or("scale", 1.0f), a.get_int("vocab_start")};
    default: return std::monostate{};
  }
}

std::vector<int32_t> parse_id_list(const JsonFields& f, const json::Value& node, const std::string& path, const char* key) {
  const json::Value& arr = f.array(node, path, key);
  std::vector<int32_t> ids;
  for (size_t i = 0; i < arr.as_array().size(); ++i) {
    ids.push_back(static_cast<int32_t>(f.as_integer(arr.as_array()[i], JsonFields::index(JsonFields::join(path, key), i), -1, kMaxInt32)));
  }
  return ids;
}

PlanNode parse_node(const JsonFields& f, const json::Value& jn, const std::string& path) {
  PlanNode n;
  std::string op_name = f.string(jn, path, "op");
  n.op = op_id_from_name(op_name.c_str());
  if (n.op == OpId::invalid) {
    fail(LLMC_ERR_VERSION, "engine plan uses op \"" + op_name + "\" (" + path + ") which this runtime (op schema " +
                               kSchemaHash + ") does not know; rebuild the engine with this llmc version");
  }
  int64_t op_id = f.integer(jn, path, "op_id", 0, kMaxInt32);
  if (op_id != static_cast<int64_t>(n.op)) {
    f.fail_at(JsonFields::join(path, "op_id"), "op_id " + std::to_string(op_id) + " does not match op \"" + op_name +
                                                   "\" (id " + std::to_string(static_cast<int>(n.op)) + ")");
  }
  if (const json::Value* name = jn.find("name"); name != nullptr && name->is_string()) n.name = name->as_string();

  OpArity ar = op_arity(n.op);  // generated from schema/ops.json
  n.inputs = parse_id_list(f, jn, path, "inputs");
  if (static_cast<int>(n.inputs.size()) < ar.required_inputs || static_cast<int>(n.inputs.size()) > ar.inputs) {
    f.fail_at(JsonFields::join(path, "inputs"), op_name + " takes " + std::to_string(ar.required_inputs) +
                                                    (ar.inputs != ar.required_inputs ? " to " + std::to_string(ar.inputs) : std::string()) +
                                                    " inputs, found " + std::to_string(n.inputs.size()));
  }
  for (int i = 0; i < ar.required_inputs; ++i) {
    if (n.inputs[i] < 0) f.fail_at(JsonFields::join(path, "inputs"), "required input " + std::to_string(i) + " is absent (-1)");
  }
  n.inputs.resize(ar.inputs, -1);  // absent optional inputs become -1

  n.outputs = parse_id_list(f, jn, path, "outputs");
  for (int32_t id : n.outputs) {
    if (id < 0) f.fail_at(JsonFields::join(path, "outputs"), "an output id is -1");
  }
  if (ar.outputs >= 0 && static_cast<int>(n.outputs.size()) != ar.outputs) {
    f.fail_at(JsonFields::join(path, "outputs"), op_name + " has " + std::to_string(ar.outputs) + " output(s), found " +
                                                     std::to_string(n.outputs.size()));
  }
  AttrReader attrs(f, jn.find("attrs"), JsonFields::join(path, "attrs"));
  n.attrs = parse_attrs(n.op, attrs);
  attrs.finish();
  return n;
}

// A weight's "dummy" object (docs/engine-format.md). Anything this runtime does not know (another kind, another
// key) is refused as a version problem: a newer llmc wrote it, and guessing would generate other values.
DummyInit parse_dummy(const JsonFields& f, const json::Value& d, const std::string& path) {
  if (!d.is_object()) f.fail_at(path, "expected an object");
  DummyInit init;
  std::string kind = f.string(d, path, "kind");
  if (kind == "normal") init.kind = DummyInit::Kind::normal;
  else if (kind == "ones") init.kind = DummyInit::Kind::ones;
  else if (kind == "const") init.kind = DummyInit::Kind::constant;
  else fail(LLMC_ERR_VERSION, "engine plan: " + path + ".kind \"" + kind + "\" is a dummy-weight kind this runtime does not know (normal, ones, const); rebuild the engine with this llmc version");
  for (const auto& kv : d.as_object()) {
    if (kv.first != "kind" && kv.first != "seed" && kv.first != "std" && kv.first != "value") {
      fail(LLMC_ERR_VERSION, "engine plan: " + path + " has the field \"" + kv.first + "\" which this runtime does not know; rebuild the engine with this llmc version");
    }
  }
  init.seed = static_cast<uint64_t>(f.integer(d, path, "seed", 0, kMaxOffset));
  auto finite = [&](const char* key) {
    double x = f.number(d, path, key);
    if (!std::isfinite(static_cast<float>(x))) f.fail_at(JsonFields::join(path, key), "not a finite float");
    return static_cast<float>(x);
  };
  if (init.kind == DummyInit::Kind::constant) {
    init.value = finite("value");
  } else {
    init.std = finite("std");
    if (init.std < 0) f.fail_at(JsonFields::join(path, "std"), "must be >= 0");
  }
  return init;
}

PlanValue parse_value(const JsonFields& f, const json::Value& jv, const std::string& path, size_t index) {
  PlanValue v;
  v.id = static_cast<int32_t>(f.integer(jv, path, "id", 0, kMaxInt32));
  if (static_cast<size_t>(v.id) != index) {
    f.fail_at(JsonFields::join(path, "id"), "value ids must equal their index in \"values\" (found " +
                                                std::to_string(v.id) + ")");
  }
  if (const json::Value* name = jv.find("name"); name != nullptr && name->is_string()) v.name = name->as_string();
  std::string kind = f.string(jv, path, "kind");
  if (kind == "weight") {
    v.kind = PlanValue::Kind::weight;
    std::string dt = f.string(jv, path, "dtype");
    if (!dtype_from_name(dt.c_str(), &v.weight.dtype)) f.fail_at(JsonFields::join(path, "dtype"), "unknown weight dtype \"" + dt + "\"");
    const json::Value& shape = f.array(jv, path, "shape");
    if (shape.as_array().empty() || shape.as_array().size() > 2) {
      f.fail_at(JsonFields::join(path, "shape"), "weights are 1-D or 2-D");
    }
    for (size_t i = 0; i < shape.as_array().size(); ++i) {
      v.weight.shape.push_back(f.as_integer(shape.as_array()[i], JsonFields::index(JsonFields::join(path, "shape"), i), 1, kMaxOffset));
    }
    if (const json::Value* dummy = jv.find("dummy"); dummy != nullptr) {
      v.weight.dummy = parse_dummy(f, *dummy, JsonFields::join(path, "dummy"));
      if (jv.find("offset") != nullptr) f.fail_at(JsonFields::join(path, "offset"), "a dummy weight has no bytes in the data section");
    } else {
      v.weight.offset = static_cast<uint64_t>(f.integer(jv, path, "offset", 0, kMaxOffset));
    }
    v.weight.nbytes = static_cast<uint64_t>(f.integer(jv, path, "nbytes", 0, kMaxOffset));
  } else if (kind == "activation") {
    v.kind = PlanValue::Kind::activation;
    std::string rows = f.string(jv, path, "rows");
    if (rows == "tokens") v.act.rows = RowsKind::tokens;
    else if (rows == "logit_rows") v.act.rows = RowsKind::logit_rows;
    else f.fail_at(JsonFields::join(path, "rows"), "expected \"tokens\" or \"logit_rows\", found \"" + rows + "\"");
    v.act.width = f.integer(jv, path, "width", 1, kMaxInt32);
    v.act.arena_offset = f.integer(jv, path, "arena_offset", 0, kMaxOffset);
  } else {
    f.fail_at(JsonFields::join(path, "kind"), "expected \"weight\" or \"activation\", found \"" + kind + "\"");
  }
  return v;
}

}  // namespace

int64_t PlanValue::numel() const {
  int64_t n = 1;
  for (int64_t d : weight.shape) n *= d;
  return n;
}

uint64_t weight_bytes(DType t, const std::vector<int64_t>& shape) {
  const uint64_t cols = shape.empty() ? 0 : uint64_t(shape.back());
  const uint64_t rows = shape.size() == 2 ? uint64_t(shape[0]) : 1;
  return dtype_matrix_bytes(t, rows, cols);
}

Plan parse_plan(const json::Value& root, const std::string& where) {
  JsonFields f(LLMC_ERR_BAD_ENGINE, where);
  Plan plan;
  plan.format_version = f.integer(root, "", "format_version", 0, kMaxInt32);
  plan.schema_hash = f.string(root, "", "schema_hash");

  const json::Value& m = f.object(root, "", "model");
  plan.model.vocab_size = static_cast<int32_t>(f.integer(m, "model", "vocab_size", 1, kMaxInt32));
  plan.model.hidden_size = static_cast<int32_t>(f.integer(m, "model", "hidden_size", 1, kMaxInt32));
  plan.model.num_layers = static_cast<int32_t>(f.integer(m, "model", "num_layers", 0, kMaxInt32));
  plan.model.num_heads = static_cast<int32_t>(f.integer(m, "model", "num_heads", 0, kMaxInt32));
  plan.model.num_kv_heads = static_cast<int32_t>(f.integer(m, "model", "num_kv_heads", 0, kMaxInt32));
  plan.model.head_dim = static_cast<int32_t>(f.integer(m, "model", "head_dim", 0, kMaxInt32));

  const json::Value& l = f.object(root, "", "limits");
  plan.limits.max_batch_size = static_cast<int32_t>(f.integer(l, "limits", "max_batch_size", 1, 1 << 20));
  plan.limits.max_seq_len = static_cast<int32_t>(f.integer(l, "limits", "max_seq_len", 1, 1 << 30));
  plan.limits.max_num_tokens = static_cast<int32_t>(f.integer(l, "limits", "max_num_tokens", 1, 1 << 30));
  // The logits arena's rows: at least a decode step's (one per sequence), at most a step's tokens.
  plan.limits.max_logit_rows = static_cast<int32_t>(
      f.integer(l, "limits", "max_logit_rows", std::min(plan.limits.max_batch_size, plan.limits.max_num_tokens), plan.limits.max_num_tokens));

  const json::Value& kv = f.object(root, "", "kv_cache");
  plan.kv.num_layers = static_cast<int32_t>(f.integer(kv, "kv_cache", "num_layers", 0, 1 << 20));
  plan.kv.num_kv_heads = static_cast<int32_t>(f.integer(kv, "kv_cache", "num_kv_heads", 0, 1 << 20));
  plan.kv.head_dim = static_cast<int32_t>(f.integer(kv, "kv_cache", "head_dim", 0, 1 << 20));
  plan.kv.block_size = static_cast<int32_t>(f.integer(kv, "kv_cache", "block_size", 1, 1 << 20));
  std::string kv_dtype = f.string(kv, "kv_cache", "dtype");
  if (!cpu::kv_dtype_from_name(kv_dtype.c_str(), &plan.kv.dtype)) {
    fail(LLMC_ERR_UNSUPPORTED, where + ": kv_cache.dtype \"" + kv_dtype +
                                   "\" is not supported by this runtime (" + kKvDTypeNames +
                                   "); rebuild the engine with this llmc version");
  }

  const json::Value& arena = f.object(root, "", "arena");
  plan.arena_floats_per_token = f.integer(arena, "arena", "floats_per_token", 0, kMaxOffset);
  plan.arena_logit_floats_per_row = f.integer(arena, "arena", "logit_floats_per_row", 0, kMaxOffset);

  const json::Value& values = f.array(root, "", "values");
  plan.values.reserve(values.as_array().size());
  for (size_t i = 0; i < values.as_array().size(); ++i) {
    plan.values.push_back(parse_value(f, values.as_array()[i], JsonFields::index("values", i), i));
  }
  const json::Value& nodes = f.array(root, "", "nodes");
  plan.nodes.reserve(nodes.as_array().size());
  for (size_t i = 0; i < nodes.as_array().size(); ++i) {
    plan.nodes.push_back(parse_node(f, nodes.as_array()[i], JsonFields::index("nodes", i)));
  }
  const json::Value& outputs = f.object(root, "", "outputs");
  plan.logits_value = static_cast<int32_t>(f.integer(outputs, "outputs", "logits", -1, kMaxInt32));
  if (const json::Value* mp = root.find("mapping"); mp != nullptr) {
    RankMapping& r = plan.mapping;
    auto field = [&](const char* key, int64_t lo) { return static_cast<int32_t>(f.integer(*mp, "mapping", key, lo, 1 << 20)); };
    r.rank = field("rank", 0);
    r.world_size = field("world_size", 1);
    r.tp = field("tp", 1);
    r.pp = field("pp", 1);
    r.tp_rank = field("tp_rank", 0);
    r.pp_rank = field("pp_rank", 0);
    r.first_layer = field("first_layer", 0);
    r.num_layers = field("num_layers", 0);
    r.num_heads = field("num_heads", 0);
    r.num_kv_heads = field("num_kv_heads", 0);
    r.vocab_start = field("vocab_start", 0);
    r.vocab_size = field("vocab_size", 0);
    if (r.world_size != r.tp * r.pp || r.rank >= r.world_size || r.rank != r.pp_rank * r.tp + r.tp_rank || r.tp_rank >= r.tp) {
      f.fail_at("mapping", "rank " + std::to_string(r.rank) + " of " + std::to_string(r.world_size) + " does not fit tp " +
                               std::to_string(r.tp) + " x pp " + std::to_string(r.pp));
    }
  }
  return plan;
}

}  // namespace llmc::runtime
