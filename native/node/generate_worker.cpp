#include "generate_worker.h"

#include <cmath>

#include "js_args.h"
#include "status.h"

namespace llmc_node {

GenerateArgs GenerateArgs::FromObject(const Napi::Object& req) {
  GenerateArgs a;
  a.prompt = GetInt32Array(req, "prompt");
  a.max_new_tokens = static_cast<int32_t>(GetNumber(req, "maxNewTokens"));
  a.sampling.temperature = static_cast<float>(GetNumber(req, "temperature"));
  a.sampling.top_k = static_cast<int32_t>(GetNumber(req, "topK"));
  a.sampling.top_p = static_cast<float>(GetNumber(req, "topP"));
  a.sampling.repetition_penalty = static_cast<float>(GetNumber(req, "repetitionPenalty"));
  // JS numbers hold integers exactly up to 2^53, which is the documented seed range.
  a.sampling.seed = static_cast<uint64_t>(std::fabs(GetNumberOr(req, "seed", 0)));
  Napi::Value eos = req.Get("eosIds");
  if (!eos.IsUndefined()) a.eos_ids = ToInt32Vector(eos, "eosIds");
  a.ignore_eos = GetBool(req, "ignoreEos");
  a.logits_path = GetOptionalString(req, "logitsPath");
  return a;
}

GenerateWorker::GenerateWorker(Napi::Env env, EngineHandlePtr handle, GenerateArgs args, Napi::Function on_token)
    : Napi::AsyncProgressQueueWorker<TokenEvent>(env, "llmc.generate"),
      handle_(std::move(handle)),
      args_(std::move(args)),
      deferred_(Napi::Promise::Deferred::New(env)) {
  if (!on_token.IsEmpty()) on_token_ = Napi::Persistent(on_token);
  // The runtime writes at most max_new_tokens ids; keep one slot so data() is valid when it is 0.
  output_.resize(static_cast<size_t>(args_.max_new_tokens > 0 ? args_.max_new_tokens : 0) + 1);
}

int GenerateWorker::OnNativeToken(void* user, int32_t token_id, int32_t index) {
  auto* self = static_cast<GenerateWorker*>(user);
  if (self->progress_ != nullptr) {
    TokenEvent ev{token_id, index};
    self->progress_->Send(&ev, 1);
  }
  return 0;  // stop strings are detected in JS, which calls cancel(): the runtime stops after the current step
}

void GenerateWorker::Execute(const ExecutionProgress& progress) {
  std::lock_guard<std::mutex> lock(handle_->run_mutex);
  if (handle_->closed) {
    status_ = LLMC_ERR_INVALID_ARGUMENT;
    SetError("the engine is closed");
    return;
  }
  llmc_request_params p{};
  p.prompt = args_.prompt.data();
  p.prompt_len = static_cast<int32_t>(args_.prompt.size());
  p.max_new_tokens = args_.max_new_tokens;
  p.sampling = args_.sampling;
  p.eos_ids = args_.eos_ids.empty() ? nullptr : args_.eos_ids.data();
  p.num_eos_ids = static_cast<int32_t>(args_.eos_ids.size());
  p.ignore_eos = args_.ignore_eos ? 1 : 0;
  p.logits_path = args_.logits_path ? args_.logits_path->c_str() : nullptr;
  p.on_token = &GenerateWorker::OnNativeToken;
  p.user = this;

  result_.output_ids = output_.data();
  progress_ = &progress;
  int st = llmc_generate(handle_->engine, &p, &result_);
  progress_ = nullptr;
  if (st != LLMC_OK) {
    status_ = st;
    SetError(LastErrorMessage(st));  // llmc_last_error is thread-local: read it on this thread, now
  }
}

void GenerateWorker::OnProgress(const TokenEvent* events, size_t count) {
  if (on_token_.IsEmpty() || !callback_error_.IsEmpty()) return;
  Napi::Env env = Env();
  for (size_t i = 0; i < count; ++i) {
    try {
      on_token_.Call({Napi::Number::New(env, events[i].token_id), Napi::Number::New(env, events[i].index)});
    } catch (const Napi::Error& e) {
      // A throwing callback must not become an uncaught exception on a tsfn tick: stop the request and reject.
      callback_error_ = Napi::Persistent(e.Value().As<Napi::Value>());
      llmc_engine_cancel(handle_->engine);
      return;
    }
  }
}

static const char* StopReasonName(int32_t r) {
  switch (r) {
    case LLMC_STOP_LENGTH: return "length";
    case LLMC_STOP_EOS: return "eos";
    case LLMC_STOP_CALLBACK: return "callback";
    case LLMC_STOP_CANCELLED: return "cancelled";
    default: return "none";
  }
}

void GenerateWorker::OnOK() {
  Napi::Env env = Env();
  if (!callback_error_.IsEmpty()) {
    deferred_.Reject(callback_error_.Value());
    return;
  }
  int32_t n = result_.num_output;
  if (n < 0) n = 0;
  if (n > args_.max_new_tokens) n = args_.max_new_tokens;
  Napi::Int32Array ids = Napi::Int32Array::New(env, static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) ids[i] = output_[i];
  Napi::Object out = Napi::Object::New(env);
  out.Set("outputIds", ids);
  out.Set("logitsRows", Napi::Number::New(env, result_.logits_rows));
  out.Set("stopReason", Napi::String::New(env, StopReasonName(result_.stop_reason)));
  out.Set("prefillMs", Napi::Number::New(env, result_.prefill_ms));
  out.Set("decodeMs", Napi::Number::New(env, result_.decode_ms));
  deferred_.Resolve(out);
}

void GenerateWorker::OnError(const Napi::Error& e) {
  if (!callback_error_.IsEmpty()) {
    deferred_.Reject(callback_error_.Value());
    return;
  }
  deferred_.Reject(MakeStatusError(Env(), status_, e.Message()).Value());
}

}  // namespace llmc_node
