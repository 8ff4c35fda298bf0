#include "batch_worker.h"

#include <memory>
#include <string>
#include <unordered_map>

#include "status.h"

namespace llmc_node {

BatchWorker::BatchWorker(Napi::Env env, EngineHandlePtr handle, std::vector<std::vector<int32_t>> prompts,
                         int32_t max_new_tokens)
    : Napi::AsyncWorker(env, "llmc.runBatch"),
      handle_(std::move(handle)),
      prompts_(std::move(prompts)),
      max_new_tokens_(max_new_tokens),
      deferred_(Napi::Promise::Deferred::New(env)) {}

void BatchWorker::Execute() {
  std::lock_guard<std::mutex> lock(handle_->run_mutex);
  if (handle_->closed) {
    status_ = LLMC_ERR_INVALID_ARGUMENT;
    SetError("the engine is closed");
    return;
  }
  llmc_executor* raw = nullptr;
  int st = llmc_executor_create(handle_->engine, &raw);
  std::unique_ptr<llmc_executor, void (*)(llmc_executor*)> ex(raw, llmc_executor_free);
  std::unordered_map<int64_t, int32_t> index_of;  // executor request id -> prompt index
  for (size_t i = 0; st == LLMC_OK && i < prompts_.size(); ++i) {
    llmc_request_params p{};
    p.prompt = prompts_[i].data();
    p.prompt_len = static_cast<int32_t>(prompts_[i].size());
    p.max_new_tokens = max_new_tokens_;
    p.sampling.temperature = 0;  // greedy: both runs pick their tokens the same way
    p.sampling.top_p = 1;
    p.sampling.repetition_penalty = 1;
    p.ignore_eos = 1;
    int64_t id = -1;
    st = llmc_executor_add(ex.get(), &p, &id);
    index_of[id] = static_cast<int32_t>(i);
  }
  std::vector<llmc_step_event> events(prompts_.size() + 1);
  int32_t active = static_cast<int32_t>(prompts_.size());
  while (st == LLMC_OK && active > 0) {
    int32_t n = 0;
    st = llmc_executor_step(ex.get(), events.data(), static_cast<int32_t>(events.size()), &n, &active);
    for (int32_t k = 0; k < n; ++k) {
      if (events[k].token_id >= 0) tokens_.push_back({steps_, index_of[events[k].request_id], events[k].token_id});
    }
    ++steps_;
  }
  if (st != LLMC_OK) {
    status_ = st;
    SetError(LastErrorMessage(st));
  }
}

// { steps: number, tokens: Int32Array of (step, request, token_id) triples }
void BatchWorker::OnOK() {
  Napi::Env env = Env();
  Napi::Int32Array flat = Napi::Int32Array::New(env, tokens_.size() * 3);
  for (size_t i = 0; i < tokens_.size(); ++i) {
    flat[i * 3] = tokens_[i].step;
    flat[i * 3 + 1] = tokens_[i].request;
    flat[i * 3 + 2] = tokens_[i].token_id;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("steps", Napi::Number::New(env, steps_));
  out.Set("tokens", flat);
  deferred_.Resolve(out);
}

void BatchWorker::OnError(const Napi::Error& e) { deferred_.Reject(MakeStatusError(Env(), status_, e.Message()).Value()); }

}  // namespace llmc_node
