// ENGINE_DIR/config.json: the fields the runtime uses. The version check comes first and reads nothing else, so
// an engine from another format version gets the rebuild command even if its other fields changed shape.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "json.h"

namespace llmc::runtime {

struct Manifest {
  int64_t format_version = 0;
  std::string schema_hash;
  std::string source_dir;   // source.dir: the HF checkpoint the engine was built from ("" if absent)
  std::string build_dtype;  // build.dtype ("float32", ...; "" if absent)
  int64_t world_size = 1;   // mapping.world_size (tp * pp; rank r maps rank<r>.engine only)
  int64_t tp = 1;           // mapping.tp
  int64_t pp = 1;           // mapping.pp
  // target (docs/cuda.md): "cpu" (also for engines without a target) or "cuda" with its GPU code.
  std::string target_backend = "cpu";
  std::vector<std::string> target_archs;  // cuda: SASS in the fatbin, e.g. sm_80, sm_90a
  std::string target_ptx;                 // cuda: PTX in the fatbin, e.g. compute_80 ("" when none)
  std::string target_fatbin;              // cuda: the fatbin, relative to the engine directory
  std::string target_fatbin_sha256;       // cuda: its sha256 (hex), "" when absent
  // Dummy weights (llmc build --dummy-weights): values generated at load, outputs meaningless.
  bool dummy_weights = false;
  std::string source_config;  // source.config of a dummy engine: the preset name or config.json path
  int64_t source_seed = 0;    // source.seed of a dummy engine
  std::vector<int32_t> eos_token_ids;  // generation.eos_token_ids
  int64_t decode_weight_bytes = -1;    // memory_plan.decode_weight_bytes, -1 if absent
  // What rank0.engine's plan must agree with (a file swapped in from another engine is refused at load); -1 when
  // absent (older or hand-written manifests): model.{vocab_size,hidden_size,num_layers} and the build limits.
  int64_t model_vocab_size = -1;
  int64_t model_hidden_size = -1;
  int64_t model_num_layers = -1;
  int64_t build_max_batch_size = -1;
  int64_t build_max_seq_len = -1;
  int64_t build_max_num_tokens = -1;
  int64_t model_num_heads = -1;
  int64_t model_num_kv_heads = -1;
  int64_t model_head_dim = -1;
  std::vector<int64_t> rank_file_bytes;  // integrity.files["rank<r>.engine"].bytes by rank r (docs/verify.md), -1 if absent
};

// Reads and checks ENGINE_DIR/config.json. Throws Error: LLMC_ERR_IO when missing (with the build command),
// LLMC_ERR_BAD_ENGINE when malformed, LLMC_ERR_VERSION on another format version or op schema hash (with the
// exact rebuild command).
Manifest read_manifest(const std::string& engine_dir);

// The same checks on config.json's text (read_manifest reads the file; the fuzzer calls this directly). `path`
// names the file in messages.
Manifest parse_manifest(const std::string& text, const std::string& path, const std::string& engine_dir);

// The command that rebuilds this engine with the current llmc: `llmc build SRC -o DIR --dtype D --force`, with
// the engine's --target/--cuda-arch (and --dummy-weights --config C for dummy-weight engines).
std::string rebuild_command(const Manifest& m, const std::string& engine_dir);
// The same for a world of `world_size` ranks (all tensor-parallel; 1 = an unsharded engine).
std::string rebuild_command_for_world(const Manifest& m, const std::string& engine_dir, int64_t world_size);

// The same for another target: backend "cpu" or "cuda" with `cuda_archs` ("sm_80,sm_90a").
std::string build_command(const Manifest& m, const std::string& engine_dir, const std::string& backend,
                          const std::string& cuda_archs);

// Joins a directory and a file name with one '/'.
std::string path_join(const std::string& dir, const std::string& name);

}  // namespace llmc::runtime
