#include "executor_wrap.h"

#include <cmath>

#include "js_args.h"
#include "status.h"

namespace llmc_node {

namespace {

struct CreateArgs {
  EngineHandlePtr handle;
  llmc_executor* ex;
  Napi::Function on_events;
};

Napi::Object EventToJs(Napi::Env env, const ExecutorEvent& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::Number::New(env, static_cast<double>(e.id)));
  if (!e.finished) {
    o.Set("token", Napi::Number::New(env, e.token));
    o.Set("index", Napi::Number::New(env, e.index));
    if (e.has_logprob) {
      o.Set("logprob", Napi::Number::New(env, e.logprob));
      Napi::Int32Array ids = Napi::Int32Array::New(env, e.top_ids.size());
      Napi::Float32Array lps = Napi::Float32Array::New(env, e.top_logprobs.size());
      for (size_t i = 0; i < e.top_ids.size(); ++i) ids[i] = e.top_ids[i];
      for (size_t i = 0; i < e.top_logprobs.size(); ++i) lps[i] = e.top_logprobs[i];
      o.Set("topIds", ids);
      o.Set("topLogprobs", lps);
    }
    return o;
  }
  o.Set("finished", Napi::Boolean::New(env, true));
  o.Set("stopReason", Napi::Number::New(env, e.stop_reason));
  o.Set("cachedTokens", Napi::Number::New(env, e.cached_tokens));
  o.Set("logitsRows", Napi::Number::New(env, e.logits_rows));
  o.Set("preemptions", Napi::Number::New(env, e.preemptions));
  o.Set("queueMs", Napi::Number::New(env, e.queue_ms));
  o.Set("prefillMs", Napi::Number::New(env, e.prefill_ms));
  o.Set("decodeMs", Napi::Number::New(env, e.decode_ms));
  if (e.status != 0) {
    o.Set("error", Napi::String::New(env, e.error));
    o.Set("code", Napi::String::New(env, StatusName(e.status)));
  }
  return o;
}

}  // namespace

Napi::Function ExecutorWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<ExecutorWrap>::DefineClass(env, "Executor",
                                               {
                                                   InstanceMethod<&ExecutorWrap::Submit>("submit"),
                                                   InstanceMethod<&ExecutorWrap::Cancel>("cancel"),
                                                   InstanceMethod<&ExecutorWrap::Stats>("stats"),
                                                   InstanceMethod<&ExecutorWrap::Close>("close"),
                                               });
}

// opts: { admission, maxBatchSize, maxNumTokens, prefixCaching, staticBatchSize, staticMaxWaitMs } (all numbers).
Napi::Value ExecutorWrap::Create(const Napi::CallbackInfo& info, const EngineHandlePtr& handle, const Napi::Function& ctor) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "createExecutor(opts: object, onEvents: function)");
  }
  Napi::Object o = info[0].As<Napi::Object>();
  llmc_executor_options opts{};
  opts.admission = static_cast<int32_t>(GetNumberOr(o, "admission", 0));
  opts.max_batch_size = static_cast<int32_t>(GetNumberOr(o, "maxBatchSize", 0));
  opts.max_num_tokens = static_cast<int32_t>(GetNumberOr(o, "maxNumTokens", 0));
  opts.prefix_caching = static_cast<int32_t>(GetNumberOr(o, "prefixCaching", 1));
  opts.static_batch_size = static_cast<int32_t>(GetNumberOr(o, "staticBatchSize", 0));
  opts.static_max_wait_ms = GetNumberOr(o, "staticMaxWaitMs", 0);
  llmc_executor* ex = nullptr;
  int st = llmc_executor_create_with_options(handle->engine, &opts, &ex);
  if (st != LLMC_OK) throw MakeStatusError(env, st, LastErrorMessage(st));
  CreateArgs args{handle, ex, info[1].As<Napi::Function>()};
  Napi::External<CreateArgs> ext = Napi::External<CreateArgs>::New(env, &args);
  return ctor.New({ext});
}

ExecutorWrap::ExecutorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExecutorWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) throw Napi::TypeError::New(env, "Executor objects are made by createExecutor()");
  CreateArgs* a = info[0].As<Napi::External<CreateArgs>>().Data();
  shared_->tsfn = Napi::ThreadSafeFunction::New(env, a->on_events, "llmc.executor", 0, 1);
  shared_->tsfn.Unref(env);
  std::shared_ptr<Shared> shared = shared_;
  auto gate = std::make_shared<DeliveryGate>(2);
  thread_ = std::make_unique<ExecutorThread>(a->handle, a->ex, gate, [shared, gate](EventBatch* batch) {
    napi_status s = shared->tsfn.NonBlockingCall(batch, [shared, gate](Napi::Env env, Napi::Function fn, EventBatch* b) {
      std::unique_ptr<EventBatch> owned(b);
      struct Taken {
        DeliveryGate* g;
        ~Taken() { g->taken(); }
      } taken{gate.get()};  // once JS has handled the batch (or it is dropped), whatever fn does
      if (env == nullptr || fn.IsEmpty()) return;  // environment going away
      for (const ExecutorEvent& e : *owned) {
        if (e.finished && --shared->in_flight == 0) shared->tsfn.Unref(env);
      }
      Napi::Array arr = Napi::Array::New(env, owned->size());
      for (size_t i = 0; i < owned->size(); ++i) arr.Set(static_cast<uint32_t>(i), EventToJs(env, (*owned)[i]));
      fn.Call({arr});
    });
    if (s != napi_ok) {  // closing: nobody listens any more
      delete batch;
      gate->taken();
    }
  });
}

ExecutorWrap::~ExecutorWrap() { Shutdown(); }

void ExecutorWrap::Shutdown() {
  if (!thread_) return;
  thread_->stop();  // joins; its last batches are queued on the tsfn
  thread_.reset();
  shared_->tsfn.Release();
}

// submit(req) -> id. req: AddonRequest fields plus logprobs?, topLogprobs?, noPrefixCache?
Napi::Value ExecutorWrap::Submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!thread_) throw MakeStatusError(env, LLMC_ERR_INVALID_ARGUMENT, "the executor is closed");
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "submit(req: object)");
  Napi::Object o = info[0].As<Napi::Object>();
  ExecutorRequest r;
  r.args = GenerateArgs::FromObject(o);
  r.logprobs = GetBool(o, "logprobs") ? 1 : 0;
  r.num_top_logprobs = static_cast<int32_t>(GetNumberOr(o, "topLogprobs", 0));
  r.no_prefix_cache = GetBool(o, "noPrefixCache");
  r.id = next_id_++;
  const int64_t id = r.id;
  if (shared_->in_flight++ == 0) shared_->tsfn.Ref(env);
  thread_->submit(std::move(r));
  return Napi::Number::New(env, static_cast<double>(id));
}

void ExecutorWrap::Cancel(const Napi::CallbackInfo& info) {
  if (!thread_ || info.Length() < 1 || !info[0].IsNumber()) return;
  thread_->cancel(static_cast<int64_t>(info[0].As<Napi::Number>().DoubleValue()));
}

Napi::Value ExecutorWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!thread_) throw MakeStatusError(env, LLMC_ERR_INVALID_ARGUMENT, "the executor is closed");
  const llmc_executor_stats s = thread_->stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("waiting", s.num_waiting);
  o.Set("running", s.num_running);
  o.Set("kvBlocksTotal", s.kv_blocks_total);
  o.Set("kvBlocksFree", s.kv_blocks_free);
  o.Set("kvBlocksCached", s.kv_blocks_cached);
  o.Set("prefixBlocksQueried", static_cast<double>(s.prefix_blocks_queried));
  o.Set("prefixBlocksHit", static_cast<double>(s.prefix_blocks_hit));
  o.Set("preemptions", static_cast<double>(s.num_preemptions));
  o.Set("steps", static_cast<double>(s.num_steps));
  o.Set("promptTokensComputed", static_cast<double>(s.prompt_tokens_computed));
  o.Set("promptTokensCached", static_cast<double>(s.prompt_tokens_cached));
  return o;
}

void ExecutorWrap::Close(const Napi::CallbackInfo&) { Shutdown(); }

}  // namespace llmc_node
