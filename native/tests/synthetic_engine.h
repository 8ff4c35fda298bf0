// A tiny llama-like engine written straight from C++ for the runtime's self test (no compiler needed): random
// weights, a 2-layer plan in the engine format (docs/engine-format.md), optional corruptions for the loader's
// refusal tests, and a dense reference forward pass (no KV cache, no packing) to check the runtime against.
#pragma once
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "llmc/llmc.h"
#include "llmc/ops.generated.h"

namespace synth {

struct Dims {
  int vocab = 64, hidden = 32, layers = 2, heads = 4, kv_heads = 2, head_dim = 8, ffn = 48;
  int max_batch = 4, max_seq_len = 64, max_num_tokens = 32, block_size = 4;
};

// What to break when writing (defaults write a valid engine).
struct Corruption {
  bool bad_magic = false;
  uint32_t header_version = LLMC_ENGINE_FORMAT_VERSION;
  int config_format_version = LLMC_ENGINE_FORMAT_VERSION;
  std::string schema_hash = llmc::kSchemaHash;
  long truncate_to = -1;           // cut rank0.engine to this many bytes
  bool weight_outside = false;     // last weight's offset past the data section
  bool wrong_nbytes = false;       // first weight's nbytes off by 4
  std::string first_op_name;       // replaces the first node's op name (e.g. an op this runtime doesn't know)
  bool bad_plan_json = false;      // a stray comma in the plan
  bool no_config = false;          // skip config.json
  std::string plan_from, plan_to;  // replaces the first occurrence of plan_from in the plan JSON with plan_to
};

inline uint64_t next_random(uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}
// Uniform in [-scale, scale).
inline float random_float(uint64_t& s, float scale) {
  return scale * (static_cast<float>(next_random(s) >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f);
}

inline uint16_t to_bf16(float f) {  // round to nearest even
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}
inline float from_bf16(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct Layer {
  std::vector<float> attn_norm, wq, bq, wk, wv, wo, mlp_norm, w_gate, w_up, w_down;
};

// Weights in f32 (lm_head rounded through bf16, as the engine stores it).
struct Model {
  Dims d;
  std::vector<float> embed;  // [vocab, hidden]
  std::vector<Layer> layers;
  std::vector<float> inv_freq;  // [head_dim / 2]
  std::vector<float> final_norm, lm_head;  // [hidden], [vocab, hidden]
};

inline Model make_model(const Dims& d, uint64_t seed) {
  Model m;
  m.d = d;
  uint64_t s = seed * 2654435761u + 1;
  auto fill = [&](std::vector<float>& v, size_t n, float scale, float center = 0) {
    v.resize(n);
    for (float& x : v) x = center + random_float(s, scale);
  };
  const int qw = d.heads * d.head_dim, kvw = d.kv_heads * d.head_dim;
  fill(m.embed, size_t(d.vocab) * d.hidden, 1.0f);
  for (int l = 0; l < d.layers; ++l) {
    Layer L;
    fill(L.attn_norm, d.hidden, 0.2f, 1.0f);
    fill(L.wq, size_t(qw) * d.hidden, 0.4f);
    fill(L.bq, qw, 0.1f);
    fill(L.wk, size_t(kvw) * d.hidden, 0.4f);
    fill(L.wv, size_t(kvw) * d.hidden, 0.4f);
    fill(L.wo, size_t(d.hidden) * qw, 0.3f);
    fill(L.mlp_norm, d.hidden, 0.2f, 1.0f);
    fill(L.w_gate, size_t(d.ffn) * d.hidden, 0.3f);
    fill(L.w_up, size_t(d.ffn) * d.hidden, 0.3f);
    fill(L.w_down, size_t(d.hidden) * d.ffn, 0.3f);
    m.layers.push_back(L);
  }
  m.inv_freq.resize(d.head_dim / 2);
  for (int i = 0; i < d.head_dim / 2; ++i) m.inv_freq[i] = static_cast<float>(1.0 / std::pow(10000.0, 2.0 * i / d.head_dim));
  fill(m.final_norm, d.hidden, 0.2f, 1.0f);
  fill(m.lm_head, size_t(d.vocab) * d.hidden, 0.5f);
  for (float& x : m.lm_head) x = from_bf16(to_bf16(x));
  return m;
}

// ---- Engine writer ---------------------------------------------------------------------------------------------

class PlanBuilder {
 public:
  explicit PlanBuilder(int max_num_tokens) : max_num_tokens_(max_num_tokens) {}

  int weight(const std::string& name, const std::vector<float>& v, std::vector<int64_t> shape, bool bf16 = false) {
    while (data_.size() % LLMC_ENGINE_WEIGHT_ALIGN) data_.push_back(0);
    const size_t offset = data_.size();
    if (bf16) {
      for (float x : v) {
        uint16_t h = to_bf16(x);
        data_.push_back(uint8_t(h & 0xFF));
        data_.push_back(uint8_t(h >> 8));
      }
    } else {
      const uint8_t* p = reinterpret_cast<const uint8_t*>(v.data());
      data_.insert(data_.end(), p, p + v.size() * 4);
    }
    std::string sh = "[";
    for (size_t i = 0; i < shape.size(); ++i) sh += (i ? "," : "") + std::to_string(shape[i]);
    sh += "]";
    values_.push_back("{\"id\": " + std::to_string(values_.size()) + ", \"name\": \"" + name +
                      "\", \"kind\": \"weight\", \"dtype\": \"" + (bf16 ? "bf16" : "f32") + "\", \"shape\": " + sh +
                      ", \"offset\": " + std::to_string(offset) + ", \"nbytes\": " + std::to_string(v.size() * (bf16 ? 2 : 4)) + "}");
    return static_cast<int>(values_.size()) - 1;
  }

  // A fresh range of its rows' arena per activation (no reuse: the test plan doesn't need a memory planner).
  int activation(const std::string& name, int width, bool logit_rows = false) {
    int64_t& arena = logit_rows ? logit_arena_ : arena_;
    values_.push_back("{\"id\": " + std::to_string(values_.size()) + ", \"name\": \"" + name +
                      "\", \"kind\": \"activation\", \"rows\": \"" + (logit_rows ? "logit_rows" : "tokens") +
                      "\", \"width\": " + std::to_string(width) + ", \"arena_offset\": " + std::to_string(arena) + "}");
    arena += width;
    return static_cast<int>(values_.size()) - 1;
  }

  void node(const char* op, const std::string& name, std::vector<int> in, std::vector<int> out, const std::string& attrs = "{}") {
    auto list = [](const std::vector<int>& v) {
      std::string s = "[";
      for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
      return s + "]";
    };
    nodes_.push_back("{\"op\": \"" + std::string(op) + "\", \"op_id\": " + std::to_string(int(llmc::op_id_from_name(op))) +
                     ", \"name\": \"" + name + "\", \"inputs\": " + list(in) + ", \"outputs\": " + list(out) + ", \"attrs\": " + attrs + "}");
  }

  std::vector<std::string> values_, nodes_;
  std::vector<uint8_t> data_;
  int64_t arena_ = 0;        // token arena floats per token
  int64_t logit_arena_ = 0;  // logits arena floats per row
  int max_num_tokens_;
};

inline std::string build_plan(const Model& m, PlanBuilder& b) {
  const Dims& d = m.d;
  const int qw = d.heads * d.head_dim, kvw = d.kv_heads * d.head_dim;
  const std::string eps = "{\"eps\": 1e-05}";
  int embed = b.weight("embed", m.embed, {d.vocab, d.hidden});
  int inv_freq = b.weight("inv_freq", m.inv_freq, {d.head_dim / 2});
  int x = b.activation("embed.out", d.hidden);
  b.node("embedding", "embed", {embed}, {x}, "{\"scale\": 1.0}");
  for (int l = 0; l < d.layers; ++l) {
    const Layer& L = m.layers[l];
    const std::string p = "l" + std::to_string(l) + ".";
    int attn_norm = b.weight(p + "attn_norm", L.attn_norm, {d.hidden});
    int wq = b.weight(p + "wq", L.wq, {qw, d.hidden}), bq = b.weight(p + "bq", L.bq, {qw});
    int wk = b.weight(p + "wk", L.wk, {kvw, d.hidden}), wv = b.weight(p + "wv", L.wv, {kvw, d.hidden});
    int wo = b.weight(p + "wo", L.wo, {d.hidden, qw});
    int mlp_norm = b.weight(p + "mlp_norm", L.mlp_norm, {d.hidden});
    int wg = b.weight(p + "w_gate", L.w_gate, {d.ffn, d.hidden}), wu = b.weight(p + "w_up", L.w_up, {d.ffn, d.hidden});
    int wd = b.weight(p + "w_down", L.w_down, {d.hidden, d.ffn});

    int h = b.activation(p + "attn_norm", d.hidden);
    b.node("rms_norm", p + "attn_norm", {x, attn_norm}, {h}, eps);
    int q = b.activation(p + "q", qw), k = b.activation(p + "k", kvw), v = b.activation(p + "v", kvw);
    b.node("linear", p + "q", {h, wq, bq}, {q});
    b.node("linear", p + "k", {h, wk}, {k});
    b.node("linear", p + "v", {h, wv, -1}, {v});
    int qr = b.activation(p + "q_rope", qw), kr = b.activation(p + "k_rope", kvw);
    auto rope_attrs = [&](int heads) {
      return "{\"num_heads\": " + std::to_string(heads) + ", \"head_dim\": " + std::to_string(d.head_dim) +
             ", \"rotary_dim\": " + std::to_string(d.head_dim) + ", \"style\": \"neox\"}";
    };
    b.node("rope", p + "q_rope", {q, inv_freq}, {qr}, rope_attrs(d.heads));
    b.node("rope", p + "k_rope", {k, inv_freq}, {kr}, rope_attrs(d.kv_heads));
    int a = b.activation(p + "attn", qw);
    char scale[32];
    std::snprintf(scale, sizeof scale, "%.9g", 1.0 / std::sqrt(double(d.head_dim)));
    b.node("attention", p + "attn", {qr, kr, v}, {a},
           "{\"layer\": " + std::to_string(l) + ", \"num_heads\": " + std::to_string(d.heads) + ", \"num_kv_heads\": " +
               std::to_string(d.kv_heads) + ", \"head_dim\": " + std::to_string(d.head_dim) + ", \"scale\": " + scale + "}");
    int o = b.activation(p + "o", d.hidden);
    b.node("linear", p + "o", {a, wo}, {o});
    int x1 = b.activation(p + "resid1", d.hidden);
    b.node("add", p + "resid1", {x, o}, {x1});
    int h2 = b.activation(p + "mlp_norm", d.hidden);
    b.node("rms_norm", p + "mlp_norm", {x1, mlp_norm}, {h2}, eps);
    int g = b.activation(p + "gate", d.ffn), u = b.activation(p + "up", d.ffn);
    b.node("linear", p + "gate", {h2, wg}, {g});
    b.node("linear", p + "up", {h2, wu}, {u});
    int ga = b.activation(p + "gate_act", d.ffn), mm = b.activation(p + "gated", d.ffn);
    b.node("activation", p + "gate_act", {g}, {ga}, "{\"kind\": \"silu\"}");
    b.node("mul", p + "gated", {ga, u}, {mm});
    int dn = b.activation(p + "down", d.hidden);
    b.node("linear", p + "down", {mm, wd}, {dn});
    int x2 = b.activation(p + "resid2", d.hidden);
    b.node("add", p + "resid2", {x1, dn}, {x2});
    x = x2;
  }
  int final_norm = b.weight("final_norm", m.final_norm, {d.hidden});
  int lm_head = b.weight("lm_head", m.lm_head, {d.vocab, d.hidden}, /*bf16=*/true);
  int sel = b.activation("last", d.hidden, true);
  b.node("select_rows", "last", {x}, {sel});
  int fn = b.activation("final_norm", d.hidden, true);
  b.node("rms_norm", "final_norm", {sel, final_norm}, {fn}, eps);
  int logits = b.activation("logits", d.vocab, true);
  b.node("linear", "lm_head", {fn, lm_head}, {logits});

  std::string s = "{\"format_version\": " + std::to_string(LLMC_ENGINE_FORMAT_VERSION) + ", \"schema_hash\": \"" +
                  llmc::kSchemaHash + "\",\n";
  s += "\"model\": {\"vocab_size\": " + std::to_string(d.vocab) + ", \"hidden_size\": " + std::to_string(d.hidden) +
       ", \"num_layers\": " + std::to_string(d.layers) + ", \"num_heads\": " + std::to_string(d.heads) +
       ", \"num_kv_heads\": " + std::to_string(d.kv_heads) + ", \"head_dim\": " + std::to_string(d.head_dim) + "},\n";
  s += "\"limits\": {\"max_batch_size\": " + std::to_string(d.max_batch) + ", \"max_seq_len\": " + std::to_string(d.max_seq_len) +
       ", \"max_num_tokens\": " + std::to_string(d.max_num_tokens) + ", \"max_logit_rows\": " +
       std::to_string(std::min(std::max(d.max_batch, 64), d.max_num_tokens)) + "},\n";
  s += "\"kv_cache\": {\"num_layers\": " + std::to_string(d.layers) + ", \"num_kv_heads\": " + std::to_string(d.kv_heads) +
       ", \"head_dim\": " + std::to_string(d.head_dim) + ", \"dtype\": \"f32\", \"block_size\": " + std::to_string(d.block_size) + "},\n";
  s += "\"arena\": {\"floats_per_token\": " + std::to_string(b.arena_) + ", \"logit_floats_per_row\": " +
       std::to_string(b.logit_arena_) + "},\n\"values\": [\n";
  for (size_t i = 0; i < b.values_.size(); ++i) s += (i ? ",\n" : "") + b.values_[i];
  s += "],\n\"nodes\": [\n";
  for (size_t i = 0; i < b.nodes_.size(); ++i) s += (i ? ",\n" : "") + b.nodes_[i];
  s += "],\n\"outputs\": {\"logits\": " + std::to_string(logits) + "}}\n";
  return s;
}

// Stores v little-endian in `bytes` bytes at out[at] (a header field of llmc/engine_format.generated.h).
inline void set_le(std::vector<uint8_t>& out, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[at + size_t(i)] = uint8_t(v >> (8 * i));
}

inline bool write_file(const std::string& path, const void* data, size_t n) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(data, 1, n, f) == n;
  return std::fclose(f) == 0 && ok;
}

// Writes ENGINE_DIR (created if needed) for `m`, with the given corruption. Returns false on an I/O failure.
inline bool write_engine(const std::string& dir, const Model& m, const Corruption& c = {}) {
  ::mkdir(dir.c_str(), 0755);
  PlanBuilder b(m.d.max_num_tokens);
  std::string plan = build_plan(m, b);
  if (c.weight_outside) {
    // Move the last weight (lm_head) past the end of the data section.
    const std::string key = "\"offset\": ";
    size_t at = plan.find(key, plan.find("\"name\": \"lm_head\", \"kind\": \"weight\""));
    size_t end = plan.find(',', at);
    plan.replace(at + key.size(), end - at - key.size(), std::to_string((b.data_.size() + LLMC_ENGINE_DATA_ALIGN) / LLMC_ENGINE_WEIGHT_ALIGN * LLMC_ENGINE_WEIGHT_ALIGN));
  }
  if (c.wrong_nbytes) {
    size_t at = plan.find("\"nbytes\": ") + 10;
    size_t end = plan.find('}', at);
    long n = std::stol(plan.substr(at, end - at));
    plan.replace(at, end - at, std::to_string(n + 4));
  }
  if (!c.first_op_name.empty()) {
    size_t at = plan.find("\"op\": \"") + 7;
    plan.replace(at, plan.find('"', at) - at, c.first_op_name);
  }
  if (c.bad_plan_json) plan.replace(plan.find("\"values\": [") + 11, 0, ",");
  if (!c.plan_from.empty()) {
    const size_t at = plan.find(c.plan_from);
    if (at == std::string::npos) return false;  // the edit must apply: a test that edits nothing proves nothing
    plan.replace(at, c.plan_from.size(), c.plan_to);
  }

  std::vector<uint8_t> file(LLMC_ENGINE_HEADER_BYTES, 0);
  char magic[8] = LLMC_ENGINE_MAGIC_INIT;
  if (c.bad_magic) magic[7] = 'X';
  std::memcpy(&file[LLMC_ENGINE_OFFSET_MAGIC], magic, sizeof magic);
  set_le(file, LLMC_ENGINE_OFFSET_VERSION, c.header_version, 4);
  set_le(file, LLMC_ENGINE_OFFSET_FLAGS, 0, 4);
  set_le(file, LLMC_ENGINE_OFFSET_PLAN_LENGTH, plan.size(), 8);
  const uint64_t data_offset = (LLMC_ENGINE_HEADER_BYTES + plan.size() + LLMC_ENGINE_DATA_ALIGN - 1) / LLMC_ENGINE_DATA_ALIGN * LLMC_ENGINE_DATA_ALIGN;
  set_le(file, LLMC_ENGINE_OFFSET_DATA_OFFSET, data_offset, 8);
  set_le(file, LLMC_ENGINE_OFFSET_DATA_SIZE, b.data_.size(), 8);
  file.insert(file.end(), plan.begin(), plan.end());
  file.resize(data_offset, ' ');
  file.insert(file.end(), b.data_.begin(), b.data_.end());
  if (c.truncate_to >= 0 && size_t(c.truncate_to) < file.size()) file.resize(size_t(c.truncate_to));
  if (!write_file(dir + "/rank0.engine", file.data(), file.size())) return false;

  if (c.no_config) {
    std::remove((dir + "/config.json").c_str());
    return true;
  }
  const Dims& d = m.d;
  std::string cfg = "{\n  \"format_version\": " + std::to_string(c.config_format_version) + ",\n  \"schema_hash\": \"" +
                    c.schema_hash + "\",\n  \"llmc_version\": \"0.1.0\",\n  \"model\": {\"vocab_size\": " + std::to_string(d.vocab) +
                    "},\n  \"build\": {\"dtype\": \"float32\", \"max_batch_size\": " + std::to_string(d.max_batch) +
                    ", \"max_seq_len\": " + std::to_string(d.max_seq_len) + ", \"max_num_tokens\": " + std::to_string(d.max_num_tokens) +
                    "},\n  \"target\": {\"backend\": \"cpu\"},\n  \"mapping\": {\"world_size\": 1, \"tp\": 1, \"pp\": 1},\n"
                    "  \"memory_plan\": {\"weights_bytes\": " + std::to_string(b.data_.size()) + ", \"decode_weight_bytes\": " +
                    std::to_string(b.data_.size()) + "},\n  \"source\": {\"dir\": \"/models/tiny llama\"},\n"
                    "  \"generation\": {\"bos_token_id\": 1, \"eos_token_ids\": [2], \"pad_token_id\": 0}\n}\n";
  return write_file(dir + "/config.json", cfg.data(), cfg.size());
}

// ---- Dense reference forward: logits [n, vocab] for every token of one sequence --------------------------------

inline void ref_rms_norm(const float* x, const std::vector<float>& w, int n, float* y) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  const float inv = float(1.0 / std::sqrt(ss / n + 1e-5));
  for (int i = 0; i < n; ++i) y[i] = x[i] * inv * w[i];
}

inline void ref_linear(const float* x, const std::vector<float>& w, const float* bias, int in, int out, float* y) {
  for (int o = 0; o < out; ++o) {
    double s = bias ? bias[o] : 0;
    for (int i = 0; i < in; ++i) s += double(x[i]) * w[size_t(o) * in + i];
    y[o] = float(s);
  }
}

inline void ref_rope(float* x, int heads, int hd, int pos, const std::vector<float>& inv_freq) {
  for (int h = 0; h < heads; ++h) {
    for (int i = 0; i < hd / 2; ++i) {
      const float ang = float(pos) * inv_freq[i];
      const float c = std::cos(ang), s = std::sin(ang);
      float& a = x[h * hd + i];
      float& b = x[h * hd + i + hd / 2];
      const float a0 = a, b0 = b;
      a = a0 * c - b0 * s;
      b = b0 * c + a0 * s;
    }
  }
}

inline std::vector<float> reference_logits(const Model& m, const std::vector<int32_t>& ids) {
  const Dims& d = m.d;
  const int n = int(ids.size()), H = d.hidden, qw = d.heads * d.head_dim, kvw = d.kv_heads * d.head_dim;
  std::vector<float> x(size_t(n) * H);
  for (int t = 0; t < n; ++t) std::memcpy(&x[size_t(t) * H], &m.embed[size_t(ids[t]) * H], 4 * H);
  std::vector<float> h(H), q(size_t(n) * qw), k(size_t(n) * kvw), v(size_t(n) * kvw), a(qw), o(H), g(d.ffn), u(d.ffn), dn(H);
  for (const Layer& L : m.layers) {
    for (int t = 0; t < n; ++t) {
      ref_rms_norm(&x[size_t(t) * H], L.attn_norm, H, h.data());
      ref_linear(h.data(), L.wq, L.bq.data(), H, qw, &q[size_t(t) * qw]);
      ref_linear(h.data(), L.wk, nullptr, H, kvw, &k[size_t(t) * kvw]);
      ref_linear(h.data(), L.wv, nullptr, H, kvw, &v[size_t(t) * kvw]);
      ref_rope(&q[size_t(t) * qw], d.heads, d.head_dim, t, m.inv_freq);
      ref_rope(&k[size_t(t) * kvw], d.kv_heads, d.head_dim, t, m.inv_freq);
    }
    std::vector<float> x_next = x;
    for (int t = 0; t < n; ++t) {
      for (int hh = 0; hh < d.heads; ++hh) {
        const int kh = hh / (d.heads / d.kv_heads);
        std::vector<double> sc(t + 1);
        double mx = -1e300;
        for (int j = 0; j <= t; ++j) {
          double s = 0;
          for (int e = 0; e < d.head_dim; ++e) s += double(q[size_t(t) * qw + hh * d.head_dim + e]) * k[size_t(j) * kvw + kh * d.head_dim + e];
          sc[j] = s / std::sqrt(double(d.head_dim));
          mx = std::max(mx, sc[j]);
        }
        double z = 0;
        for (int j = 0; j <= t; ++j) z += (sc[j] = std::exp(sc[j] - mx));
        for (int e = 0; e < d.head_dim; ++e) {
          double acc = 0;
          for (int j = 0; j <= t; ++j) acc += sc[j] / z * v[size_t(j) * kvw + kh * d.head_dim + e];
          a[hh * d.head_dim + e] = float(acc);
        }
      }
      ref_linear(a.data(), L.wo, nullptr, qw, H, o.data());
      float* xt = &x_next[size_t(t) * H];
      for (int i = 0; i < H; ++i) xt[i] += o[i];
      ref_rms_norm(xt, L.mlp_norm, H, h.data());
      ref_linear(h.data(), L.w_gate, nullptr, H, d.ffn, g.data());
      ref_linear(h.data(), L.w_up, nullptr, H, d.ffn, u.data());
      for (int i = 0; i < d.ffn; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
      ref_linear(g.data(), L.w_down, nullptr, d.ffn, H, dn.data());
      for (int i = 0; i < H; ++i) xt[i] += dn[i];
    }
    x.swap(x_next);
  }
  std::vector<float> logits(size_t(n) * d.vocab);
  for (int t = 0; t < n; ++t) {
    ref_rms_norm(&x[size_t(t) * H], m.final_norm, H, h.data());
    ref_linear(h.data(), m.lm_head, nullptr, H, d.vocab, &logits[size_t(t) * d.vocab]);
  }
  return logits;
}

}  // namespace synth
