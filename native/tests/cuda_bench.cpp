// cuda_bench: GPU benchmarks of an engine on the CUDA backend, through the C API (no Node needed).
//
//   cuda_bench ENGINE_DIR [--json] [--quick] [--gen-len 128] [--prompt-lens 128,512,2048] [--batches 8,32,64]
//   cuda_bench ENGINE_DIR --emulate --quick      (smoke test of this program on the CPU emulator; timings meaningless)
//
// Meant for a dummy-weight llama-2-7b engine:
//   llmc build --dummy-weights --config llama-2-7b --dtype float16 --target cuda --max-batch-size 64
//              --max-seq-len 4096 --max-num-tokens 2048 -o /tmp/llama7b
// Reports
//   batch-1 decode: tok/s, weight + KV bytes read per step, achieved GB/s and MBU against the measured device
//     bandwidth (a device-to-device copy kernel, bytes read + written: info device_bandwidth_gb_s);
//   TTFT (prefill + first token) for each prompt length;
//   decode throughput at each batch size (steady state: all requests decoding), tok/s and ms per step.
// Exit status: 0 ok, 1 error, 77 no CUDA driver.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../cuda/cuda_driver.h"
#include "../cuda/emu/emu_driver.h"
#include "../runtime/json.h"
#include "llmc/llmc.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "error: %s%s\n", what.c_str(), llmc_last_error());
  std::exit(1);
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> v;
  for (const char* p = s; *p;) {
    v.push_back(std::atoi(p));
    p = std::strchr(p, ',');
    if (p == nullptr) break;
    ++p;
  }
  return v;
}

std::vector<int32_t> random_prompt(int n, int vocab, uint64_t seed) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (auto& t : p) {
    uint64_t z = (seed += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    t = int32_t((z ^ (z >> 31)) % uint64_t(vocab));
  }
  return p;
}

llmc_generate_result generate(llmc_engine* e, const std::vector<int32_t>& prompt, int gen, std::vector<int32_t>& out) {
  out.assign(size_t(std::max(gen, 1)), 0);
  llmc_request_params p{};
  p.prompt = prompt.data();
  p.prompt_len = int32_t(prompt.size());
  p.max_new_tokens = gen;
  p.sampling = llmc_sampling_params{0.0f, 0, 1.0f, 1.0f, 0};
  p.ignore_eos = 1;
  llmc_generate_result r{};
  r.output_ids = out.data();
  if (llmc_generate(e, &p, &r) != LLMC_OK) die("generate: ");
  return r;
}

struct BatchResult {
  double tok_s = 0, ms_per_step = 0;
  int steps = 0;
};

// B requests of the same length through the in-flight executor; the decode phase starts once every request has
// its first token.
BatchResult batch_decode(llmc_engine* e, int batch, int prompt_len, int gen, int vocab) {
  llmc_executor* ex = nullptr;
  if (llmc_executor_create(e, &ex) != LLMC_OK) die("executor: ");
  std::vector<std::vector<int32_t>> prompts;
  for (int b = 0; b < batch; ++b) prompts.push_back(random_prompt(prompt_len, vocab, 1000 + uint64_t(b)));
  for (int b = 0; b < batch; ++b) {
    llmc_request_params p{};
    p.prompt = prompts[size_t(b)].data();
    p.prompt_len = prompt_len;
    p.max_new_tokens = gen;
    p.sampling = llmc_sampling_params{0.0f, 0, 1.0f, 1.0f, 0};
    p.ignore_eos = 1;
    if (llmc_executor_add(ex, &p, nullptr) != LLMC_OK) die("executor add: ");
  }
  std::vector<llmc_step_event> ev(size_t(batch) + 8);
  std::vector<int> got(size_t(batch) + 1, 0);
  int32_t n = 0, active = 1;
  int with_first = 0;
  int64_t decode_tokens = 0;
  int decode_steps = 0;
  Clock::time_point t0{};
  while (active > 0) {
    const bool decoding = with_first == batch;
    if (decoding && decode_steps == 0) t0 = Clock::now();
    if (llmc_executor_step(ex, ev.data(), int32_t(ev.size()), &n, &active) != LLMC_OK) die("executor step: ");
    for (int i = 0; i < n; ++i) {
      if (ev[size_t(i)].token_id < 0) continue;
      const int64_t id = ev[size_t(i)].request_id;
      if (got[size_t(id)]++ == 0) ++with_first;
      if (decoding) ++decode_tokens;
    }
    if (decoding) ++decode_steps;
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  llmc_executor_free(ex);
  BatchResult r;
  r.steps = decode_steps;
  if (decode_steps > 0 && s > 0) {
    r.tok_s = double(decode_tokens) / s;
    r.ms_per_step = s * 1e3 / decode_steps;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  bool json = false, quick = false, emulate = false;
  int gen = 128;
  std::vector<int> prompt_lens = {128, 512, 2048}, batches = {8, 32, 64};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") json = true;
    else if (a == "--quick") quick = true;
    else if (a == "--emulate") emulate = true;
    else if (a == "--gen-len" && i + 1 < argc) gen = std::atoi(argv[++i]);
    else if (a == "--prompt-lens" && i + 1 < argc) prompt_lens = parse_list(argv[++i]);
    else if (a == "--batches" && i + 1 < argc) batches = parse_list(argv[++i]);
    else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: cuda_bench ENGINE_DIR [--json] [--quick] [--gen-len N] [--prompt-lens L,..] [--batches B,..] [--emulate]\n");
      return 2;
    } else dir = a;
  }
  if (dir.empty()) {
    std::fprintf(stderr, "usage: cuda_bench ENGINE_DIR [--json] [--quick] ...\n");
    return 2;
  }
  if (emulate) {
    llmc::cuda::install_driver(llmc_emu::driver());
    setenv("LLMC_CUDA_QUIET", "1", 1);
  }
  std::string why;
  if (llmc::cuda::load_driver(&why) == nullptr) {
    std::printf("cuda_bench: no CUDA driver: skipped (%s)\n", why.c_str());
    return 77;
  }
  if (quick) {
    gen = std::min(gen, 8);
    for (int& p : prompt_lens) p = std::min(p, 16);
    for (int& b : batches) b = std::min(b, 3);
  }
  llmc_load_options o{};
  o.backend = "cuda";
  llmc_engine* e = nullptr;
  if (llmc_engine_load(dir.c_str(), &o, &e) != LLMC_OK) die("load " + dir + ": ");
  const llmc::json::Value info = llmc::json::parse(llmc_engine_info_json(e));
  auto num = [&](const char* k) {
    const llmc::json::Value* v = info.find(k);
    return v != nullptr && v->is_number() ? v->as_double() : 0.0;
  };
  auto str = [&](const char* k) {
    const llmc::json::Value* v = info.find(k);
    return v != nullptr && v->is_string() ? v->as_string() : std::string("?");
  };
  const int vocab = int(num("vocab_size")), max_seq = int(num("max_seq_len")), max_batch = int(num("max_batch_size"));
  const double weight_bytes = num("decode_weight_bytes"), kv_per_token = num("kv_bytes_per_token");
  const double bw = num("device_bandwidth_gb_s");

  std::vector<int32_t> out;
  generate(e, random_prompt(std::min(16, max_seq - 4), vocab, 1), 4, out);  // warm-up: graphs, caches

  // Batch-1 decode.
  const int p1 = std::min(128, max_seq - gen - 1);
  const llmc_generate_result r1 = generate(e, random_prompt(p1, vocab, 2), gen, out);
  const double tok_s = r1.num_output > 1 && r1.decode_ms > 0 ? (r1.num_output - 1) / (r1.decode_ms / 1e3) : 0;
  const double avg_ctx = p1 + r1.num_output / 2.0;
  const double step_bytes = weight_bytes + kv_per_token * avg_ctx;
  const double achieved = step_bytes * tok_s / 1e9;
  const double mbu = bw > 0 ? achieved / bw : 0;

  // TTFT.
  std::vector<std::pair<int, double>> ttft;
  for (int len : prompt_lens) {
    if (len + 1 > max_seq) continue;
    std::vector<double> t;
    for (int rep = 0; rep < (quick ? 1 : 3); ++rep) t.push_back(generate(e, random_prompt(len, vocab, 3 + uint64_t(rep)), 1, out).prefill_ms);
    std::sort(t.begin(), t.end());
    ttft.emplace_back(len, t[t.size() / 2]);
  }

  // Batched decode.
  std::vector<std::pair<int, BatchResult>> batched;
  std::vector<int> skipped;
  for (int b : batches) {
    if (b > max_batch) {
      skipped.push_back(b);
      continue;
    }
    batched.emplace_back(b, batch_decode(e, b, std::min(128, max_seq - gen - 1), gen, vocab));
  }

  if (json) {
    std::printf("{\"device\": \"%s\", \"kernels\": \"%s\", \"device_bandwidth_gb_s\": %.1f, \"decode_weight_bytes\": %.0f, "
                "\"batch1\": {\"prompt\": %d, \"generated\": %d, \"tok_s\": %.2f, \"bytes_per_step\": %.0f, \"achieved_gb_s\": %.1f, "
                "\"mbu\": %.4f}, \"ttft_ms\": {",
                str("device").c_str(), str("kernels").c_str(), bw, weight_bytes, p1, r1.num_output, tok_s, step_bytes, achieved, mbu);
    for (size_t i = 0; i < ttft.size(); ++i) std::printf("%s\"%d\": %.2f", i ? ", " : "", ttft[i].first, ttft[i].second);
    std::printf("}, \"decode\": {");
    for (size_t i = 0; i < batched.size(); ++i)
      std::printf("%s\"%d\": {\"tok_s\": %.1f, \"ms_per_step\": %.3f}", i ? ", " : "", batched[i].first, batched[i].second.tok_s,
                  batched[i].second.ms_per_step);
    std::printf("}}\n");
  } else {
    std::printf("cuda_bench %s on %s (%s, compute capability %s)\n", dir.c_str(), str("device").c_str(), str("kernels").c_str(),
                str("compute_capability").c_str());
    std::printf("device copy bandwidth: %.0f GB/s (read + write)\n", bw);
    std::printf("batch-1 decode: %.2f tok/s (%d tokens after a %d-token prompt); %.2f GB read per step (weights %.2f GB + KV);\n"
                "                achieved %.0f GB/s = MBU %.1f %%\n",
                tok_s, r1.num_output, p1, step_bytes / 1e9, weight_bytes / 1e9, achieved, 100 * mbu);
    for (const auto& t : ttft) std::printf("TTFT %5d-token prompt: %9.2f ms\n", t.first, t.second);
    for (const auto& b : batched)
      std::printf("decode batch %3d: %9.1f tok/s, %7.3f ms per step (%d steps)\n", b.first, b.second.tok_s, b.second.ms_per_step,
                  b.second.steps);
    for (int b : skipped)
      std::printf("decode batch %3d: skipped (engine max_batch_size %d; rebuild with --max-batch-size %d)\n", b, max_batch, b);
  }
  llmc_engine_free(e);
  return 0;
}
