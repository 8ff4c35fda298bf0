#include "engine_loader.h"

#include <sys/stat.h>

#include <cstring>

#include "errors.h"
#include "llmc/llmc.h"

namespace llmc::runtime {

namespace {

const char kMagic[8] = LLMC_ENGINE_MAGIC_INIT;

uint32_t load_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

uint64_t load_u64(const uint8_t* p) { return uint64_t{load_u32(p)} | uint64_t{load_u32(p + 4)} << 32; }

// Checks every weight's byte range against the data section and points it at its bytes.
void bind_weights(Plan& plan, const EngineFileHeader& h, const uint8_t* file, const std::string& where,
                  uint64_t* weights_bytes) {
  const uint8_t* data = file + h.data_offset;
  uint64_t total = 0;
  for (PlanValue& v : plan.values) {
    if (!v.is_weight()) continue;
    WeightInfo& w = v.weight;
    std::string label = where + ": weight " + std::to_string(v.id) + (v.name.empty() ? "" : " \"" + v.name + "\"");
    // rows * row bytes without overflow: each dim <= 2^52 and the product is bounded step by step.
    unsigned __int128 elems = 1;
    for (int64_t d : w.shape) {
      elems *= static_cast<uint64_t>(d);
      if (elems > (static_cast<unsigned __int128>(1) << 58)) fail(LLMC_ERR_BAD_ENGINE, label + ": shape is absurdly large");
    }
    const uint64_t expected = weight_bytes(w.dtype, w.shape);
    if (expected != w.nbytes) {
      fail(LLMC_ERR_BAD_ENGINE, label + ": nbytes " + std::to_string(w.nbytes) + " != the " + dtype_name(w.dtype) + " size of shape " +
                                    "= " + std::to_string(expected));
    }
    total += w.nbytes;
    if (w.is_dummy()) continue;  // no bytes in the file: generated at load (dummy_weights.h)
    if (w.offset % EngineFileHeader::kWeightAlignment != 0) {
      fail(LLMC_ERR_BAD_ENGINE, label + ": offset " + std::to_string(w.offset) + " is not a multiple of " +
                                    std::to_string(EngineFileHeader::kWeightAlignment));
    }
    if (w.offset > h.data_size || w.nbytes > h.data_size - w.offset) {
      fail(LLMC_ERR_BAD_ENGINE, label + ": bytes [" + std::to_string(w.offset) + ", " + std::to_string(w.offset + w.nbytes) +
                                    ") lie outside the data section of " + std::to_string(h.data_size) + " bytes");
    }
    w.data = data + w.offset;
  }
  *weights_bytes = total;
}

// A rank0.engine copied in from another engine directory (same llmc, other model or limits) parses and
// validates on its own; only config.json can tell. Fields absent from config.json are not compared, nor are they
// for a multi-rank engine (a rank's plan may hold a shard of the heads or the vocabulary).
void check_plan_matches_manifest(const Plan& plan, const Manifest& m, const std::string& path, const std::string& rebuild) {
  if (m.world_size != 1) return;
  const struct { const char* what; int64_t manifest; int64_t plan; } fields[] = {
      {"model.vocab_size", m.model_vocab_size, plan.model.vocab_size},
      {"model.hidden_size", m.model_hidden_size, plan.model.hidden_size},
      {"model.num_layers", m.model_num_layers, plan.model.num_layers},
      {"model.num_heads", m.model_num_heads, plan.model.num_heads},
      {"model.num_kv_heads", m.model_num_kv_heads, plan.model.num_kv_heads},
      {"model.head_dim", m.model_head_dim, plan.model.head_dim},
      {"build.max_batch_size", m.build_max_batch_size, plan.limits.max_batch_size},
      {"build.max_seq_len", m.build_max_seq_len, plan.limits.max_seq_len},
      {"build.max_num_tokens", m.build_max_num_tokens, plan.limits.max_num_tokens},
  };
  for (const auto& f : fields) {
    if (f.manifest >= 0 && f.manifest != f.plan) {
      fail(LLMC_ERR_BAD_ENGINE, path + " does not belong to this engine: its plan has " + f.what + " " + std::to_string(f.plan) +
                                    ", config.json says " + std::to_string(f.manifest) + " (a file swapped in from another engine?); " + rebuild);
    }
  }
}

}  // namespace

EngineFileHeader read_engine_header(const uint8_t* bytes, uint64_t size, const std::string& where,
                                    const std::string& rebuild_hint) {
  EngineFileHeader h{};
  if (size < EngineFileHeader::kSize) {
    fail(LLMC_ERR_BAD_ENGINE, where + " is truncated: " + std::to_string(size) + " bytes, shorter than its " +
                                  std::to_string(EngineFileHeader::kSize) + "-byte header; " + rebuild_hint);
  }
  std::memcpy(h.magic, bytes + LLMC_ENGINE_OFFSET_MAGIC, sizeof h.magic);
  if (std::memcmp(h.magic, kMagic, sizeof h.magic) != 0) {
    fail(LLMC_ERR_BAD_ENGINE, where + " is not an llmc engine (bad magic, expected \"LLMCENG\\0\"); " + rebuild_hint);
  }
  h.version = load_u32(bytes + LLMC_ENGINE_OFFSET_VERSION);
  h.flags = load_u32(bytes + LLMC_ENGINE_OFFSET_FLAGS);
  h.plan_length = load_u64(bytes + LLMC_ENGINE_OFFSET_PLAN_LENGTH);
  h.data_offset = load_u64(bytes + LLMC_ENGINE_OFFSET_DATA_OFFSET);
  h.data_size = load_u64(bytes + LLMC_ENGINE_OFFSET_DATA_SIZE);
  if (h.version != LLMC_ENGINE_FORMAT_VERSION) {
    fail(LLMC_ERR_VERSION, where + " has engine format version " + std::to_string(h.version) + " but this runtime reads version " +
                               std::to_string(LLMC_ENGINE_FORMAT_VERSION) + "; " + rebuild_hint);
  }
  if (h.flags != 0) fail(LLMC_ERR_BAD_ENGINE, where + " has unknown header flags " + std::to_string(h.flags) + "; " + rebuild_hint);
  return h;
}

std::unique_ptr<LoadedEngine> load_engine(const std::string& engine_dir, int rank) {
  struct stat st;
  if (::stat(engine_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    fail(LLMC_ERR_IO, "engine directory " + engine_dir + " does not exist; build one with `llmc build HF_DIR -o " + engine_dir + "`");
  }
  auto e = std::make_unique<LoadedEngine>();
  e->dir = engine_dir;
  e->manifest = read_manifest(engine_dir);
  const std::string rebuild = "rebuild it: `" + rebuild_command(e->manifest, engine_dir) + "`";

  const std::string file = "rank" + std::to_string(rank) + ".engine";
  const std::string path = path_join(engine_dir, file);
  e->file.open(path, "engine directory " + engine_dir + " has config.json but no " + file + "; " + rebuild);
  bind_engine_image(*e, e->file.data(), e->file.size(), path, rebuild, rank);
  return e;
}

void bind_engine_image(LoadedEngine& le, const uint8_t* bytes, uint64_t size, const std::string& path,
                       const std::string& rebuild, int rank) {
  LoadedEngine* e = &le;
  EngineFileHeader& h = e->header;
  // The size the build recorded (integrity.files, docs/verify.md), before anything is read: a truncated copy or a
  // file from another engine is named at once, whatever its header says.
  const std::vector<int64_t>& recorded = e->manifest.rank_file_bytes;
  const int64_t want = rank >= 0 && static_cast<size_t>(rank) < recorded.size() ? recorded[rank] : -1;
  if (want >= 0 && static_cast<uint64_t>(want) != size) {
    fail(LLMC_ERR_BAD_ENGINE, path + " is " + std::to_string(size) + " bytes but config.json records " +
                                  std::to_string(want) + " (integrity.files): it is truncated, or was swapped in from another engine; " + rebuild);
  }
  h = read_engine_header(bytes, size, path, rebuild);

  // Byte layout: [0, H) header, [H, H + P) plan JSON, padding, [D, D + data_size) weights; all inside the file.
  auto truncated = [&](const std::string& what) {
    fail(LLMC_ERR_BAD_ENGINE, path + " is truncated or corrupt: " + what + " (file is " + std::to_string(size) + " bytes); " + rebuild);
  };
  if (h.plan_length > size - EngineFileHeader::kSize) truncated("plan of " + std::to_string(h.plan_length) + " bytes runs past the end");
  if (h.data_offset % EngineFileHeader::kDataAlignment != 0) {
    fail(LLMC_ERR_BAD_ENGINE, path + ": data offset " + std::to_string(h.data_offset) + " is not a multiple of " +
                                  std::to_string(EngineFileHeader::kDataAlignment) + "; " + rebuild);
  }
  if (h.data_offset < EngineFileHeader::kSize + h.plan_length) {
    fail(LLMC_ERR_BAD_ENGINE, path + ": data offset " + std::to_string(h.data_offset) + " overlaps the plan; " + rebuild);
  }
  if (h.data_offset > size || h.data_size > size - h.data_offset) {
    truncated("data section [" + std::to_string(h.data_offset) + ", +" + std::to_string(h.data_size) + ") runs past the end");
  }
  if (size - h.data_offset != h.data_size) {  // the writer ends the file at the data section's end
    fail(LLMC_ERR_BAD_ENGINE, path + " is corrupt: " + std::to_string(size - h.data_offset - h.data_size) +
                                  " bytes follow its data section (file is " + std::to_string(size) + " bytes); " + rebuild);
  }

  const std::string plan_where = path + " plan";
  json::Value plan_json;
  try {
    plan_json = json::parse(reinterpret_cast<const char*>(bytes + EngineFileHeader::kSize), h.plan_length);
  } catch (const json::ParseError& err) {
    fail(LLMC_ERR_BAD_ENGINE, plan_where + " is not valid JSON (" + err.what() + "); " + rebuild);
  }
  e->plan = parse_plan(plan_json, plan_where);
  if (e->plan.format_version != e->manifest.format_version || e->plan.schema_hash != e->manifest.schema_hash) {
    fail(LLMC_ERR_BAD_ENGINE, plan_where + " (format " + std::to_string(e->plan.format_version) + ", schema " +
                                  e->plan.schema_hash + ") disagrees with config.json; " + rebuild);
  }
  check_plan_matches_manifest(e->plan, e->manifest, path, rebuild);
  const RankMapping& rm = e->plan.mapping;
  if (rm.rank != rank || rm.world_size != e->manifest.world_size || rm.tp != e->manifest.tp || rm.pp != e->manifest.pp) {
    fail(LLMC_ERR_BAD_ENGINE, plan_where + " is rank " + std::to_string(rm.rank) + " of a tp " + std::to_string(rm.tp) + " x pp " +
                                  std::to_string(rm.pp) + " engine, config.json says rank " + std::to_string(rank) + " of tp " +
                                  std::to_string(e->manifest.tp) + " x pp " + std::to_string(e->manifest.pp) + "; " + rebuild);
  }
  validate_plan(e->plan, plan_where);
  bind_weights(e->plan, h, bytes, plan_where, &e->weights_bytes);
  validate_weight_indices(e->plan, plan_where);
}

}  // namespace llmc::runtime
