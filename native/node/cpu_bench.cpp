// Addon pieces for the CPU kernels and `llmc bench --batch`: cpuKernelPaths(), plannedKernelPaths(dtype) and
// AddonEngine.benchBatch (llmc_bench_batch off the event loop).
#include "cpu_bench.h"

#include "engine_wrap.h"
#include "js_args.h"
#include "status.h"

namespace llmc_node {

namespace {

class BenchBatchWorker : public Napi::AsyncWorker {
 public:
  BenchBatchWorker(Napi::Env env, EngineHandlePtr handle, std::vector<int32_t> prompt, int32_t batch, int32_t gen_len)
      : Napi::AsyncWorker(env, "llmc.benchBatch"),
        handle_(std::move(handle)),
        prompt_(std::move(prompt)),
        batch_(batch),
        gen_len_(gen_len),
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
    const int st = llmc_bench_batch(handle_->engine, prompt_.data(), int32_t(prompt_.size()), batch_, gen_len_, &r_);
    if (st != LLMC_OK) {
      status_ = st;
      SetError(LastErrorMessage(st));
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("batch", Napi::Number::New(env, r_.batch));
    o.Set("decodeSteps", Napi::Number::New(env, r_.decode_steps));
    o.Set("prefillMs", Napi::Number::New(env, r_.prefill_ms));
    o.Set("decodeMs", Napi::Number::New(env, r_.decode_ms));
    o.Set("decodeTokS", Napi::Number::New(env, r_.decode_tok_s));
    o.Set("perSeqTokS", Napi::Number::New(env, r_.per_seq_tok_s));
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(MakeStatusError(Env(), status_, e.Message()).Value()); }

 private:
  EngineHandlePtr handle_;
  std::vector<int32_t> prompt_;
  int32_t batch_, gen_len_;
  Napi::Promise::Deferred deferred_;
  int status_ = LLMC_OK;
  llmc_batch_bench_result r_{};
};

}  // namespace

Napi::Value CpuKernelPaths(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), llmc_cpu_kernel_paths_json());
}

Napi::Value PlannedKernelPaths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "plannedKernelPaths(dtype: string)");
  const std::string dt = info[0].As<Napi::String>().Utf8Value();
  const char* json = llmc_cpu_planned_kernel_paths_json(dt.c_str());
  if (json == nullptr) throw MakeStatusError(env, LLMC_ERR_INVALID_ARGUMENT, llmc_last_error());
  return Napi::String::New(env, json);
}

Napi::Value BenchBatch(Napi::Env env, const EngineHandlePtr& handle, const Napi::CallbackInfo& info) {
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) {
    throw Napi::TypeError::New(env, "benchBatch(prompt: Int32Array, batch: number, genLen: number)");
  }
  std::vector<int32_t> prompt = ToInt32Vector(info[0], "prompt");
  const int32_t batch = info[1].As<Napi::Number>().Int32Value(), gen_len = info[2].As<Napi::Number>().Int32Value();
  if (!handle) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(MakeStatusError(env, LLMC_ERR_INVALID_ARGUMENT, "the engine is closed").Value());
    return d.Promise();
  }
  auto* worker = new BenchBatchWorker(env, handle, std::move(prompt), batch, gen_len);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace llmc_node
