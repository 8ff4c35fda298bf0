#include "manifest.h"

#include "errors.h"
#include "json_fields.h"
#include "llmc/llmc.h"
#include "llmc/ops.generated.h"
#include "mapped_file.h"

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

}  // namespace

std::string path_join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string rebuild_command(const Manifest& m, const std::string& engine_dir) {
  std::string cmd = "llmc build " + (m.source_dir.empty() ? std::string("HF_DIR") : shell_word(m.source_dir)) + " -o " +
                    shell_word(engine_dir);
  if (!m.build_dtype.empty()) cmd += " --dtype " + shell_word(m.build_dtype);
  return cmd + " --force";
}

Manifest read_manifest(const std::string& engine_dir) {
  const std::string path = path_join(engine_dir, "config.json");
  const std::string text = read_text_file(
      path, "engine directory " + engine_dir + " has no config.json; build one with `llmc build HF_DIR -o " + shell_word(engine_dir) + "`");
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
  }
  if (m.world_size != 1) {
    fail(LLMC_ERR_UNSUPPORTED, "engine " + engine_dir + " is split over " + std::to_string(m.world_size) +
                                   " ranks (mapping.world_size); this runtime runs single-rank engines: rebuild with "
                                   "`" + rebuild_command(m, engine_dir) + "` (tp = pp = 1)");
  }
  if (const json::Value* v = child(root, "target", "backend"); v != nullptr && v->is_string()) m.target_backend = v->as_string();
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
  return m;
}

}  // namespace llmc::runtime
