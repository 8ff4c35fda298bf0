// The executor's own native thread: it owns one llmc_executor, takes submitted requests and cancels from an inbox
// (filled on the JS thread), runs packed steps while any request is queued or running, and hands each step's
// token and finish events to JS in one batch through a thread-safe function. JS never waits on a step; a step
// waits only while two batches are still untaken by JS (delivery_gate.h), so the thread never runs far ahead.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "delivery_gate.h"
#include "engine_handle.h"
#include "generate_worker.h"

namespace llmc_node {

struct ExecutorRequest {
  int64_t id = 0;  // the JS-side id
  GenerateArgs args;
  int32_t logprobs = 0;
  int32_t num_top_logprobs = 0;
  bool no_prefix_cache = false;
};

// One token or one finish, for JS.
struct ExecutorEvent {
  int64_t id = 0;
  int32_t token = -1;
  int32_t index = -1;
  bool has_logprob = false;
  float logprob = 0;
  std::vector<int32_t> top_ids;
  std::vector<float> top_logprobs;
  bool finished = false;
  int32_t stop_reason = 0;
  int32_t cached_tokens = 0, logits_rows = 0, preemptions = 0;
  double queue_ms = 0, prefill_ms = 0, decode_ms = 0;
  int status = 0;  // non-zero: the request failed; message in error
  std::string error;
};

using EventBatch = std::vector<ExecutorEvent>;

class ExecutorThread {
 public:
  // deliver is called on the executor thread with each non-empty batch (it must not block for long); whoever
  // receives the batch calls gate->taken() once it has handled it (or dropped it).
  ExecutorThread(EngineHandlePtr handle, llmc_executor* ex, std::shared_ptr<DeliveryGate> gate,
                 std::function<void(EventBatch*)> deliver);
  ~ExecutorThread();  // stop(): cancels what is left and joins

  void submit(ExecutorRequest req);
  void cancel(int64_t id);
  // Cancels every request, finishes them (their events are delivered) and joins the thread.
  void stop();
  llmc_executor_stats stats() const;

 private:
  // Per-request state the native callbacks write to (lives until its finish event).
  struct Live {
    ExecutorThread* owner;
    int64_t js_id;
    int64_t native_id = 0;
    ExecutorRequest req;
    bool has_logprob = false;
    float logprob = 0;
    std::vector<int32_t> top_ids;
    std::vector<float> top_logprobs;
  };
  static int OnToken(void* user, int32_t token, int32_t index);
  static void OnLogprobs(void* user, int32_t index, float lp, const int32_t* ids, const float* lps, int32_t n);
  void run();
  void admit(std::deque<ExecutorRequest>& inbox);
  void fail_all(int status, const std::string& message);

  EngineHandlePtr handle_;
  llmc_executor* ex_;
  std::shared_ptr<DeliveryGate> gate_;
  std::function<void(EventBatch*)> deliver_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ExecutorRequest> inbox_;
  std::vector<int64_t> cancels_;
  bool stopping_ = false;
  llmc_executor_stats stats_{};
  // Executor thread only:
  std::unordered_map<int64_t, std::unique_ptr<Live>> by_native_;
  std::unordered_map<int64_t, Live*> by_js_;
  EventBatch batch_;
  std::thread thread_;
};

}  // namespace llmc_node
