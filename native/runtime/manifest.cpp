#include "manifest.h"

#include "errors.h"
#include "json_fields.h"
#include "llmc/llmc.h"
#include "llmc/ops.generated.h"
#include "mapped_file.h"
#include "target.h"

namespace llmc::runtime {

namespace {

// Quotes a path for a shell command line only when it needs it.
std::string shell_word(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.' || c == '/' || c == ':' || c == '+' || c == '=' || c == ',' || c == '@';
    plain = plain && ok;
  }
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

const json::Value* child(const json::Value& root, const char* a, const char* b) {
  const json::Value* x = root.find(a);
  return x == nullptr ? nullptr : x->find(b);
}

// The target fields as far as they are readable, before the version check (they only shape the rebuild command).
void read_target_lenient(const json::Value& root, Manifest* m) {
  const json::Value* t = root.find("target");
  if (t == nullptr || !t->is_object()) return;
  if (const json::Value* v = t->find("backend"); v != nullptr && v->is_string()) m->target_backend = v->as_string();
  if (const json::Value* v = t->find("archs"); v != nullptr && v->is_array()) {
    for (const json::Value& a : v->as_array()) {
      if (a.is_string()) m->target_archs.push_back(a.as_string());
    }
  }
  if (const json::Value* v = t->find("ptx"); v != nullptr && v->is_string()) m->target_ptx = v->as_string();
  if (const json::Value* v = t->find("fatbin"); v != nullptr && v->is_string()) m->target_fatbin = v->as_string();
  if (const json::Value* v = t->find("fatbin_sha256"); v != nullptr && v->is_string()) m->target_fatbin_sha256 = v->as_string();
}

// The strict check: a target this runtime does not know is refused, a cuda target must name its code and fatbin.
void check_target(const json::Value& root, const JsonFields& f, const Manifest& m, const std::string& engine_dir) {
  const json::Value* t = root.find("target");
  if (t == nullptr) return;  // engines from before targets existed are cpu engines
  if (!t->is_object()) f.fail_at("target", "expected an object");
  const std::string backend = f.string(*t, "target", "backend");
  if (backend == "cpu") return;
  if (backend != "cuda") {
    fail(LLMC_ERR_UNSUPPORTED, "engine " + engine_dir + " was built for target \"" + backend +
                                   "\", which this runtime does not know (cpu, cuda); rebuild it: `" +
                                   build_command(m, engine_dir, "cpu", "") + "`");
  }
  const json::Value& archs = f.array(*t, "target", "archs");
  if (archs.as_array().empty()) f.fail_at("target.archs", "a cuda engine lists at least one GPU architecture");
  for (size_t i = 0; i < archs.as_array().size(); ++i) {
    const json::Value& a = archs.as_array()[i];
    CudaCode code;
    if (!a.is_string() || !parse_cuda_code(a.as_string(), &code) || code.ptx) {
      f.fail_at(JsonFields::index("target.archs", i), "expected an architecture like \"sm_80\" or \"sm_90a\"");
    }
  }
  if (const json::Value* ptx = t->find("ptx"); ptx != nullptr && !ptx->is_null()) {
    CudaCode code;
    if (!ptx->is_string() || !parse_cuda_code(ptx->as_string(), &code) || !code.ptx) {
      f.fail_at("target.ptx", "expected a PTX architecture like \"compute_80\"");
    }
  }
  const std::string fatbin = f.string(*t, "target", "fatbin");
  if (fatbin.empty() || fatbin[0] == '/' || fatbin.find("..") != std::string::npos) {
    f.fail_at("target.fatbin", "expected a path inside the engine directory, found \"" + fatbin + "\"");
  }
}

}  // namespace

std::string path_join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string build_command(const Manifest& m, const std::string& engine_dir, const std::string& backend,
                          const std::string& cuda_archs) {
  std::string cmd = "llmc build ";
  if (m.dummy_weights) {
    cmd += "--dummy-weights --config " + (m.source_config.empty() ? std::string("CONFIG") : shell_word(m.source_config));
    if (m.source_seed != 0) cmd += " --dummy-seed " + std::to_string(m.source_seed);
  } else {
    cmd += m.source_dir.empty() ? std::string("HF_DIR") : shell_word(m.source_dir);
  }
  cmd += " -o " + shell_word(engine_dir);
  if (!m.build_dtype.empty()) cmd += " --dtype " + shell_word(m.build_dtype);
  if (backend == "cuda") {
    cmd += " --target cuda";
    if (!cuda_archs.empty()) cmd += " --cuda-arch " + shell_word(cuda_archs);
  } else if (m.target_backend != "cpu") {
    cmd += " --target " + shell_word(backend);  // spelled out when it changes the engine's target
  }
  return cmd + " --force";
}

std::string rebuild_command(const Manifest& m, const std::string& engine_dir) {
  std::string archs;
  for (const std::string& a : m.target_archs) archs += (archs.empty() ? "" : ",") + a;
  std::string cmd = build_command(m, engine_dir, m.target_backend, archs);
  std::string par;
  if (m.tp > 1) par += " --tp-size " + std::to_string(m.tp);
  if (m.pp > 1) par += " --pp-size " + std::to_string(m.pp);
  return cmd.substr(0, cmd.size() - 8) + par + " --force";  // before the trailing " --force"
}

std::string rebuild_command_for_world(const Manifest& m, const std::string& engine_dir, int64_t world_size) {
  Manifest w = m;
  w.tp = world_size;
  w.pp = 1;
  return rebuild_command(w, engine_dir);
}

Manifest read_manifest(const std::string& engine_dir) {
  const std::string path = path_join(engine_dir, "config.json");
  const std::string text = read_text_file(
      path, "engine directory " + engine_dir + " has no config.json; build one with `llmc build HF_DIR -o " + shell_word(engine_dir) + "`");
  return parse_manifest(text, path, engine_dir);
}

Manifest parse_manifest(const std::string& text, const std::string& path, const std::string& engine_dir) {
  json::Value root;
  try {
    root = json::parse(text);
  } catch (const json::ParseError& e) {
    fail(LLMC_ERR_BAD_ENGINE, path + " is not valid JSON (" + e.what() + "); rebuild the engine with `llmc build HF_DIR -o " +
                                  shell_word(engine_dir) + " --force`");
  }
  if (!root.is_object()) fail(LLMC_ERR_BAD_ENGINE, path + ": expected a JSON object");

  Manifest m;
  // The fields the rebuild command needs, read leniently (they only improve the message).
  if (const json::Value* v = child(root, "source", "dir"); v != nullptr && v->is_string()) m.source_dir = v->as_string();
  if (const json::Value* v = child(root, "build", "dtype"); v != nullptr && v->is_string()) m.build_dtype = v->as_string();
  if (const json::Value* v = root.find("dummy_weights"); v != nullptr && v->is_bool()) m.dummy_weights = v->as_bool();
  if (const json::Value* v = child(root, "source", "config"); v != nullptr && v->is_string()) m.source_config = v->as_string();
  if (const json::Value* v = child(root, "source", "seed"); v != nullptr && v->is_integer()) m.source_seed = v->as_int64();
  read_target_lenient(root, &m);

  // Version check before anything else.
  const json::Value* fv = root.find("format_version");
  const json::Value* sh = root.find("schema_hash");
  std::string found_version = fv != nullptr && fv->is_integer() ? std::to_string(fv->as_int64()) : std::string("(missing)");
  std::string found_hash = sh != nullptr && sh->is_string() ? sh->as_string() : std::string("(missing)");
  bool version_ok = fv != nullptr && fv->is_integer() && fv->as_int64() == LLMC_ENGINE_FORMAT_VERSION;
  bool hash_ok = sh != nullptr && sh->is_string() && sh->as_string() == kSchemaHash;
  if (!version_ok || !hash_ok) {
    fail(LLMC_ERR_VERSION, "engine " + engine_dir + " was built for engine format " + found_version + " / op schema " +
                               found_hash + ", but this runtime reads engine format " +
                               std::to_string(LLMC_ENGINE_FORMAT_VERSION) + " / op schema " + kSchemaHash +
                               "; rebuild it: `" + rebuild_command(m, engine_dir) + "`");
  }
  m.format_version = fv->as_int64();
  m.schema_hash = sh->as_string();

  JsonFields f(LLMC_ERR_BAD_ENGINE, path);
  if (const json::Value* mapping = root.find("mapping"); mapping != nullptr) {
    if (mapping->find("world_size") != nullptr) m.world_size = f.integer(*mapping, "mapping", "world_size", 1, 1 << 20);
    if (mapping->find("tp") != nullptr) m.tp = f.integer(*mapping, "mapping", "tp", 1, 1 << 20);
    if (mapping->find("pp") != nullptr) m.pp = f.integer(*mapping, "mapping", "pp", 1, 1 << 20);
  }
  if (m.world_size != m.tp * m.pp) {
    fail(LLMC_ERR_BAD_ENGINE, path + ": mapping.world_size " + std::to_string(m.world_size) + " is not tp " + std::to_string(m.tp) +
                                  " x pp " + std::to_string(m.pp) + "; rebuild it: `" + rebuild_command(m, engine_dir) + "`");
  }
  check_target(root, f, m, engine_dir);
  if (const json::Value* gen = root.find("generation"); gen != nullptr && gen->is_object()) {
    if (const json::Value* eos = gen->find("eos_token_ids"); eos != nullptr && !eos->is_null()) {
      if (!eos->is_array()) f.fail_at("generation.eos_token_ids", "expected an array of token ids");
      for (size_t i = 0; i < eos->as_array().size(); ++i) {
        m.eos_token_ids.push_back(static_cast<int32_t>(
            f.as_integer(eos->as_array()[i], JsonFields::index("generation.eos_token_ids", i), 0, INT32_MAX)));
      }
    }
  }
  if (const json::Value* v = child(root, "memory_plan", "decode_weight_bytes"); v != nullptr && v->is_integer() && v->as_int64() >= 0) {
    m.decode_weight_bytes = v->as_int64();
  }
  // Identity fields the loader compares with the plan (check_plan_matches_manifest): read when they are integers.
  auto count = [&](const char* a, const char* b, int64_t* out) {
    if (const json::Value* v = child(root, a, b); v != nullptr && v->is_integer() && v->as_int64() >= 0) *out = v->as_int64();
  };
  count("model", "vocab_size", &m.model_vocab_size);
  count("model", "hidden_size", &m.model_hidden_size);
  count("model", "num_layers", &m.model_num_layers);
  count("build", "max_batch_size", &m.build_max_batch_size);
  count("build", "max_seq_len", &m.build_max_seq_len);
  count("build", "max_num_tokens", &m.build_max_num_tokens);
  count("model", "num_heads", &m.model_num_heads);
  count("model", "num_kv_heads", &m.model_num_kv_heads);
  count("model", "head_dim", &m.model_head_dim);
  if (const json::Value* files = child(root, "integrity", "files"); files != nullptr) {
    // rank0.engine, rank1.engine, ... as far as they are listed (a sharded engine has one per rank).
    for (size_t r = 0;; r++) {
      const std::string name = "rank" + std::to_string(r) + ".engine";
      const json::Value* v = child(*files, name.c_str(), "bytes");
      if (v == nullptr) break;
      m.rank_file_bytes.push_back(v->is_integer() && v->as_int64() >= 0 ? v->as_int64() : -1);
    }
  }
  return m;
}

}  // namespace llmc::runtime
