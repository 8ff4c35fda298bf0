// The JS AddonEngine object: info / generate / score / cancel / close over one llmc_engine.
// Instances are made only by loadEngine (addon.cpp) through NewInstance.
#pragma once
#include <napi.h>

#include "engine_handle.h"

namespace llmc_node {

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // ctor: the class from DefineClass (kept by the addon's instance data).
  static Napi::Object NewInstance(const Napi::Function& ctor, EngineHandlePtr handle);

  explicit EngineWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value Score(const Napi::CallbackInfo& info);
  Napi::Value CreateExecutor(const Napi::CallbackInfo& info);
  Napi::Value RunBatch(const Napi::CallbackInfo& info);  // llmc verify: greedy batch through the executor
  Napi::Value Follow(const Napi::CallbackInfo& info);  // ranks > 0 of a sharded engine (llmc_engine_follow)
  void Cancel(const Napi::CallbackInfo& info);
  Napi::Value BenchBatch(const Napi::CallbackInfo& info);  // native/node/cpu_bench.cpp
  void Close(const Napi::CallbackInfo& info);

  EngineHandlePtr handle_;  // null after close()
};

}  // namespace llmc_node
