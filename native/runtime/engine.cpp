#include "engine.h"

#include "../cpu/kernels.h"
#include "dummy_weights.h"
#include "errors.h"
#include "json.h"
#include "sharded.h"
#include "target.h"

namespace llmc::runtime {

namespace {

std::string build_info_json(const llmc_engine& e) {
  const LoadedEngine& le = *e.loaded;
  const Plan& p = le.plan;
  std::string s = "{";
  auto field = [&s](const char* key, const std::string& json_value) {
    if (s.size() > 1) s += ", ";
    s += json::quote(key) + ": " + json_value;
  };
  auto num = [&](const char* key, int64_t v) { field(key, std::to_string(v)); };
  field("engine_dir", json::quote(le.dir));
  num("format_version", p.format_version);
  field("schema_hash", json::quote(p.schema_hash));
  field("dtype", json::quote(le.manifest.build_dtype));
  num("vocab_size", p.model.vocab_size);
  num("hidden_size", p.model.hidden_size);
  num("num_layers", p.model.num_layers);
  num("num_heads", p.model.num_heads);
  num("num_kv_heads", p.model.num_kv_heads);
  num("head_dim", p.model.head_dim);
  num("rank", p.mapping.rank);
  num("world_size", p.mapping.world_size);
  num("tp", p.mapping.tp);
  num("pp", p.mapping.pp);
  num("max_batch_size", p.limits.max_batch_size);
  num("max_seq_len", p.limits.max_seq_len);
  num("max_num_tokens", p.limits.max_num_tokens);
  field("backend", json::quote(e.backend->name()));
  field("simd", json::quote(cpu::simd_name(cpu::simd_level())));
  num("threads", e.backend->num_threads());
  num("weights_bytes", static_cast<int64_t>(le.weights_bytes));
  field("dummy_weights", le.manifest.dummy_weights ? "true" : "false");
  num("decode_weight_bytes", le.manifest.decode_weight_bytes >= 0 ? le.manifest.decode_weight_bytes
                                                                   : static_cast<int64_t>(le.weights_bytes));
  // Activations: the token arena and the logits arena (their sizes were checked against overflow at load).
  const int64_t logits_arena_bytes = p.arena_logit_floats_per_row * p.limits.max_logit_rows * 4;
  num("arena_bytes", p.arena_floats_per_token * p.limits.max_num_tokens * 4 + logits_arena_bytes);
  num("logits_arena_bytes", logits_arena_bytes);
  num("max_logit_rows", max_logit_rows(p.limits));
  num("kv_cache_bytes", e.kv_cache_bytes);
  num("kv_block_count", e.kv_pool->num_blocks());
  num("block_size", p.kv.block_size);
  field("kv_cache_dtype", json::quote(cpu::kv_dtype_name(p.kv.dtype)));
  num("kv_bytes_per_token", kv_bytes_per_block(p.kv) / p.kv.block_size);
  if (const std::string extra = e.backend->info_json_fields(); !extra.empty()) s += ", " + extra;
  std::string eos = "[";
  for (size_t i = 0; i < le.manifest.eos_token_ids.size(); ++i) {
    eos += (i ? ", " : "") + std::to_string(le.manifest.eos_token_ids[i]);
  }
  field("eos_token_ids", eos + "]");
  return s + "}";
}

}  // namespace

}  // namespace llmc::runtime

llmc_engine::~llmc_engine() {
  try {
    llmc::runtime::stop_followers(*this);
  } catch (const std::exception&) {
    // A follower is gone: nothing left to stop (mpirun ends the job).
  }
}

namespace llmc::runtime {

std::unique_ptr<llmc_engine> open_engine(const std::string& engine_dir, const llmc_load_options* opts) {
  // No backend given: the one the engine was built for (manifest target.backend).
  std::string backend = opts != nullptr && opts->backend != nullptr ? opts->backend : "";
  int32_t threads = opts != nullptr ? opts->num_threads : 0;
  int64_t kv_bytes = opts != nullptr ? opts->kv_cache_bytes : 0;
  if (threads < 0) fail(LLMC_ERR_INVALID_ARGUMENT, "num_threads must be >= 0 (0 = all cores), got " + std::to_string(threads));
  if (kv_bytes < 0) fail(LLMC_ERR_INVALID_ARGUMENT, "kv_cache_bytes must be >= 0 (0 = default), got " + std::to_string(kv_bytes));
  if (!backend.empty() && backend != "cpu" && backend != "cuda") {
    fail(LLMC_ERR_INVALID_ARGUMENT, "unknown backend \"" + backend + "\" (expected \"cpu\" or \"cuda\")");
  }
  // A cuda engine on the CPU backend (or the reverse) is refused before anything is mapped or generated.
  const Manifest manifest = read_manifest(engine_dir);
  if (backend.empty()) backend = manifest.target_backend == "cuda" ? "cuda" : "cpu";
  check_engine_backend(manifest, backend, engine_dir);
  auto e = std::make_unique<llmc_engine>();
  int rank = 0;
  if (manifest.world_size > 1) {
    // One process per rank (mpirun); MPI tells this one which rank file to map.
    e->comm = open_mpi_collectives();
    if (e->comm->world_size() != manifest.world_size) {
      fail(LLMC_ERR_INVALID_ARGUMENT, "engine " + engine_dir + " has " + std::to_string(manifest.world_size) + " ranks (tp " +
                                          std::to_string(manifest.tp) + " x pp " + std::to_string(manifest.pp) + ") but " +
                                          std::to_string(e->comm->world_size()) + " processes were started; run it with `mpirun -np " +
                                          std::to_string(manifest.world_size) + "`, or rebuild it for " + std::to_string(e->comm->world_size()) +
                                          ": `" + rebuild_command_for_world(manifest, engine_dir, e->comm->world_size()) + "`");
    }
    rank = e->comm->rank();
  }
  e->loaded = load_engine(engine_dir, rank);
  if (e->comm) e->comm->set_mapping(e->loaded->plan.mapping);
  // Dummy weights are generated in host memory before the backend sees the plan (a device backend could
  // generate them in place instead, with the formula of dummy_rng.h).
  fill_dummy_weights(*e->loaded, threads);
  e->backend = create_backend(backend, *e->loaded, threads);
  if (e->comm) {
    e->backend->attach_collectives(e->comm.get());
    if (rank == 0) e->backend = wrap_rank0_backend(std::move(e->backend), *e->comm);
  }
  const Plan& p = e->loaded->plan;
  int32_t blocks = e->backend->fit_kv_blocks(kv_block_count(p.kv, p.limits, kv_bytes), kv_bytes > 0);
  if (e->comm) blocks = agree_kv_blocks(*e->comm, blocks);  // block tables are rank 0's: every rank has its blocks
  e->backend->allocate_kv_cache(blocks);
  e->kv_pool = std::make_unique<KvBlockPool>(blocks, p.kv.block_size);
  e->kv_cache_bytes = int64_t{blocks} * kv_bytes_per_block(p.kv);
  e->info_json = build_info_json(*e);
  return e;
}

}  // namespace llmc::runtime
