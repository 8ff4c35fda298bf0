// The llmc Node-API addon: a thin wrapper over native/include/llmc/llmc.h, shaped as src/runtime/addon-types.ts.
// It checks argument types only; src/runtime/ validates values first and words the errors for users.
// Every call that can take long (load, generate, score, bandwidth) runs on a libuv pool thread and returns a
// Promise that rejects with Error(llmc_last_error()) whose .code is the llmc_status name.
#include <napi.h>

#include <optional>
#include <string>

#include "cpu_bench.h"
#include "engine_wrap.h"
#include "executor_wrap.h"
#include "js_args.h"
#include "llmc/llmc.h"
#include "llmc/ops.generated.h"
#include "status.h"

namespace llmc_node {
namespace {

struct AddonData {
  Napi::FunctionReference engine_ctor;
  Napi::FunctionReference executor_ctor;
};

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::string dir, std::optional<std::string> backend, int32_t threads, int64_t kv_bytes)
      : Napi::AsyncWorker(env, "llmc.loadEngine"),
        dir_(std::move(dir)),
        backend_(std::move(backend)),
        threads_(threads),
        kv_bytes_(kv_bytes),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  ~LoadWorker() override {
    if (engine_ != nullptr) llmc_engine_free(engine_);  // loaded but never handed to JS (env teardown)
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    llmc_load_options opts{};
    opts.backend = backend_ ? backend_->c_str() : nullptr;
    opts.num_threads = threads_;
    opts.kv_cache_bytes = kv_bytes_;
    int st = llmc_engine_load(dir_.c_str(), &opts, &engine_);
    if (st != LLMC_OK) {
      status_ = st;
      engine_ = nullptr;
      SetError(LastErrorMessage(st));
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    auto handle = std::make_shared<EngineHandle>(engine_);
    engine_ = nullptr;  // owned by the handle now
    AddonData* data = env.GetInstanceData<AddonData>();
    deferred_.Resolve(EngineWrap::NewInstance(data->engine_ctor.Value(), std::move(handle)));
  }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(MakeStatusError(Env(), status_, e.Message()).Value());
  }

 private:
  std::string dir_;
  std::optional<std::string> backend_;
  int32_t threads_;
  int64_t kv_bytes_;
  Napi::Promise::Deferred deferred_;
  llmc_engine* engine_ = nullptr;
  int status_ = LLMC_OK;
};

class BandwidthWorker : public Napi::AsyncWorker {
 public:
  BandwidthWorker(Napi::Env env, int32_t threads, double seconds)
      : Napi::AsyncWorker(env, "llmc.measureMemoryBandwidth"),
        threads_(threads),
        seconds_(seconds),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    gbs_ = llmc_measure_memory_bandwidth(threads_, seconds_);
    if (!(gbs_ > 0)) SetError(LastErrorMessage(LLMC_ERR_INTERNAL));
  }
  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), gbs_)); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(MakeStatusError(Env(), LLMC_ERR_INTERNAL, e.Message()).Value());
  }

 private:
  int32_t threads_;
  double seconds_;
  Napi::Promise::Deferred deferred_;
  double gbs_ = 0;
};

// loadEngine(dir: string, opts: { backend?, numThreads?, kvCacheBytes? }): Promise<AddonEngine>
Napi::Value LoadEngine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "loadEngine(dir: string, opts)");
  std::string dir = info[0].As<Napi::String>().Utf8Value();
  std::optional<std::string> backend;
  int32_t threads = 0;
  int64_t kv_bytes = 0;
  if (info.Length() >= 2 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    backend = GetOptionalString(o, "backend");
    threads = static_cast<int32_t>(GetNumberOr(o, "numThreads", 0));
    kv_bytes = static_cast<int64_t>(GetNumberOr(o, "kvCacheBytes", 0));
  }
  auto* worker = new LoadWorker(env, std::move(dir), std::move(backend), threads, kv_bytes);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// measureMemoryBandwidth(numThreads: number, seconds: number): Promise<number> (GB/s)
Napi::Value MeasureMemoryBandwidth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "measureMemoryBandwidth(numThreads: number, seconds: number)");
  }
  int32_t threads = info[0].As<Napi::Number>().Int32Value();
  double seconds = info[1].As<Napi::Number>().DoubleValue();
  auto* worker = new BandwidthWorker(env, threads, seconds);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->engine_ctor = Napi::Persistent(EngineWrap::DefineClass(env));
  data->executor_ctor = Napi::Persistent(ExecutorWrap::DefineClass(env));
  env.SetInstanceData<AddonData>(data);  // deleted by node-addon-api when the environment goes away

  exports.Set("loadEngine", Napi::Function::New<LoadEngine>(env, "loadEngine"));
  exports.Set("measureMemoryBandwidth", Napi::Function::New<MeasureMemoryBandwidth>(env, "measureMemoryBandwidth"));
  exports.Set("cpuKernelPaths", Napi::Function::New<CpuKernelPaths>(env, "cpuKernelPaths"));
  exports.Set("plannedKernelPaths", Napi::Function::New<PlannedKernelPaths>(env, "plannedKernelPaths"));
  exports.Set("apiVersion", Napi::Number::New(env, LLMC_API_VERSION));
  exports.Set("engineFormatVersion", Napi::Number::New(env, LLMC_ENGINE_FORMAT_VERSION));
  exports.Set("schemaHash", Napi::String::New(env, llmc::kSchemaHash));
  return exports;
}

}  // namespace

Napi::Function ExecutorCtor(Napi::Env env) { return env.GetInstanceData<AddonData>()->executor_ctor.Value(); }

}  // namespace llmc_node

// NODE_API_MODULE pastes its argument into a name, so it needs an unqualified one.
static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return llmc_node::Init(env, exports); }
NODE_API_MODULE(llmc, InitAddon)
