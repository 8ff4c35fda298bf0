#include "engine_wrap.h"

#include "executor_wrap.h"
#include "batch_worker.h"
#include "cpu_bench.h"
#include "generate_worker.h"
#include "js_args.h"
#include "status.h"

namespace llmc_node {

namespace {

Napi::Promise RejectedPromise(Napi::Env env, int status, const std::string& message) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(MakeStatusError(env, status, message).Value());
  return d.Promise();
}

// AddonEngine.score: llmc_score off the event loop.
class ScoreWorker : public Napi::AsyncWorker {
 public:
  ScoreWorker(Napi::Env env, EngineHandlePtr handle, std::vector<int32_t> tokens)
      : Napi::AsyncWorker(env, "llmc.score"),
        handle_(std::move(handle)),
        tokens_(std::move(tokens)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    std::lock_guard<std::mutex> lock(handle_->run_mutex);
    if (handle_->closed) {
      status_ = LLMC_ERR_INVALID_ARGUMENT;
      SetError("the engine is closed");
      return;
    }
    int st = llmc_score(handle_->engine, tokens_.data(), static_cast<int32_t>(tokens_.size()), &nll_, &count_);
    if (st != LLMC_OK) {
      status_ = st;
      SetError(LastErrorMessage(st));
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("nll", Napi::Number::New(env, nll_));
    out.Set("count", Napi::Number::New(env, count_));
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(MakeStatusError(Env(), status_, e.Message()).Value());
  }

 private:
  EngineHandlePtr handle_;
  std::vector<int32_t> tokens_;
  Napi::Promise::Deferred deferred_;
  int status_ = LLMC_OK;
  double nll_ = 0;
  int32_t count_ = 0;
};

// AddonEngine.follow: llmc_engine_follow off the event loop (a rank > 0 of a sharded engine, until rank 0 stops).
class FollowWorker : public Napi::AsyncWorker {
 public:
  FollowWorker(Napi::Env env, EngineHandlePtr handle)
      : Napi::AsyncWorker(env, "llmc.follow"), handle_(std::move(handle)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    std::lock_guard<std::mutex> lock(handle_->run_mutex);
    int st = llmc_engine_follow(handle_->engine);
    if (st != LLMC_OK) {
      status_ = st;
      SetError(LastErrorMessage(st));
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(MakeStatusError(Env(), status_, e.Message()).Value()); }

 private:
  EngineHandlePtr handle_;
  Napi::Promise::Deferred deferred_;
  int status_ = LLMC_OK;
};

const char* const kClosed = "the engine is closed";

}  // namespace

Napi::Function EngineWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<EngineWrap>::DefineClass(env, "Engine",
                                             {
                                                 InstanceMethod<&EngineWrap::Info>("info"),
                                                 InstanceMethod<&EngineWrap::Generate>("generate"),
                                                 InstanceMethod<&EngineWrap::Score>("score"),
                                                 InstanceMethod<&EngineWrap::CreateExecutor>("createExecutor"),
                                                 InstanceMethod<&EngineWrap::RunBatch>("runBatch"),
                                                 InstanceMethod<&EngineWrap::Follow>("follow"),
                                                 InstanceMethod<&EngineWrap::Cancel>("cancel"),
                                                 InstanceMethod<&EngineWrap::Close>("close"),
                                                 InstanceMethod<&EngineWrap::BenchBatch>("benchBatch"),
                                             });
}

Napi::Object EngineWrap::NewInstance(const Napi::Function& ctor, EngineHandlePtr handle) {
  // The constructor copies the shared pointer out of this External during the synchronous New call.
  Napi::External<EngineHandlePtr> ext = Napi::External<EngineHandlePtr>::New(ctor.Env(), &handle);
  return ctor.New({ext});
}

EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "Engine objects are made by loadEngine()");
  }
  handle_ = *info[0].As<Napi::External<EngineHandlePtr>>().Data();
}

Napi::Value EngineWrap::Info(const Napi::CallbackInfo& info) {
  if (!handle_) throw MakeStatusError(info.Env(), LLMC_ERR_INVALID_ARGUMENT, kClosed);
  const char* json = llmc_engine_info_json(handle_->engine);
  return Napi::String::New(info.Env(), json != nullptr ? json : "{}");
}

Napi::Value EngineWrap::Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "generate(req, onToken?)");
  Napi::Function on_token;
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "onToken must be a function");
    on_token = info[1].As<Napi::Function>();
  }
  GenerateArgs args = GenerateArgs::FromObject(info[0].As<Napi::Object>());
  if (!handle_) return RejectedPromise(env, LLMC_ERR_INVALID_ARGUMENT, kClosed);
  auto* worker = new GenerateWorker(env, handle_, std::move(args), on_token);
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // the worker deletes itself after settling
  return promise;
}

Napi::Value EngineWrap::Score(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) throw Napi::TypeError::New(env, "score(tokens: Int32Array)");
  std::vector<int32_t> tokens = ToInt32Vector(info[0], "tokens");
  if (!handle_) return RejectedPromise(env, LLMC_ERR_INVALID_ARGUMENT, kClosed);
  auto* worker = new ScoreWorker(env, handle_, std::move(tokens));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value EngineWrap::CreateExecutor(const Napi::CallbackInfo& info) {
  if (!handle_) throw MakeStatusError(info.Env(), LLMC_ERR_INVALID_ARGUMENT, kClosed);
  return ExecutorWrap::Create(info, handle_, ExecutorCtor(info.Env()));
}
Napi::Value EngineWrap::BenchBatch(const Napi::CallbackInfo& info) { return llmc_node::BenchBatch(info.Env(), handle_, info); }

// runBatch(prompts: Int32Array[], maxNewTokens: number): Promise<{ steps, tokens }> (batch_worker.h)
Napi::Value EngineWrap::RunBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "runBatch(prompts: Int32Array[], maxNewTokens: number)");
  }
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<std::vector<int32_t>> prompts;
  for (uint32_t i = 0; i < arr.Length(); ++i) prompts.push_back(ToInt32Vector(arr.Get(i), "prompts[i]"));
  if (!handle_) return RejectedPromise(env, LLMC_ERR_INVALID_ARGUMENT, kClosed);
  auto* worker = new BatchWorker(env, handle_, std::move(prompts), info[1].As<Napi::Number>().Int32Value());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value EngineWrap::Follow(const Napi::CallbackInfo& info) {
  if (!handle_) return RejectedPromise(info.Env(), LLMC_ERR_INVALID_ARGUMENT, kClosed);
  auto* worker = new FollowWorker(info.Env(), handle_);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

void EngineWrap::Cancel(const Napi::CallbackInfo&) {
  if (handle_) llmc_engine_cancel(handle_->engine);
}

void EngineWrap::Close(const Napi::CallbackInfo&) {
  if (!handle_) return;
  handle_->closed = true;
  llmc_engine_cancel(handle_->engine);  // a running request stops; queued ones see `closed` and reject
  handle_.reset();                      // freed now, or when the last running worker lets go
}

}  // namespace llmc_node
