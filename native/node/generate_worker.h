// AddonEngine.generate: runs llmc_generate on a libuv pool thread. Each generated token is queued from the
// native callback and delivered to the JS onToken callback on the main thread, in order; node-addon-api's
// progress queue drains every queued token before the promise settles.
#pragma once
#include <napi.h>

#include <optional>
#include <string>
#include <vector>

#include "engine_handle.h"

namespace llmc_node {

struct TokenEvent {
  int32_t token_id;
  int32_t index;
};

struct GenerateArgs {
  std::vector<int32_t> prompt;
  int32_t max_new_tokens = 0;
  llmc_sampling_params sampling{};
  std::vector<int32_t> eos_ids;
  bool ignore_eos = false;
  std::optional<std::string> logits_path;

  static GenerateArgs FromObject(const Napi::Object& req);  // throws TypeError on a wrongly typed field
};

class GenerateWorker : public Napi::AsyncProgressQueueWorker<TokenEvent> {
 public:
  // on_token may be empty (no streaming).
  GenerateWorker(Napi::Env env, EngineHandlePtr handle, GenerateArgs args, Napi::Function on_token);
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override;
  void OnProgress(const TokenEvent* events, size_t count) override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  static int OnNativeToken(void* user, int32_t token_id, int32_t index);

  EngineHandlePtr handle_;
  GenerateArgs args_;
  Napi::FunctionReference on_token_;
  Napi::Promise::Deferred deferred_;
  const ExecutionProgress* progress_ = nullptr;  // set only while llmc_generate runs
  std::vector<int32_t> output_;
  llmc_generate_result result_{};
  int status_ = LLMC_OK;
  Napi::Reference<Napi::Value> callback_error_;  // first exception thrown by onToken: the promise rejects with it
};

}  // namespace llmc_node
