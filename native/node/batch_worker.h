// AddonEngine.runBatch: several greedy requests through one llmc_executor, so the steps carry batch > 1 (packed
// prefill chunks and decode tokens of every sequence, paged KV). `llmc verify` runs the engine and its reference
// on the same batch and needs, besides the activation dumps, which step produced which token of which request
// (the first step whose tokens differ ends the comparable part of the run).
#pragma once
#include <napi.h>

#include <vector>

#include "engine_handle.h"

namespace llmc_node {

struct BatchStepToken {
  int32_t step;
  int32_t request;  // index into the prompts, in the order they were added
  int32_t token_id;
};

class BatchWorker : public Napi::AsyncWorker {
 public:
  BatchWorker(Napi::Env env, EngineHandlePtr handle, std::vector<std::vector<int32_t>> prompts, int32_t max_new_tokens);
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  EngineHandlePtr handle_;
  std::vector<std::vector<int32_t>> prompts_;
  int32_t max_new_tokens_;
  Napi::Promise::Deferred deferred_;
  std::vector<BatchStepToken> tokens_;
  int32_t steps_ = 0;
  int status_ = LLMC_OK;
};

}  // namespace llmc_node
