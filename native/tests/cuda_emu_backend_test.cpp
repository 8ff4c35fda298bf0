// cuda_emu_backend_test: the whole CUDA backend (engine load, weight upload, step arrays, every launcher, decode
// CUDA graphs, device argmax, KV sizing, info JSON) run on the CPU emulator and compared with the CPU backend on the
// same engine: logits of prefill and decode, greedy tokens, llmc_score, and in-flight batching with mixed
// prefill/decode steps.
//
//   cuda_emu_backend_test                       a synthetic llama-like engine written here
//   cuda_emu_backend_test ENGINE_DIR [--token-ids 1,2,3] [--max-new-tokens N]
//                                               any engine (the jest suite runs golden-fixture engines)
//   cuda_emu_backend_test --gpu ENGINE_DIR ...  the same comparison with the real driver and GPU (a cpu-target
//                                               engine needs LLMC_CUDA_FATBIN=native/build/llmc.fatbin)
// Exit status 0 when every check passes.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../cuda/cuda_driver.h"
#include "../cuda/emu/emu_driver.h"
#include "../runtime/json.h"
#include "llmc/llmc.h"
#include "synthetic_engine.h"

namespace {

int g_failures = 0, g_cases = 0;

void expect(const std::string& name, bool ok, const std::string& detail = "") {
  ++g_cases;
  if (!ok) ++g_failures;
  std::printf("  %s  %-66s %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
}

llmc_engine* load(const std::string& dir, const char* backend) {
  llmc_load_options o{};
  o.backend = backend;
  llmc_engine* e = nullptr;
  if (llmc_engine_load(dir.c_str(), &o, &e) != LLMC_OK) {
    std::printf("error: loading %s with backend %s: %s\n", dir.c_str(), backend, llmc_last_error());
    std::exit(1);
  }
  return e;
}

std::vector<float> read_floats(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

struct Run {
  std::vector<int32_t> tokens;
  std::vector<float> logits;
};

Run generate(llmc_engine* e, const std::vector<int32_t>& prompt, int max_new, const std::string& logits_path) {
  Run r;
  r.tokens.resize(size_t(max_new));
  llmc_request_params p{};
  p.prompt = prompt.data();
  p.prompt_len = int32_t(prompt.size());
  p.max_new_tokens = max_new;
  p.sampling = llmc_sampling_params{0.0f, 0, 1.0f, 1.0f, 0};
  p.ignore_eos = 1;
  p.logits_path = logits_path.c_str();
  llmc_generate_result res{};
  res.output_ids = r.tokens.data();
  if (llmc_generate(e, &p, &res) != LLMC_OK) {
    std::printf("error: generate: %s\n", llmc_last_error());
    std::exit(1);
  }
  r.tokens.resize(size_t(res.num_output));
  r.logits = read_floats(logits_path);
  return r;
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return INFINITY;
  double m = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::fabs(double(b[i])));
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
  }
  return scale > 0 ? m / scale : m;
}

std::string join(const std::vector<int32_t>& v) {
  std::string s;
  for (int32_t x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

// Greedy generation with logits on both backends.
void compare_generate(llmc_engine* cpu, llmc_engine* gpu, const std::vector<int32_t>& prompt, int max_new, const std::string& tmp,
                      const std::string& label) {
  const Run a = generate(cpu, prompt, max_new, tmp + "/cpu.logits");
  const int64_t launches0 = llmc_emu::stats().graph_launches;
  const Run b = generate(gpu, prompt, max_new, tmp + "/cuda.logits");
  const double d = max_rel_diff(b.logits, a.logits);
  char detail[160];
  std::snprintf(detail, sizeof detail, "max |diff| / max |logit| = %.2e over %zu logits", d, a.logits.size());
  expect(label + ": logits of every prefill and decode row", d < 1e-4, detail);
  expect(label + ": greedy tokens", a.tokens == b.tokens, "cpu " + join(a.tokens) + " | cuda " + join(b.tokens));
  if (max_new > 2) {
    expect(label + ": decode steps replayed as CUDA graphs", llmc_emu::stats().graph_launches > launches0,
           std::to_string(llmc_emu::stats().graph_launches - launches0) + " graph launches");
  }
}

// Greedy without a logits file: the device-argmax path (only ids leave the device).
void compare_greedy_ids(llmc_engine* cpu, llmc_engine* gpu, const std::vector<int32_t>& prompt, int max_new, const std::string& label) {
  auto run = [&](llmc_engine* e) {
    std::vector<int32_t> out(static_cast<size_t>(max_new));
    llmc_request_params p{};
    p.prompt = prompt.data();
    p.prompt_len = int32_t(prompt.size());
    p.max_new_tokens = max_new;
    p.sampling = llmc_sampling_params{0.0f, 0, 1.0f, 1.0f, 0};
    p.ignore_eos = 1;
    llmc_generate_result r{};
    r.output_ids = out.data();
    if (llmc_generate(e, &p, &r) != LLMC_OK) {
      std::printf("error: generate: %s\n", llmc_last_error());
      std::exit(1);
    }
    out.resize(size_t(r.num_output));
    return out;
  };
  const int64_t argmax0 = llmc_emu::launches_of("llmc_argmax");
  const auto a = run(cpu), b = run(gpu);
  expect(label + ": greedy tokens without logits (device argmax)", a == b && llmc_emu::launches_of("llmc_argmax") > argmax0,
         "cpu " + join(a) + " | cuda " + join(b) + " (" + std::to_string(llmc_emu::launches_of("llmc_argmax") - argmax0) +
             " argmax launches)");
}

void compare_score(llmc_engine* cpu, llmc_engine* gpu, const std::vector<int32_t>& tokens, const std::string& label) {
  double na = 0, nb = 0;
  int32_t ca = 0, cb = 0;
  const bool ok = llmc_score(cpu, tokens.data(), int32_t(tokens.size()), &na, &ca) == LLMC_OK &&
                  llmc_score(gpu, tokens.data(), int32_t(tokens.size()), &nb, &cb) == LLMC_OK;
  char detail[96];
  std::snprintf(detail, sizeof detail, "nll cpu %.6f cuda %.6f", na, nb);
  expect(label + ": llmc_score (every row's logits)", ok && ca == cb && std::fabs(na - nb) <= 1e-4 * std::max(1.0, std::fabs(na)), detail);
}

// In-flight batching: requests of different lengths, so steps mix prefill chunks and decode tokens.
void compare_batched(llmc_engine* cpu, llmc_engine* gpu, int vocab, const std::string& label) {
  struct Spec {
    int prompt, max_new;
  };
  const Spec specs[] = {{5, 9}, {19, 4}, {1, 12}, {33, 6}, {2, 3}, {9, 9}};
  auto run = [&](llmc_engine* e) {
    llmc_executor* ex = nullptr;
    if (llmc_executor_create(e, &ex) != LLMC_OK) {
      std::printf("error: executor: %s\n", llmc_last_error());
      std::exit(1);
    }
    std::vector<std::vector<int32_t>> prompts;
    uint64_t seed = 99;
    for (const Spec& s : specs) {
      std::vector<int32_t> p(size_t(s.prompt));
      for (auto& t : p) t = int32_t(synth::next_random(seed) % uint64_t(vocab));
      prompts.push_back(p);
    }
    std::vector<std::vector<int32_t>> out(std::size(specs));
    for (size_t i = 0; i < std::size(specs); ++i) {
      llmc_request_params p{};
      p.prompt = prompts[i].data();
      p.prompt_len = int32_t(prompts[i].size());
      p.max_new_tokens = specs[i].max_new;
      p.sampling = llmc_sampling_params{0.0f, 0, 1.0f, 1.0f, 0};
      p.ignore_eos = 1;
      int64_t id = 0;
      if (llmc_executor_add(ex, &p, &id) != LLMC_OK) {
        std::printf("error: add: %s\n", llmc_last_error());
        std::exit(1);
      }
    }
    llmc_step_event ev[16];
    int32_t n = 0, active = 1;
    while (active > 0) {
      if (llmc_executor_step(ex, ev, 16, &n, &active) != LLMC_OK) {
        std::printf("error: step: %s\n", llmc_last_error());
        std::exit(1);
      }
      for (int i = 0; i < n; ++i)
        if (ev[i].token_id >= 0) out[size_t(ev[i].request_id - 1)].push_back(ev[i].token_id);
    }
    llmc_executor_free(ex);
    return out;
  };
  const auto a = run(cpu), b = run(gpu);
  std::string detail;
  bool same = true;
  for (size_t i = 0; i < a.size(); ++i) {
    same &= a[i] == b[i];
    if (a[i] != b[i]) detail += "request " + std::to_string(i + 1) + ": cpu " + join(a[i]) + " | cuda " + join(b[i]) + "; ";
  }
  expect(label + ": in-flight batching, 6 requests, mixed prefill/decode steps", same, detail);
}

void check_info(llmc_engine* gpu) {
  const std::string info = llmc_engine_info_json(gpu);
  llmc::json::Value v = llmc::json::parse(info);
  const llmc::json::Value* backend = v.find("backend");
  const llmc::json::Value* kernels = v.find("kernels");
  const llmc::json::Value* bw = v.find("device_bandwidth_gb_s");
  expect("info JSON: backend cuda, device fields", backend && backend->is_string() && backend->as_string() == "cuda" && kernels &&
                                                      kernels->is_string() && kernels->as_string() == "emulated" && bw && bw->is_number(),
         info.substr(0, 160) + "...");
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  size_t at = 0;
  while (at < s.size()) {
    const size_t c = s.find(',', at);
    ids.push_back(int32_t(std::atoi(s.substr(at, c == std::string::npos ? std::string::npos : c - at).c_str())));
    if (c == std::string::npos) break;
    at = c + 1;
  }
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  std::string engine_dir, ids_arg;
  int max_new = 8;
  bool gpu_device = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--token-ids") == 0 && i + 1 < argc) ids_arg = argv[++i];
    else if (std::strcmp(argv[i], "--max-new-tokens") == 0 && i + 1 < argc) max_new = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--gpu") == 0) gpu_device = true;
    else engine_dir = argv[i];
  }
  setenv("LLMC_CUDA_QUIET", "1", 1);
  if (!gpu_device) llmc::cuda::install_driver(llmc_emu::driver());
  char tmpl[] = "/tmp/llmc-cuda-emu-XXXXXX";
  const std::string tmp = ::mkdtemp(tmpl);

  std::printf("cuda_emu_backend_test: the CUDA backend on %s vs the CPU backend\n", gpu_device ? "the GPU" : "the CPU emulator");
  if (engine_dir.empty()) {
    // Synthetic engine (llama-like, GQA, bf16 LM head); small decode split so split-K runs.
    setenv("LLMC_CUDA_DECODE_SPLIT", "32", 1);
    synth::Dims dims;
    dims.max_seq_len = 96;
    dims.max_num_tokens = 48;
    dims.max_batch = 6;
    const synth::Model model = synth::make_model(dims, 7);
    engine_dir = tmp + "/engine";
    if (!synth::write_engine(engine_dir, model)) {
      std::printf("error: cannot write %s\n", engine_dir.c_str());
      return 1;
    }
    llmc_engine* cpu = load(engine_dir, "cpu");
    llmc_engine* gpu = load(engine_dir, "cuda");
    if (!gpu_device) check_info(gpu);  // the emulator's info fields
    std::vector<int32_t> prompt(40);
    uint64_t s = 5;
    for (auto& t : prompt) t = int32_t(synth::next_random(s) % uint64_t(dims.vocab));
    compare_generate(cpu, gpu, prompt, 30, tmp, "synthetic, 40-token prompt (2 prefill tiles) + 30 decode (split-K)");
    compare_generate(cpu, gpu, std::vector<int32_t>{3}, 6, tmp, "synthetic, 1-token prompt");
    // A 70-token prompt is prefilled in chunks of max_num_tokens (48): the second chunk attends to cached keys.
    std::vector<int32_t> longp(70);
    for (auto& t : longp) t = int32_t(synth::next_random(s) % uint64_t(dims.vocab));
    compare_generate(cpu, gpu, longp, 4, tmp, "synthetic, chunked 70-token prefill");
    compare_greedy_ids(cpu, gpu, prompt, 12, "synthetic");
    compare_score(cpu, gpu, longp, "synthetic");
    compare_batched(cpu, gpu, dims.vocab, "synthetic");
    llmc_engine_free(gpu);
    llmc_engine_free(cpu);
  } else {
    llmc_engine* cpu = load(engine_dir, "cpu");
    llmc_engine* gpu = load(engine_dir, "cuda");
    const llmc::json::Value info = llmc::json::parse(llmc_engine_info_json(cpu));
    const int vocab = int(info.find("vocab_size")->as_int64());
    std::vector<int32_t> prompt = ids_arg.empty() ? std::vector<int32_t>{1, 5, 9, 13, 17, 21, 25} : parse_ids(ids_arg);
    const std::string label = engine_dir.substr(engine_dir.find_last_of('/') + 1);
    compare_generate(cpu, gpu, prompt, max_new, tmp, label);
    compare_greedy_ids(cpu, gpu, prompt, max_new, label);
    compare_batched(cpu, gpu, vocab, label);
    llmc_engine_free(gpu);
    llmc_engine_free(cpu);
  }
  std::printf("\n%d cases, %d failed\n", g_cases, g_failures);
  std::remove((tmp + "/cpu.logits").c_str());
  std::remove((tmp + "/cuda.logits").c_str());
  return g_failures == 0 ? 0 : 1;
}
