// C API: CPU kernel paths and the batched decode benchmark (llmc.h, "CPU kernels and batched benchmarks").
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "../cpu/kernels.h"
#include "engine.h"
#include "errors.h"

using llmc::runtime::fail;
using llmc::runtime::guard;

extern "C" {

const char* llmc_cpu_kernel_paths_json(void) {
  thread_local std::string s;
  s = llmc::cpu::kernel_paths_json();
  return s.c_str();
}

const char* llmc_cpu_planned_kernel_paths_json(const char* weight_dtype) {
  thread_local std::string s;
  llmc::cpu::DType dt;
  if (!llmc::cpu::dtype_from_name(weight_dtype, &dt)) {
    llmc::runtime::set_last_error("llmc_cpu_planned_kernel_paths_json: dtype must be f32, f16 or bf16");
    return nullptr;
  }
  s = llmc::cpu::planned_kernel_paths_json(dt);
  return s.c_str();
}

int llmc_bench_batch(llmc_engine* engine, const int32_t* prompt, int32_t prompt_len, int32_t batch, int32_t gen_len,
                     llmc_batch_bench_result* out) {
  return guard([&] {
    if (engine == nullptr || prompt == nullptr || out == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_bench_batch: NULL argument");
    const auto& limits = engine->plan().limits;
    if (batch < 1) fail(LLMC_ERR_INVALID_ARGUMENT, "the batch size must be >= 1");
    if (gen_len < 2) fail(LLMC_ERR_INVALID_ARGUMENT, "the generated length must be >= 2 (decode needs a step after the first token)");
    if (prompt_len < 1) fail(LLMC_ERR_INVALID_ARGUMENT, "the prompt must have at least one token");
    if (batch > limits.max_batch_size) {
      fail(LLMC_ERR_LIMIT, "batch " + std::to_string(batch) + " exceeds this engine's max_batch_size " +
                               std::to_string(limits.max_batch_size) + "; rebuild with --max-batch-size " + std::to_string(batch));
    }
    if (int64_t(prompt_len) + gen_len > limits.max_seq_len) {
      fail(LLMC_ERR_LIMIT, "prompt " + std::to_string(prompt_len) + " + generated " + std::to_string(gen_len) +
                               " tokens exceed this engine's max_seq_len " + std::to_string(limits.max_seq_len));
    }
    const int32_t vocab = engine->plan().model.vocab_size;
    std::vector<std::vector<int32_t>> prompts(batch);
    for (int32_t s = 0; s < batch; ++s)
      for (int32_t i = 0; i < prompt_len; ++i) prompts[s].push_back(int32_t((int64_t(prompt[i]) + 7919LL * s) % vocab));
    llmc_executor* ex = nullptr;
    if (llmc_executor_create(engine, &ex) != LLMC_OK) fail(LLMC_ERR_INTERNAL, llmc_last_error());
    struct Free {
      llmc_executor* ex;
      ~Free() { llmc_executor_free(ex); }
    } free_ex{ex};
    std::set<int64_t> seen;  // requests that have their first token
    for (int32_t s = 0; s < batch; ++s) {
      llmc_request_params p{};
      p.prompt = prompts[s].data();
      p.prompt_len = prompt_len;
      p.max_new_tokens = gen_len;
      p.sampling.temperature = 0.0f;
      p.sampling.top_p = 1.0f;
      p.sampling.repetition_penalty = 1.0f;
      p.ignore_eos = 1;
      int64_t id = 0;
      if (llmc_executor_add(ex, &p, &id) != LLMC_OK) fail(LLMC_ERR_INTERNAL, llmc_last_error());
    }
    using clock = std::chrono::steady_clock;
    std::vector<llmc_step_event> events(size_t(batch) * 2);
    int32_t started = 0, active = batch;
    double prefill_ms = 0, decode_ms = 0;
    int32_t decode_steps = 0;
    const auto t0 = clock::now();
    while (active > 0) {
      int32_t n = 0;
      const auto s0 = clock::now();
      if (llmc_executor_step(ex, events.data(), int32_t(events.size()), &n, &active) != LLMC_OK) fail(LLMC_ERR_INTERNAL, llmc_last_error());
      const double ms = std::chrono::duration<double, std::milli>(clock::now() - s0).count();
      int32_t tokens = 0;
      for (int32_t i = 0; i < n; ++i) tokens += events[i].token_id >= 0;
      if (started == batch && tokens == batch) {  // every sequence past its prefill, all decoding together
        decode_ms += ms;
        ++decode_steps;
      }
      for (int32_t i = 0; i < n; ++i) {  // a sequence's first token marks the end of its prefill
        if (events[i].token_id >= 0 && seen.insert(events[i].request_id).second) ++started;
      }
      if (started == batch && prefill_ms == 0) prefill_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    }
    out->batch = batch;
    out->decode_steps = decode_steps;
    out->prefill_ms = prefill_ms;
    out->decode_ms = decode_ms;
    out->decode_tok_s = decode_ms > 0 ? batch * decode_steps / (decode_ms / 1000.0) : 0.0;
    out->per_seq_tok_s = out->decode_tok_s / batch;
  });
}

}  // extern "C"
