// The JS AddonExecutor object (src/runtime/addon-types.ts): submit / cancel / stats / close over one
// ExecutorThread. Made by AddonEngine.createExecutor; events reach JS as batches through onEvents.
#pragma once
#include <napi.h>

#include <memory>

#include "executor_thread.h"

namespace llmc_node {

// The Executor class defined at addon init (addon.cpp).
Napi::Function ExecutorCtor(Napi::Env env);

class ExecutorWrap : public Napi::ObjectWrap<ExecutorWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // createExecutor(opts, onEvents) on an engine: the executor is created on the calling thread (cheap).
  static Napi::Value Create(const Napi::CallbackInfo& info, const EngineHandlePtr& handle, const Napi::Function& ctor);

  explicit ExecutorWrap(const Napi::CallbackInfo& info);
  ~ExecutorWrap() override;

 private:
  Napi::Value Submit(const Napi::CallbackInfo& info);
  void Cancel(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  void Shutdown();

  std::unique_ptr<ExecutorThread> thread_;
  int64_t next_id_ = 1;
  struct Shared {
    Napi::ThreadSafeFunction tsfn;
    // Requests submitted whose finish has not reached JS (JS thread only): the thread-safe function keeps the
    // event loop alive only while there are some, so an idle executor does not keep a finished program running.
    int64_t in_flight = 0;
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

}  // namespace llmc_node
