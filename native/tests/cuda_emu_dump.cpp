// cuda_emu_dump: runs an engine on the CUDA backend over the CPU emulator (cuda/emu) with every activation dumped,
// for `llmc verify ENGINE --engine-dumps OUT_DIR` (docs/verify.md): the CUDA kernels checked against the float32
// reference without a GPU. The prompts run as one greedy batch through the executor, as `llmc verify` runs them.
//
//   cuda_emu_dump ENGINE_DIR OUT_DIR --prompts 1,2,3;4,5,6,7 [--max-new-tokens 4]
//
// Writes OUT_DIR/index.tsv + stepNNNN.<value>.f32 (LLMC_DUMP_DIR layout) and OUT_DIR/prompts.json
// ({"prompts", "max_new_tokens", "tokens", "token_steps"}). Exit 0 on success, 1 with one line on error.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../cuda/cuda_driver.h"
#include "../cuda/emu/emu_driver.h"
#include "llmc/llmc.h"

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  std::exit(1);
}

std::vector<std::vector<int32_t>> parse_prompts(const std::string& s) {
  std::vector<std::vector<int32_t>> out(1);
  std::string num;
  auto flush = [&] {
    if (!num.empty()) out.back().push_back(std::atoi(num.c_str()));
    num.clear();
  };
  for (char c : s) {
    if (c >= '0' && c <= '9') num += c;
    else if (c == ',') flush();
    else if (c == ';') { flush(); out.emplace_back(); }
    else die(std::string("--prompts: unexpected character '") + c + "' (use 1,2,3;4,5)");
  }
  flush();
  for (const auto& p : out) if (p.empty()) die("--prompts: an empty prompt");
  return out;
}

std::string ids_json(const std::vector<int32_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  std::string prompts_arg;
  int max_new = 4;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--prompts") == 0 && i + 1 < argc) prompts_arg = argv[++i];
    else if (std::strcmp(argv[i], "--max-new-tokens") == 0 && i + 1 < argc) max_new = std::atoi(argv[++i]);
    else pos.push_back(argv[i]);
  }
  if (pos.size() != 2 || prompts_arg.empty() || max_new < 1) {
    die("usage: cuda_emu_dump ENGINE_DIR OUT_DIR --prompts 1,2,3;4,5 [--max-new-tokens 4]");
  }
  const auto prompts = parse_prompts(prompts_arg);
  llmc::cuda::install_driver(llmc_emu::driver());
  setenv("LLMC_DUMP_DIR", pos[1].c_str(), 1);
  llmc_load_options o{};
  o.backend = "cuda";
  llmc_engine* e = nullptr;
  if (llmc_engine_load(pos[0].c_str(), &o, &e) != LLMC_OK) die(llmc_last_error());
  llmc_executor* ex = nullptr;
  if (llmc_executor_create(e, &ex) != LLMC_OK) die(llmc_last_error());
  std::vector<int64_t> ids(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    llmc_request_params p{};
    p.prompt = prompts[i].data();
    p.prompt_len = int32_t(prompts[i].size());
    p.max_new_tokens = max_new;
    p.sampling.top_p = 1;
    p.sampling.repetition_penalty = 1;
    p.ignore_eos = 1;
    if (llmc_executor_add(ex, &p, &ids[i]) != LLMC_OK) die(llmc_last_error());
  }
  std::vector<std::vector<int32_t>> tokens(prompts.size()), steps(prompts.size());
  std::vector<llmc_step_event> events(prompts.size() + 1);
  int32_t active = int32_t(prompts.size());
  for (int step = 0; active > 0; ++step) {
    int32_t n = 0;
    if (llmc_executor_step(ex, events.data(), int32_t(events.size()), &n, &active) != LLMC_OK) die(llmc_last_error());
    for (int32_t k = 0; k < n; ++k) {
      if (events[k].token_id < 0) continue;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] != events[k].request_id) continue;
        tokens[i].push_back(events[k].token_id);
        steps[i].push_back(step);
      }
    }
  }
  llmc_executor_free(ex);
  llmc_engine_free(e);
  std::string json = "{\"source\":\"cuda_emu_dump\",\"backend\":\"cuda (emulated)\",\"max_new_tokens\":" + std::to_string(max_new);
  auto add = [&json](const char* key, const std::vector<std::vector<int32_t>>& rows) {
    json += std::string(",\"") + key + "\":[";
    for (size_t i = 0; i < rows.size(); ++i) json += (i ? "," : "") + ids_json(rows[i]);
    json += "]";
  };
  add("prompts", prompts);
  add("tokens", tokens);
  add("token_steps", steps);
  json += "}\n";
  FILE* f = std::fopen((pos[1] + "/prompts.json").c_str(), "w");
  if (f == nullptr || std::fputs(json.c_str(), f) < 0) die("cannot write " + pos[1] + "/prompts.json");
  std::fclose(f);
  std::printf("cuda_emu_dump: %zu prompts, %d new tokens each, dumped to %s\n", prompts.size(), max_new, pos[1].c_str());
  return 0;
}
