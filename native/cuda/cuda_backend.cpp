// CUDA backend setup (device, fatbin, weights, arena, workspaces, KV cache), the per-step upload of the step arrays,
// the plan executor (one launcher call per node, as cpu_backend.cpp) and CUDA graphs for decode steps.
#include "cuda_backend.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../runtime/errors.h"
#include "../runtime/json.h"
#include "../runtime/kv_cache.h"
#include "../runtime/mapped_file.h"
#include "../runtime/target.h"

namespace llmc::runtime {

std::unique_ptr<Backend> create_cuda_backend(const LoadedEngine& engine) {
  std::string why;
  const cuda::DriverApi* api = cuda::load_driver(&why);
  if (api == nullptr) fail(LLMC_ERR_UNSUPPORTED, why);
  return std::make_unique<cuda::CudaBackend>(engine, *api);
}

}  // namespace llmc::runtime

namespace llmc::cuda {

using runtime::fail;
using llmc::OpId;
using runtime::PlanNode;
using runtime::RowsKind;
using runtime::StepBatch;

namespace {

bool env_is(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, value) == 0;
}

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || v[0] == '\0') return fallback;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  if (*end != '\0' || x <= 0) fail(LLMC_ERR_INVALID_ARGUMENT, std::string(name) + " must be a positive integer, got \"" + v + "\"");
  return x;
}

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

CudaBackend::CudaBackend(const runtime::LoadedEngine& engine, const DriverApi& api)
    : engine_(engine), plan_(engine.plan) {
  quiet_ = env_is("LLMC_CUDA_QUIET", "1");
  int ordinal = 0;
  // Ranks of a sharded engine on one machine take one GPU each: the launcher's local rank.
  if (engine.plan.mapping.world_size > 1) {
    for (const char* k : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
      if (const char* v = std::getenv(k); v != nullptr && v[0] != '\0') {
        ordinal = std::atoi(v);
        break;
      }
    }
  }
  if (const char* v = std::getenv("LLMC_CUDA_DEVICE"); v != nullptr && v[0] != '\0') {
    char* end = nullptr;
    ordinal = int(std::strtol(v, &end, 10));
    if (*end != '\0' || ordinal < 0) fail(LLMC_ERR_INVALID_ARGUMENT, std::string("LLMC_CUDA_DEVICE must be a device ordinal, got \"") + v + "\"");
  }
  dev_ = std::make_unique<Device>(api, ordinal);
  const runtime::Limits& lim = plan_.limits;
  const runtime::KvCacheSpec& kvs = plan_.kv;

  // Shapes the kernels must take.
  int max_heads = 1;
  max_head_dim_ = kvs.head_dim;
  int64_t max_linear_out = 1;
  int64_t q_workspace_floats = 0;  // linear_q's share of the GEMM workspace
  bool f32_linear = false;  // cuBLASLt is only used for f32 weights
  for (const PlanNode& n : plan_.nodes) {
    if (n.op == OpId::attention) {
      const auto& a = std::get<runtime::AttentionAttrs>(n.attrs);
      max_head_dim_ = std::max(max_head_dim_, int(a.head_dim));
      max_heads = std::max(max_heads, int(a.num_heads));
    } else if (n.op == OpId::linear || n.op == OpId::linear_rope) {
      max_linear_out = std::max<int64_t>(max_linear_out, plan_.values[n.outputs[0]].act.width);
      f32_linear = f32_linear || plan_.values[n.inputs[1]].weight.dtype == runtime::DType::f32;
    } else if (n.op == OpId::linear_q) {  // the quantized GEMM shares the split-K workspace
      max_linear_out = std::max<int64_t>(max_linear_out, plan_.values[n.outputs[0]].act.width);
      // It also holds decode's x[:, perm] * input_scale or int8 activations (8 rows x in floats hold xq and its
      // scales, or the generic kernel's x') and prefill's int8-activation scales (a row per token).
      const int64_t in_f = plan_.values[n.inputs[0]].act.width;
      const int64_t gs = std::max<int32_t>(std::get<runtime::LinearQAttrs>(n.attrs).group_size, 1);
      q_workspace_floats = std::max({q_workspace_floats, int64_t(llmc::kabi::kGemvMaxRows) * in_f,
                                     (int64_t(lim.max_num_tokens) * (in_f / gs) + 63) / 64 * 64 + 4096});
    }
  }

  load_fatbin();
  ops::configure(*dev_, max_head_dim_);
  if (f32_linear) lt_ = CublasLt::open(*dev_, &lt_why_);
  else lt_why_ = "not needed: no f32 weights";
  upload_weights();

  // The plan's two arenas: `tokens` values at max_num_tokens rows, `logit_rows` values (the LM head's rows and the
  // [R, vocab] logits) at max_logit_rows rows (at least one float each, so a rank without logits still has a buffer).
  const int64_t T = lim.max_num_tokens;
  const unsigned __int128 arena_floats = static_cast<unsigned __int128>(std::max<int64_t>(plan_.arena_floats_per_token, 1)) * uint64_t(T);
  const unsigned __int128 logit_floats =
      static_cast<unsigned __int128>(std::max<int64_t>(plan_.arena_logit_floats_per_row, 1)) * uint64_t(lim.max_logit_rows);
  if (arena_floats + logit_floats > (static_cast<unsigned __int128>(1) << 40)) {
    fail(LLMC_ERR_LIMIT, "the activation arenas (" + std::to_string(plan_.arena_floats_per_token) + " floats per token x " +
                             std::to_string(T) + " tokens, " + std::to_string(plan_.arena_logit_floats_per_row) + " floats per logit row x " +
                             std::to_string(lim.max_logit_rows) + " rows) are too large; rebuild with a smaller --max-num-tokens");
  }
  arena_.allocate(*dev_, size_t(arena_floats) * sizeof(float), "activation arena");
  logit_arena_.allocate(*dev_, size_t(logit_floats) * sizeof(float), "logits arena");

  // Step arrays.
  max_seqs_ = std::max(lim.max_batch_size, 1);
  max_blocks_per_seq_ = int32_t((int64_t(lim.max_seq_len) + kvs.block_size - 1) / kvs.block_size);
  max_tiles_ = int32_t(T / llmc::kabi::kAttnPrefillRows + max_seqs_ + 1);
  int64_t at = 0;
  auto region = [&](int64_t n) {
    const int64_t o = at;
    at += round_up(std::max<int64_t>(n, 1), 16);  // 64-byte aligned regions
    return o;
  };
  meta_.token_ids = region(T);
  meta_.positions = region(T);
  meta_.seq_of_token = region(T);
  meta_.logit_rows = region(T);
  meta_.decode_rows = region(T);
  meta_.tiles = region(4 * int64_t(max_tiles_));
  meta_.block_tables = region(int64_t(max_seqs_) * max_blocks_per_seq_);
  meta_.shard_ids = region(T);
  meta_.total = at;
  meta_dev_.allocate(*dev_, size_t(meta_.total) * 4, "step arrays");
  meta_host_.reserve(*dev_, size_t(meta_.total) * 4, "step arrays (pinned)");

  // Decode attention split-K: chunks of split_size keys; at most 32 of them.
  const int64_t default_split = std::max<int64_t>(256, round_up((int64_t(lim.max_seq_len) + 31) / 32, 32));
  splits_.split_size = int32_t(round_up(env_int("LLMC_CUDA_DECODE_SPLIT", default_split), llmc::kabi::kAttnKeyTile));
  splits_.max_splits = int32_t((int64_t(lim.max_seq_len) + splits_.split_size - 1) / splits_.split_size);
  if (splits_.max_splits > 1) {
    const int64_t slots = int64_t(max_seqs_) * max_heads * splits_.max_splits;
    decode_part_.allocate(*dev_, size_t(slots * (max_head_dim_ + 2)) * 4, "decode attention split-K partials");
    splits_.part_o = decode_part_.get<float>();
    splits_.part_ml = splits_.part_o + slots * max_head_dim_;
  }
  // GEMM split-K partials: only used while the output has fewer tiles than the GPU has multiprocessors.
  const int64_t ws_floats = std::max(q_workspace_floats, std::min<int64_t>(int64_t(8) << 20, 16 * max_linear_out * std::min<int64_t>(T, 128)));
  gemm_ws_.allocate(*dev_, size_t(ws_floats) * 4, "GEMM split-K partials");
  lin_.lt = lt_.get();
  lin_.workspace = gemm_ws_.get<float>();
  lin_.workspace_floats = ws_floats;
  ids_dev_.allocate(*dev_, size_t(T) * 4, "argmax ids");
  ids_host_.reserve(*dev_, size_t(T) * 4, "argmax ids (pinned)");
  logits_host_.reserve(*dev_, size_t(std::max(lim.max_batch_size, 1)) * plan_.model.vocab_size * 4, "logits (pinned)");

  nodes_.reserve(plan_.nodes.size());
  for (const PlanNode& n : plan_.nodes) {
    BoundNode b;
    b.node = &n;
    for (int32_t id : n.inputs) b.in.push_back(id >= 0 ? bind(id) : Operand{});
    for (int32_t id : n.outputs) b.out.push_back(bind(id));
    if (n.op == OpId::split)
      for (const Operand& o : b.out) b.split_outs.push_back(o.act);
    nodes_.push_back(std::move(b));
  }
  logits_dev_ = plan_.logits_value >= 0 ? bind(plan_.logits_value).act : nullptr;  // -1: a rank without logits
  for (const runtime::PlanNode& n : plan_.nodes) {
    if (n.op != OpId::embedding_shard) continue;
    shard_vocab_start_ = std::get<runtime::EmbeddingShardAttrs>(n.attrs).vocab_start;
    shard_vocab_rows_ = plan_.values[n.inputs[0]].weight.shape[0];
  }

  use_graphs_ = !env_is("LLMC_CUDA_GRAPHS", "0");
  use_device_argmax_ = !env_is("LLMC_CUDA_DEVICE_ARGMAX", "0");
  measure_bandwidth();
}

CudaBackend::~CudaBackend() {
  try {
    dev_->make_current();
    dev_->api().cuStreamSynchronize(dev_->stream());
    for (auto& g : graphs_)
      if (g.second.exec != nullptr) dev_->api().cuGraphExecDestroy(g.second.exec);
  } catch (...) {
    // Destructors do not throw; the context is released by ~Device.
  }
}

// ---- load ------------------------------------------------------------------------------------------------------

void CudaBackend::load_fatbin() {
  const runtime::Manifest& m = engine_.manifest;
  const DeviceInfo& di = dev_->info();
  const std::string rebuild = runtime::rebuild_command_for_device(m, engine_.dir, di.cc_major, di.cc_minor);
  const char* override_path = std::getenv("LLMC_CUDA_FATBIN");
  std::string path;
  if (override_path != nullptr && override_path[0] != '\0') {
    path = override_path;
  } else if (dev_->emulated()) {
    dev_->load_kernels({}, "the emulated kernels", rebuild);
    return;
  } else {
    std::string why;
    if (!runtime::engine_has_code_for(m, di.cc_major, di.cc_minor, &why)) {
      fail(LLMC_ERR_UNSUPPORTED, "engine " + engine_.dir + " cannot run on this GPU (" + di.name + ", " + di.arch() + "): " + why +
                                     "; rebuild it: `" + rebuild + "`");
    }
    path = runtime::path_join(engine_.dir, m.target_fatbin);
  }
  runtime::MappedFile file;
  file.open(path, "the engine's kernels are missing; rebuild it: `" + rebuild + "`");
  fatbin_path_ = path;
  const std::vector<uint8_t> image(file.data(), file.data() + file.size());
  dev_->load_kernels(image, path, rebuild);
}

void CudaBackend::upload_weights() {
  const auto t0 = std::chrono::steady_clock::now();
  // Each weight at its own 256-byte aligned offset (dummy weights have no data-section offset).
  std::vector<int64_t> offset(plan_.values.size(), -1);
  int64_t total = 0;
  for (const runtime::PlanValue& v : plan_.values) {
    if (!v.is_weight()) continue;
    offset[v.id] = total;
    total += round_up(int64_t(v.weight.nbytes), 256);
  }
  weights_.allocate(*dev_, size_t(std::max<int64_t>(total, 256)), "weights");
  weight_ptrs_.assign(plan_.values.size(), nullptr);
  for (const runtime::PlanValue& v : plan_.values) {
    if (!v.is_weight()) continue;
    char* dst = weights_.get<char>() + offset[v.id];
    if (v.weight.data == nullptr) fail(LLMC_ERR_INTERNAL, "weight " + v.name + " has no data to upload");
    dev_->copy_to_device(dst, v.weight.data, v.weight.nbytes);
    weight_ptrs_[v.id] = dst;
  }
  upload_seconds_ = seconds_since(t0);
  // The host copy is not read again: let the kernel drop the mmapped pages from this process (they stay in the
  // page cache, and come back from the file if anything touches them).
  const uint8_t* data = engine_.file.data();
  const uint64_t size = engine_.file.size();
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (uintptr_t(data) + engine_.header.data_offset + page - 1) / page * page;
  const uintptr_t end = (uintptr_t(data) + size) / page * page;
  if (data != nullptr && end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

void CudaBackend::measure_bandwidth() {
  size_t free_b = 0, total_b = 0;
  dev_->mem_info(&free_b, &total_b);
  const size_t bytes = dev_->emulated() ? size_t(64) << 10 : std::min<size_t>(size_t(256) << 20, free_b / 8) / 16 * 16;
  if (bytes < (size_t(64) << 10)) return;
  DeviceBuffer a, b;
  a.allocate(*dev_, bytes, "bandwidth test");
  b.allocate(*dev_, bytes, "bandwidth test");
  dev_->memset_async(a.get(), 0, bytes);
  ops::copy(*dev_, a.get(), b.get(), int64_t(bytes));  // warm-up
  const DriverApi& api = dev_->api();
  CUevent e0 = nullptr, e1 = nullptr;
  dev_->check(api.cuEventCreate(&e0, CU_EVENT_DEFAULT), "cuEventCreate");
  dev_->check(api.cuEventCreate(&e1, CU_EVENT_DEFAULT), "cuEventCreate");
  const int iters = dev_->emulated() ? 1 : 20;
  api.cuEventRecord(e0, dev_->stream());
  for (int i = 0; i < iters; ++i) ops::copy(*dev_, (i & 1) ? b.get() : a.get(), (i & 1) ? a.get() : b.get(), int64_t(bytes));
  api.cuEventRecord(e1, dev_->stream());
  dev_->synchronize("the bandwidth measurement");
  float ms = 0;
  api.cuEventElapsedTime(&ms, e0, e1);
  api.cuEventDestroy(e0);
  api.cuEventDestroy(e1);
  if (ms > 0) bandwidth_gbs_ = 2.0 * double(bytes) * iters / (double(ms) * 1e-3) / 1e9;
}

CudaBackend::Operand CudaBackend::bind(int32_t value_id) {
  const runtime::PlanValue& v = plan_.values[value_id];
  Operand o;
  if (v.is_weight()) {
    o.w = weight_ptrs_[value_id];
    o.dtype = int(v.weight.dtype);
    o.width = v.weight.shape.back();
  } else if (v.act.rows == runtime::RowsKind::logit_rows) {
    o.act = logit_arena_.get<float>() + v.act.arena_offset * plan_.limits.max_logit_rows;
    o.rows = v.act.rows;
    o.width = v.act.width;
  } else {
    o.act = arena_.get<float>() + v.act.arena_offset * plan_.limits.max_num_tokens;
    o.rows = v.act.rows;
    o.width = v.act.width;
  }
  return o;
}

// ---- KV cache --------------------------------------------------------------------------------------------------

int32_t CudaBackend::fit_kv_blocks(int32_t requested, bool explicit_budget) {
  size_t free_b = 0, total_b = 0;
  dev_->mem_info(&free_b, &total_b);
  const int64_t block_bytes = runtime::kv_bytes_per_block(plan_.kv);
  const int64_t reserve = dev_->emulated() ? (int64_t(16) << 20) : std::max<int64_t>(int64_t(512) << 20, int64_t(total_b) / 50);
  const int64_t usable = int64_t(free_b) > reserve ? int64_t(free_b) - reserve : 0;
  const int64_t one_seq = (int64_t(plan_.limits.max_seq_len) + plan_.kv.block_size - 1) / plan_.kv.block_size;
  const std::string context = format_bytes(double(free_b)) + " of " + format_bytes(double(total_b)) + " free on " +
                              dev_->info().name + " after the weights (" + format_bytes(double(weights_.bytes())) +
                              ") and activations (" + format_bytes(double(arena_.bytes() + logit_arena_.bytes())) + ")";
  if (explicit_budget) {
    if (int64_t(requested) * block_bytes > usable) {
      fail(LLMC_ERR_LIMIT, "kv_cache_bytes asks for " + format_bytes(double(int64_t(requested) * block_bytes)) + " (" +
                               std::to_string(requested) + " blocks) but " + context + ", keeping " + format_bytes(double(reserve)) +
                               " spare; use --kv-cache-bytes " + std::to_string(usable / block_bytes * block_bytes) + " or less");
    }
    return requested;
  }
  const int64_t fit = int64_t(double(usable) * 0.9) / block_bytes;
  if (fit < one_seq) {
    fail(LLMC_ERR_LIMIT, "not enough GPU memory for the KV cache: " + context + ", which holds " + std::to_string(fit) +
                             " blocks, fewer than one sequence of max_seq_len " + std::to_string(plan_.limits.max_seq_len) +
                             " needs (" + std::to_string(one_seq) + "); rebuild with a smaller --max-seq-len or --max-num-tokens");
  }
  if (fit < requested) {
    if (!quiet_) {
      std::fprintf(stderr, "[llmc cuda] KV cache capped to %lld blocks (%lld tokens) by free GPU memory; the default (%d "
                           "sequences of max_seq_len) needs %d\n",
                   static_cast<long long>(fit), static_cast<long long>(fit * plan_.kv.block_size), plan_.limits.max_batch_size,
                   requested);
    }
    return int32_t(std::min<int64_t>(fit, INT32_MAX));
  }
  return requested;
}

void CudaBackend::allocate_kv_cache(int32_t num_blocks) {
  const int64_t block_bytes = runtime::kv_bytes_per_block(plan_.kv);
  kv_.allocate(*dev_, size_t(int64_t(num_blocks) * block_bytes), "KV cache");
  kv_blocks_ = num_blocks;
  if (quiet_) return;
  size_t free_b = 0, total_b = 0;
  dev_->mem_info(&free_b, &total_b);
  const DeviceInfo& di = dev_->info();
  std::fprintf(stderr,
               "[llmc cuda] %s (%s, %d SMs, %s): weights %s (uploaded in %.1f s), activations %s, KV cache %s = %d blocks "
               "x %d tokens, %s free; copy bandwidth %.0f GB/s%s\n",
               di.name.c_str(), di.arch().c_str(), di.sms, dev_->code_path().c_str(), format_bytes(double(weights_.bytes())).c_str(),
               upload_seconds_, format_bytes(double(arena_.bytes() + logit_arena_.bytes())).c_str(), format_bytes(double(kv_.bytes())).c_str(), num_blocks,
               plan_.kv.block_size, format_bytes(double(free_b)).c_str(), bandwidth_gbs_,
               lt_ ? "; cuBLASLt for f32 prefill GEMMs" : "");
}

// ---- steps -----------------------------------------------------------------------------------------------------

void CudaBackend::prepare_step(const StepBatch& step) {
  const runtime::Limits& lim = plan_.limits;
  if (step.num_tokens < 1 || step.num_tokens > lim.max_num_tokens || step.num_logit_rows < 0 ||
      step.num_logit_rows > step.num_tokens || step.num_logit_rows > lim.max_logit_rows) {
    fail(LLMC_ERR_INTERNAL, "bad step: " + std::to_string(step.num_tokens) + " tokens, " + std::to_string(step.num_logit_rows) + " logit rows");
  }
  if (step.num_seqs < 1 || int64_t(step.num_seqs) * step.max_blocks_per_seq > int64_t(max_seqs_) * max_blocks_per_seq_) {
    fail(LLMC_ERR_INTERNAL, "bad step: " + std::to_string(step.num_seqs) + " sequences x " + std::to_string(step.max_blocks_per_seq) +
                                " block-table entries exceed the CUDA backend's " + std::to_string(max_seqs_) + " x " +
                                std::to_string(max_blocks_per_seq_));
  }
  const int T = step.num_tokens, R = step.num_logit_rows;
  int32_t* h = meta_host_.get<int32_t>();
  std::memcpy(h + meta_.token_ids, step.token_ids, size_t(T) * 4);
  std::memcpy(h + meta_.positions, step.positions, size_t(T) * 4);
  std::memcpy(h + meta_.seq_of_token, step.seq_of_token, size_t(T) * 4);
  if (R > 0) std::memcpy(h + meta_.logit_rows, step.logit_rows, size_t(R) * 4);
  const int64_t bt = int64_t(step.num_seqs) * step.max_blocks_per_seq;
  std::memcpy(h + meta_.block_tables, step.block_tables, size_t(bt) * 4);
  int32_t num_tiles = 0, num_decode = 0;
  ops::plan_attention(step.seq_of_token, step.positions, T, h + meta_.tiles, &num_tiles, h + meta_.decode_rows, &num_decode);

  auto up = [&](int64_t off, int64_t n) { dev_->copy_to_device_async(meta_dev<int32_t>(off), h + off, size_t(n) * 4); };
  up(meta_.token_ids, T);
  up(meta_.positions, T);
  up(meta_.seq_of_token, T);
  up(meta_.logit_rows, R);
  up(meta_.decode_rows, num_decode);
  up(meta_.tiles, 4 * int64_t(num_tiles));
  up(meta_.block_tables, bt);
  if (shard_vocab_start_ >= 0) {  // embedding_shard: ids local to this rank's rows, -1 for the others'
    for (int t = 0; t < T; ++t) {
      const int64_t local = int64_t(step.token_ids[t]) - shard_vocab_start_;
      h[meta_.shard_ids + t] = local >= 0 && local < shard_vocab_rows_ ? int32_t(local) : -1;
    }
    up(meta_.shard_ids, T);
  }

  step_arrays_.positions = meta_dev(meta_.positions);
  step_arrays_.seq_of_token = meta_dev(meta_.seq_of_token);
  step_arrays_.block_tables = meta_dev(meta_.block_tables);
  step_arrays_.max_blocks_per_seq = step.max_blocks_per_seq;
  step_arrays_.decode_rows = meta_dev(meta_.decode_rows);
  step_arrays_.num_decode_rows = num_decode;
  step_arrays_.tiles = meta_dev(meta_.tiles);
  step_arrays_.num_tiles = num_tiles;
}

bool CudaBackend::graph_eligible(const StepBatch& step) const {
  if (step.num_seqs != step.num_tokens || step.num_logit_rows != step.num_tokens) return false;
  if (step.max_blocks_per_seq != max_blocks_per_seq_) return false;  // captured with this stride
  for (int i = 0; i < step.num_logit_rows; ++i)
    if (step.logit_rows[i] != i) return false;
  return true;
}

void CudaBackend::run_nodes(const StepBatch& step, bool argmax) {
  if (dump_.enabled()) dump_.begin_step();
  for (const BoundNode& b : nodes_) {
    dev_->set_launch_label(b.node->name.c_str());
    run_node(b, step);
    if (dump_.enabled()) dump_node(b, step);
  }
  dev_->set_launch_label("");
  if (argmax) ops::argmax(*dev_, logits_dev_, step.num_logit_rows, plan_.model.vocab_size, ids_dev_.get<int32_t>());
}

// LLMC_DUMP_DIR (llmc verify, debugging): each output of the node, copied to the host once its kernel is done.
void CudaBackend::dump_node(const BoundNode& b, const StepBatch& step) {
  for (size_t i = 0; i < b.out.size(); ++i) {
    const Operand& o = b.out[i];
    const int rows = rows_of(o, step);
    if (rows == 0) continue;
    dump_host_.resize(size_t(rows) * size_t(o.width));
    dev_->copy_to_host_async(dump_host_.data(), o.act, dump_host_.size() * sizeof(float));
    dev_->synchronize("an activation dump");
    dump_.write(op_name(b.node->op), plan_.values[b.node->outputs[i]].name, dump_host_.data(), rows, o.width);
  }
}

void CudaBackend::execute(const StepBatch& step, bool argmax) {
  if (!use_graphs_ || dump_.enabled() || !graph_eligible(step)) {   // a dumping step runs node by node
    run_nodes(step, argmax);
    return;
  }
  const DriverApi& api = dev_->api();
  const auto key = std::make_pair(step.num_tokens, argmax ? 1 : 0);
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    dev_->check(api.cuStreamBeginCapture(dev_->stream(), CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
    dev_->set_capturing(true);
    try {
      run_nodes(step, argmax);
    } catch (...) {
      dev_->set_capturing(false);
      CUgraph g = nullptr;
      api.cuStreamEndCapture(dev_->stream(), &g);
      if (g != nullptr) api.cuGraphDestroy(g);
      throw;
    }
    dev_->set_capturing(false);
    CUgraph g = nullptr;
    dev_->check(api.cuStreamEndCapture(dev_->stream(), &g), "cuStreamEndCapture (decode graph)");
    Graph graph;
    const CUresult r = api.cuGraphInstantiateWithFlags(&graph.exec, g, 0);
    api.cuGraphDestroy(g);
    dev_->check(r, "cuGraphInstantiateWithFlags (decode graph, batch " + std::to_string(step.num_tokens) + ")");
    it = graphs_.emplace(key, graph).first;
  }
  dev_->check(api.cuGraphLaunch(it->second.exec, dev_->stream()), "cuGraphLaunch (decode, batch " + std::to_string(step.num_tokens) + ")");
}

const float* CudaBackend::run_step(const StepBatch& step) {
  dev_->make_current();
  prepare_step(step);
  execute(step, false);
  const int64_t bytes = logits_dev_ != nullptr ? int64_t(step.num_logit_rows) * plan_.model.vocab_size * 4 : 0;
  if (bytes > 0) {
    logits_host_.reserve(*dev_, size_t(bytes), "logits (pinned)");
    dev_->copy_to_host_async(logits_host_.get(), logits_dev_, size_t(bytes));
  }
  if (nccl_) nccl_->synchronize_step("a step");
  else dev_->synchronize("a step");
  return logits_host_.get<float>();
}

const int32_t* CudaBackend::run_step_argmax(const StepBatch& step) {
  if (!use_device_argmax_) return nullptr;
  dev_->make_current();
  prepare_step(step);
  execute(step, true);
  dev_->copy_to_host_async(ids_host_.get(), ids_dev_.get(), size_t(step.num_logit_rows) * 4);
  dev_->synchronize("a step");
  return ids_host_.get<int32_t>();
}

void CudaBackend::attach_collectives(runtime::Collectives* c) {
  comm_ = c;
  dev_->make_current();
  nccl_ = std::make_unique<NcclCollectives>(*dev_, *c, plan_.mapping);
  use_graphs_ = false;       // NCCL calls are not captured into the decode graphs
  use_device_argmax_ = false;  // rank 0 samples from logits (the sharded wrapper has no argmax path)
}

void CudaBackend::run_node(const BoundNode& b, const StepBatch& step) {
  const PlanNode& n = *b.node;
  if (n.op == OpId::send) {  // the only op without an output
    const Operand& x = b.in[0];
    const int rows = rows_of(x, step);
    if (rows > 0) nccl_->send(x.act, int64_t(rows) * x.width * 4, std::get<runtime::PeerAttrs>(n.attrs).peer, n.name.c_str());
    return;
  }
  const Operand& out = b.out[0];
  const int rows = rows_of(out, step);
  if (rows == 0) return;
  const auto& in = b.in;
  Device& d = *dev_;
  const int32_t* tokens = meta_dev(meta_.token_ids);
  const int32_t* positions = meta_dev(meta_.positions);
  switch (n.op) {
    case OpId::embedding:
      ops::embedding(d, tokens, rows, in[0].w, in[0].dtype, out.width, std::get<runtime::EmbeddingAttrs>(n.attrs).scale, out.act);
      break;
    case OpId::pos_embedding:
      ops::pos_embedding(d, in[0].act, positions, rows, in[1].w, in[1].dtype, out.width,
                         std::get<runtime::PosEmbeddingAttrs>(n.attrs).offset, out.act);
      break;
    case OpId::rms_norm: {
      const auto& a = std::get<runtime::RmsNormAttrs>(n.attrs);
      ops::rms_norm(d, in[0].act, rows, out.width, in[1].w, in[1].dtype, a.eps, a.weight_offset, out.act);
      break;
    }
    case OpId::layer_norm: {
      const auto& a = std::get<runtime::LayerNormAttrs>(n.attrs);
      ops::layer_norm(d, in[0].act, rows, out.width, in[1].w, in[1].dtype, in[2].w, a.eps, out.act);
      break;
    }
    case OpId::linear:
      // y[rows, out] = x[rows, in] . w[out, in]^T (+ bias[out])
      ops::linear(d, lin_, in[0].act, rows, int(in[0].width), in[1].w, in[1].dtype, int(out.width), in[2].w, out.act);
      break;
    case OpId::linear_q: {
      // y[rows, out] = x[rows, in] . dequant(qweight)^T (+ bias[out]); codes stay codes on the device
      ops::QuantWeight w;
      w.q = in[1].w;
      w.qtype = in[1].dtype;
      w.scales = static_cast<const float*>(in[2].w);
      w.offsets = static_cast<const float*>(in[3].w);
      w.perm = static_cast<const int32_t*>(in[5].w);
      w.input_scale = in.size() > 6 ? static_cast<const float*>(in[6].w) : nullptr;
      w.group_size = int(std::get<runtime::LinearQAttrs>(n.attrs).group_size);
      w.activation_bits = std::get<runtime::LinearQAttrs>(n.attrs).activation_bits;
      ops::linear_q(d, lin_, in[0].act, rows, int(in[0].width), w, int(out.width), in[4].w, in[4].dtype, out.act);
      break;
    }
    // The CPU fusions (docs/cpu-kernels.md) run here as their two parts, with the same kernels and results.
    case OpId::linear_act:
      ops::linear(d, lin_, in[0].act, rows, int(in[0].width), in[1].w, in[1].dtype, int(out.width), in[2].w, out.act);
      ops::activation(d, out.act, int64_t(rows) * out.width, int(std::get<runtime::ActivationAttrs>(n.attrs).kind), out.act);
      break;
    case OpId::linear_rope: {
      // The linear, then rope in place on its leading heads (q's, k's) with the row stride of the qkv output.
      const auto& a = std::get<runtime::RopeAttrs>(n.attrs);
      ops::linear(d, lin_, in[0].act, rows, int(in[0].width), in[1].w, in[1].dtype, int(out.width), in[3].w, out.act);  // x, w, inv_freq, bias
      ops::rope(d, out.act, rows, positions, a.num_heads, a.head_dim, a.rotary_dim, static_cast<const float*>(in[2].w),
                int(a.style), out.act, out.width);
      break;
    }
    case OpId::add_rms_norm: {  // outputs: sum, out
      const auto& a = std::get<runtime::RmsNormAttrs>(n.attrs);
      ops::add(d, in[0].act, in[1].act, int64_t(rows) * out.width, out.act);
      ops::rms_norm(d, out.act, rows, out.width, in[2].w, in[2].dtype, a.eps, a.weight_offset, b.out[1].act);
      break;
    }
    case OpId::add_layer_norm: {
      const auto& a = std::get<runtime::LayerNormAttrs>(n.attrs);
      ops::add(d, in[0].act, in[1].act, int64_t(rows) * out.width, out.act);
      ops::layer_norm(d, out.act, rows, out.width, in[2].w, in[2].dtype, in[3].w, a.eps, b.out[1].act);
      break;
    }
    case OpId::rope: {
      const auto& a = std::get<runtime::RopeAttrs>(n.attrs);
      ops::rope(d, in[0].act, rows, positions, a.num_heads, a.head_dim, a.rotary_dim, static_cast<const float*>(in[1].w),
                int(a.style), out.act);
      break;
    }
    case OpId::attention: {
      const auto& a = std::get<runtime::AttentionAttrs>(n.attrs);
      const runtime::KvCacheSpec& kv = plan_.kv;
      ops::AttentionCall c{};
      c.q = in[0].act;
      c.k = in[1].act;
      c.v = in[2].act;
      c.out = out.act;
      c.rows = rows;
      const cpu::KvBlockLayout layout = kv.layout();
      c.kv.block_stride = layout.block_bytes;
      // Layer l's blocks (kv_block_layout bytes each) start at block l * num_blocks.
      c.kv.layer_base = kv_.get<uint8_t>() + int64_t(a.layer) * kv_blocks_ * c.kv.block_stride;
      c.kv.v_offset = layout.v_offset;
      c.kv.scale_offset = layout.scale_offset;
      c.kv.block_size = kv.block_size;
      c.kv.num_kv_heads = kv.num_kv_heads;
      c.kv.head_dim = kv.head_dim;
      c.kv.dtype = int32_t(kv.dtype);
      c.num_heads = a.num_heads;
      c.num_kv_heads = a.num_kv_heads;
      c.head_dim = a.head_dim;
      c.scale = a.scale;
      c.sliding_window = a.sliding_window;
      c.alibi_slopes = static_cast<const float*>(in[3].w);
      ops::attention(d, c, step_arrays_, splits_);
      break;
    }
    case OpId::add: ops::add(d, in[0].act, in[1].act, int64_t(rows) * out.width, out.act); break;
    case OpId::mul: ops::mul(d, in[0].act, in[1].act, int64_t(rows) * out.width, out.act); break;
    case OpId::activation:
      ops::activation(d, in[0].act, int64_t(rows) * out.width, int(std::get<runtime::ActivationAttrs>(n.attrs).kind), out.act);
      break;
    case OpId::gated_activation:
      ops::gated_activation(d, in[0].act, in[1].act, int64_t(rows) * out.width,
                            int(std::get<runtime::ActivationAttrs>(n.attrs).kind), out.act);
      break;
    case OpId::split: {
      const auto& a = std::get<runtime::SplitAttrs>(n.attrs);
      ops::split(d, in[0].act, rows, a.sizes.data(), int(a.sizes.size()), b.split_outs.data());
      break;
    }
    case OpId::select_rows: ops::select_rows(d, in[0].act, out.width, meta_dev(meta_.logit_rows), rows, out.act); break;
    case OpId::all_reduce:
      d.copy_device_to_device_async(out.act, in[0].act, size_t(rows) * size_t(out.width) * 4);
      nccl_->all_reduce_sum(out.act, int64_t(rows) * out.width, n.name.c_str());
      break;
    case OpId::all_gather: {
      const auto& a = std::get<runtime::AllGatherAttrs>(n.attrs);
      nccl_->all_gather_cols(in[0].act, rows, a.sizes.data(), int32_t(a.sizes.size()), out.act, n.name.c_str());
      break;
    }
    case OpId::recv:
      nccl_->recv(out.act, int64_t(rows) * out.width * 4, std::get<runtime::PeerAttrs>(n.attrs).peer, n.name.c_str());
      break;
    case OpId::embedding_shard:
      ops::embedding(d, meta_dev(meta_.shard_ids), rows, in[0].w, in[0].dtype, out.width,
                     std::get<runtime::EmbeddingShardAttrs>(n.attrs).scale, out.act);
      break;
    default: fail(LLMC_ERR_UNSUPPORTED, std::string("the CUDA backend does not implement op ") + llmc::op_name(n.op));
  }
}

std::string CudaBackend::info_json_fields() const {
  const DeviceInfo& di = dev_->info();
  char bw[64];
  std::snprintf(bw, sizeof bw, "%.1f", bandwidth_gbs_);
  std::string s;
  s += "\"device\": " + json::quote(di.name);
  s += ", \"compute_capability\": " + json::quote(std::to_string(di.cc_major) + "." + std::to_string(di.cc_minor));
  s += ", \"multiprocessors\": " + std::to_string(di.sms);
  s += ", \"device_memory_bytes\": " + std::to_string(di.total_bytes);
  s += ", \"kernels\": " + json::quote(dev_->code_path());
  s += ", \"fatbin\": " + json::quote(fatbin_path_);
  s += ", \"device_bandwidth_gb_s\": " + std::string(bw);
  s += ", \"cuda_graphs\": " + std::string(use_graphs_ ? "true" : "false");
  s += ", \"cublaslt\": " + json::quote(lt_ ? lt_->library() : "off (" + lt_why_ + ")");
  s += ", \"decode_split_size\": " + std::to_string(splits_.split_size);
  return s;
}

}  // namespace llmc::cuda
