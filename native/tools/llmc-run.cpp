// llmc-run: the standalone runner for machines without Node (GPU boxes, benchmarks). A thin client of llmc.h.
//
//   llmc-run ENGINE_DIR --token-ids 5,17,42 [--max-new-tokens N] [--temperature T --top-k K --top-p P
//            --repetition-penalty R --seed S] [--ignore-eos] [--logits-out FILE] [--json] [--threads N]
//            [--backend cpu|cuda] [--kv-cache-bytes B]
//   llmc-run ENGINE_DIR --bench [--prompt-len 128 --gen-len 128] [--threads N] [--json]
//
// Sharded engines (docs/parallel.md): `mpirun -np N llmc-run ENGINE ...` (rank 0 prints; llmc_mpi.so next to
// llmc-run, built by CMake where MPI is found).
// Exit status: 0 ok, 1 runtime error, 2 bad command line; errors are one `error: ...` line on stderr.
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../runtime/json.h"
#include "llmc/llmc.h"

namespace {

const char* kUsage =
    "usage: llmc-run ENGINE_DIR --token-ids 5,17,42 [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P]\n"
    "                [--repetition-penalty R] [--seed S] [--ignore-eos] [--logits-out FILE] [--json] [--threads N]\n"
    "                [--backend cpu|cuda] [--kv-cache-bytes B]\n"
    "       llmc-run ENGINE_DIR --bench [--prompt-len 128] [--gen-len 128] [--threads N] [--seed S] [--backend B] [--json]\n"
    "--backend defaults to the engine's target (config.json target.backend): cuda engines run on the GPU.\n";

struct Options {
  std::string engine_dir;
  std::vector<int32_t> token_ids;
  bool have_token_ids = false;
  int32_t max_new_tokens = 32;
  llmc_sampling_params sampling{0.0f, 0, 1.0f, 1.0f, 0};
  bool ignore_eos = false;
  std::string logits_out;
  bool json = false;
  int32_t threads = 0;
  std::string backend;  // "" = the engine's target backend
  int64_t kv_cache_bytes = 0;
  bool bench = false;
  int32_t prompt_len = 128;
  int32_t gen_len = 128;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  std::exit(2);
}

[[noreturn]] void runtime_error(const char* what) {
  std::fprintf(stderr, "error: %s%s\n", what, llmc_last_error());
  std::exit(1);
}

// ---- Flag parsing ------------------------------------------------------------------------------------------------

const char* const kValueFlags[] = {"--token-ids", "--max-new-tokens", "--temperature", "--top-k", "--top-p",
                                   "--repetition-penalty", "--seed", "--logits-out", "--threads", "--backend",
                                   "--kv-cache-bytes", "--prompt-len", "--gen-len"};
const char* const kBoolFlags[] = {"--ignore-eos", "--json", "--bench", "--help"};

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min(std::min(prev[j] + 1, cur[j - 1] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
    }
    prev.swap(cur);
  }
  return prev[b.size()];
}

[[noreturn]] void unknown_flag(const std::string& flag) {
  std::string best;
  size_t best_d = 4;
  auto consider = [&](const char* f) {
    size_t d = edit_distance(flag, f);
    if (d < best_d) {
      best_d = d;
      best = f;
    }
  };
  for (const char* f : kValueFlags) consider(f);
  for (const char* f : kBoolFlags) consider(f);
  usage_error("unknown flag " + flag + (best.empty() ? std::string(" (see llmc-run --help)") : "; did you mean " + best + "?"));
}

int64_t parse_int(const std::string& flag, const std::string& s, int64_t lo, int64_t hi) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0 || v < lo || v > hi) {
    usage_error(flag + " expects an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got \"" + s + "\"");
  }
  return v;
}

double parse_number(const std::string& flag, const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v == v)) usage_error(flag + " expects a number, got \"" + s + "\"");
  return v;
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    ids.push_back(static_cast<int32_t>(parse_int("--token-ids", part, 0, INT32_MAX)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

Options parse_args(int argc, char** argv) {
  Options o;
  bool explicit_max_new = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      if (!o.engine_dir.empty()) usage_error("unexpected argument \"" + arg + "\" (the engine directory is already " + o.engine_dir + ")");
      o.engine_dir = arg;
      continue;
    }
    std::string value;
    bool has_inline = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline = true;
    }
    bool is_value_flag = false;
    for (const char* f : kValueFlags) is_value_flag = is_value_flag || arg == f;
    bool is_bool_flag = false;
    for (const char* f : kBoolFlags) is_bool_flag = is_bool_flag || arg == f;
    if (!is_value_flag && !is_bool_flag) unknown_flag(arg);
    if (is_bool_flag && has_inline) usage_error(arg + " takes no value");
    if (is_value_flag && !has_inline) {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      value = argv[++i];
    }
    if (arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--token-ids") {
      o.token_ids = parse_ids(value);
      o.have_token_ids = true;
    } else if (arg == "--max-new-tokens") {
      o.max_new_tokens = static_cast<int32_t>(parse_int(arg, value, 0, INT32_MAX));
      explicit_max_new = true;
    } else if (arg == "--temperature") {
      o.sampling.temperature = static_cast<float>(parse_number(arg, value));
      if (!(o.sampling.temperature >= 0)) usage_error("--temperature must be >= 0 (0 = greedy), got " + value);
    } else if (arg == "--top-k") {
      o.sampling.top_k = static_cast<int32_t>(parse_int(arg, value, 0, INT32_MAX));
    } else if (arg == "--top-p") {
      o.sampling.top_p = static_cast<float>(parse_number(arg, value));
      if (!(o.sampling.top_p > 0 && o.sampling.top_p <= 1)) usage_error("--top-p must be in (0, 1], got " + value);
    } else if (arg == "--repetition-penalty") {
      o.sampling.repetition_penalty = static_cast<float>(parse_number(arg, value));
      if (!(o.sampling.repetition_penalty > 0)) usage_error("--repetition-penalty must be > 0, got " + value);
    } else if (arg == "--seed") {
      o.sampling.seed = static_cast<uint64_t>(parse_int(arg, value, 0, INT64_MAX));
    } else if (arg == "--logits-out") {
      if (value.empty()) usage_error("--logits-out needs a file name");
      o.logits_out = value;
    } else if (arg == "--threads") {
      o.threads = static_cast<int32_t>(parse_int(arg, value, 0, 4096));
    } else if (arg == "--backend") {
      if (value != "cpu" && value != "cuda") usage_error("--backend must be cpu or cuda, got \"" + value + "\"");
      o.backend = value;
    } else if (arg == "--kv-cache-bytes") {
      o.kv_cache_bytes = parse_int(arg, value, 0, INT64_MAX);
    } else if (arg == "--prompt-len") {
      o.prompt_len = static_cast<int32_t>(parse_int(arg, value, 1, INT32_MAX));
    } else if (arg == "--gen-len") {
      o.gen_len = static_cast<int32_t>(parse_int(arg, value, 1, INT32_MAX));
    } else if (arg == "--ignore-eos") {
      o.ignore_eos = true;
    } else if (arg == "--json") {
      o.json = true;
    } else if (arg == "--bench") {
      o.bench = true;
    }
  }
  if (o.engine_dir.empty()) usage_error("missing ENGINE_DIR (usage: llmc-run ENGINE_DIR --token-ids 1,2,3)");
  if (o.bench) {
    if (o.have_token_ids) usage_error("--bench makes its own random prompt; drop --token-ids (or use --prompt-len)");
    if (explicit_max_new) usage_error("--bench uses --gen-len, not --max-new-tokens");
    if (!o.logits_out.empty()) usage_error("--bench does not write logits; drop --logits-out");
  } else if (!o.have_token_ids) {
    usage_error("missing --token-ids (comma-separated prompt ids, e.g. --token-ids 1,450,4996), or use --bench");
  }
  return o;
}

// ---- Running -------------------------------------------------------------------------------------------------------

llmc_engine* volatile g_engine = nullptr;

void on_sigint(int) {
  if (g_engine != nullptr) llmc_engine_cancel(g_engine);  // lock-free: the request stops after its current step
}

const char* stop_reason_name(int32_t r) {
  switch (r) {
    case LLMC_STOP_LENGTH: return "length";
    case LLMC_STOP_EOS: return "eos";
    case LLMC_STOP_CALLBACK: return "callback";
    case LLMC_STOP_CANCELLED: return "cancelled";
    default: return "none";
  }
}

struct EngineInfo {
  int64_t vocab_size = 0, max_seq_len = 0, decode_weight_bytes = 0, threads = 0;
  double device_bandwidth_gb_s = 0;  // CUDA backend: measured at load (copy kernel, read + write)
  std::string simd, backend, device;
  std::vector<int32_t> eos_ids;
};

EngineInfo read_info(llmc_engine* e) {
  EngineInfo info;
  const char* text = llmc_engine_info_json(e);
  try {
    llmc::json::Value v = llmc::json::parse(text);
    auto integer = [&](const char* key) {
      const llmc::json::Value* x = v.find(key);
      return x != nullptr && x->is_integer() ? x->as_int64() : int64_t{0};
    };
    auto string = [&](const char* key) {
      const llmc::json::Value* x = v.find(key);
      return x != nullptr && x->is_string() ? x->as_string() : std::string();
    };
    info.vocab_size = integer("vocab_size");
    info.max_seq_len = integer("max_seq_len");
    info.decode_weight_bytes = integer("decode_weight_bytes");
    info.threads = integer("threads");
    info.simd = string("simd");
    info.backend = string("backend");
    info.device = string("device");
    if (const llmc::json::Value* bw = v.find("device_bandwidth_gb_s"); bw != nullptr && bw->is_number()) {
      info.device_bandwidth_gb_s = bw->as_double();
    }
    if (const llmc::json::Value* eos = v.find("eos_token_ids"); eos != nullptr && eos->is_array()) {
      for (const auto& id : eos->as_array()) {
        if (id.is_integer()) info.eos_ids.push_back(static_cast<int32_t>(id.as_int64()));
      }
    }
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "error: engine info is not JSON (%s)\n", ex.what());
    std::exit(1);
  }
  return info;
}

struct StreamState {
  bool print = false;
  bool started = false;  // "output_ids:" is printed with the first token, so an early error stays on one line
};

int print_token(void* user, int32_t token_id, int32_t) {
  auto* s = static_cast<StreamState*>(user);
  if (s->print) {
    std::printf("%s %d", s->started ? "" : "output_ids:", token_id);
    s->started = true;
    std::fflush(stdout);
  }
  return 0;
}

int run_generate(llmc_engine* e, const Options& o, const EngineInfo& info) {
  std::vector<int32_t> out(static_cast<size_t>(o.max_new_tokens) + 1);
  llmc_request_params p{};
  p.prompt = o.token_ids.data();
  p.prompt_len = static_cast<int32_t>(o.token_ids.size());
  p.max_new_tokens = o.max_new_tokens;
  p.sampling = o.sampling;
  p.eos_ids = info.eos_ids.data();
  p.num_eos_ids = static_cast<int32_t>(info.eos_ids.size());
  p.ignore_eos = o.ignore_eos ? 1 : 0;
  p.logits_path = o.logits_out.empty() ? nullptr : o.logits_out.c_str();
  StreamState stream{!o.json};
  p.on_token = print_token;
  p.user = &stream;
  llmc_generate_result r{};
  r.output_ids = out.data();
  if (llmc_generate(e, &p, &r) != LLMC_OK) {
    if (stream.started) std::printf("\n");
    runtime_error("");
  }
  if (o.json) {
    std::printf("{\"output_ids\": [");
    for (int32_t i = 0; i < r.num_output; ++i) std::printf("%s%d", i ? ", " : "", out[i]);
    std::printf("], \"logits_shape\": [%d, %lld], \"stop_reason\": \"%s\", \"prefill_ms\": %.3f, \"decode_ms\": %.3f}\n",
                r.logits_rows, static_cast<long long>(info.vocab_size), stop_reason_name(r.stop_reason), r.prefill_ms, r.decode_ms);
  } else {
    std::printf("%s\nstop_reason: %s, prefill %.1f ms (%d tokens), decode %.1f ms", stream.started ? "" : "output_ids:",
                stop_reason_name(r.stop_reason), r.prefill_ms, p.prompt_len, r.decode_ms);
    if (r.num_output > 1 && r.decode_ms > 0) std::printf(" (%.1f tok/s)", (r.num_output - 1) / (r.decode_ms / 1e3));
    std::printf("\n");
    if (r.logits_rows > 0) std::printf("logits: %d x %lld float32 -> %s\n", r.logits_rows, static_cast<long long>(info.vocab_size), o.logits_out.c_str());
  }
  return 0;
}

int run_bench(llmc_engine* e, const Options& o, const EngineInfo& info) {
  if (int64_t{o.prompt_len} + o.gen_len > info.max_seq_len) {
    usage_error("--prompt-len " + std::to_string(o.prompt_len) + " + --gen-len " + std::to_string(o.gen_len) +
                " exceeds the engine's max_seq_len " + std::to_string(info.max_seq_len));
  }
  // Random prompt (splitmix64 from --seed), greedy, EOS ignored so every run decodes gen_len tokens.
  std::vector<int32_t> prompt(static_cast<size_t>(o.prompt_len));
  uint64_t s = o.sampling.seed;
  for (int32_t& t : prompt) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    t = static_cast<int32_t>((z ^ (z >> 31)) % static_cast<uint64_t>(info.vocab_size));
  }
  std::vector<int32_t> out(static_cast<size_t>(o.gen_len));
  auto generate = [&](int32_t plen, int32_t gen, llmc_generate_result* r) {
    llmc_request_params p{};
    p.prompt = prompt.data();
    p.prompt_len = plen;
    p.max_new_tokens = gen;
    p.sampling = llmc_sampling_params{0.0f, 0, 1.0f, 1.0f, 0};
    p.ignore_eos = 1;
    *r = llmc_generate_result{};
    r->output_ids = out.data();
    if (llmc_generate(e, &p, r) != LLMC_OK) runtime_error("");
  };
  llmc_generate_result warm, r;
  generate(std::min<int32_t>(o.prompt_len, 8), std::min<int32_t>(o.gen_len, 2), &warm);  // page in the weights
  generate(o.prompt_len, o.gen_len, &r);
  const bool on_device = info.backend == "cuda" && info.device_bandwidth_gb_s > 0;
  const double bandwidth = on_device ? info.device_bandwidth_gb_s : llmc_measure_memory_bandwidth(o.threads, 1.0);
  const double prefill_tps = r.prefill_ms > 0 ? o.prompt_len / (r.prefill_ms / 1e3) : 0;
  const double decode_tps = r.num_output > 1 && r.decode_ms > 0 ? (r.num_output - 1) / (r.decode_ms / 1e3) : 0;
  const double achieved = static_cast<double>(info.decode_weight_bytes) * decode_tps / 1e9;
  const double mbu = bandwidth > 0 ? achieved / bandwidth : 0;
  if (o.json) {
    std::printf("{\"prompt_len\": %d, \"gen_len\": %d, \"prefill_ms\": %.3f, \"decode_ms\": %.3f, \"prefill_tok_s\": %.2f, "
                "\"decode_tok_s\": %.2f, \"decode_weight_bytes\": %lld, \"measured_bandwidth_gb_s\": %.2f, "
                "\"achieved_gb_s\": %.2f, \"mbu\": %.4f, \"backend\": \"%s\", \"simd\": \"%s\", \"threads\": %lld}\n",
                o.prompt_len, r.num_output, r.prefill_ms, r.decode_ms, prefill_tps, decode_tps,
                static_cast<long long>(info.decode_weight_bytes), bandwidth, achieved, mbu, info.backend.c_str(),
                info.simd.c_str(), static_cast<long long>(info.threads));
  } else {
    if (on_device) {
      std::printf("engine %s: backend cuda on %s\n", o.engine_dir.c_str(), info.device.c_str());
    } else {
      std::printf("engine %s: backend %s, simd %s, %lld threads\n", o.engine_dir.c_str(), info.backend.c_str(), info.simd.c_str(),
                  static_cast<long long>(info.threads));
    }
    std::printf("prefill: %d tokens in %.1f ms = %.1f tok/s\n", o.prompt_len, r.prefill_ms, prefill_tps);
    std::printf("decode:  %d tokens in %.1f ms = %.2f tok/s\n", r.num_output - 1, r.decode_ms, decode_tps);
    std::printf("weights read per decode step: %.1f MB\n", info.decode_weight_bytes / 1e6);
    std::printf("memory bandwidth: measured %.1f GB/s (%s), achieved %.1f GB/s, MBU %.0f%%\n", bandwidth,
                on_device ? "device copy, read + write" : "host streaming read", achieved, 100 * mbu);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  llmc_load_options lo{};
  lo.backend = o.backend.empty() ? nullptr : o.backend.c_str();
  lo.num_threads = o.threads;
  lo.kv_cache_bytes = o.kv_cache_bytes;
  llmc_engine* e = nullptr;
  if (llmc_engine_load(o.engine_dir.c_str(), &lo, &e) != LLMC_OK) runtime_error("");
  // A sharded engine under `mpirun -np N llmc-run ...`: every rank loaded its own rank<r>.engine; the ranks
  // other than 0 follow rank 0's steps and print nothing.
  if (const char* info_text = llmc_engine_info_json(e); std::strstr(info_text, "\"rank\": 0,") == nullptr) {
    const int st = llmc_engine_follow(e);
    llmc_engine_free(e);
    if (st != LLMC_OK) runtime_error("");
    return 0;
  }
  g_engine = e;
  std::signal(SIGINT, on_sigint);
  EngineInfo info = read_info(e);
  int rc = o.bench ? run_bench(e, o, info) : run_generate(e, o, info);
  std::signal(SIGINT, SIG_DFL);
  g_engine = nullptr;
  llmc_engine_free(e);
  return rc;
}
