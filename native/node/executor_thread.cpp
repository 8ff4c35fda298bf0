#include "executor_thread.h"

#include <chrono>

#include "status.h"

namespace llmc_node {

ExecutorThread::ExecutorThread(EngineHandlePtr handle, llmc_executor* ex, std::shared_ptr<DeliveryGate> gate,
                               std::function<void(EventBatch*)> deliver)
    : handle_(std::move(handle)), ex_(ex), gate_(std::move(gate)), deliver_(std::move(deliver)) {
  llmc_executor_get_stats(ex_, &stats_);
  thread_ = std::thread([this] { run(); });
}

ExecutorThread::~ExecutorThread() {
  stop();
  llmc_executor_free(ex_);
}

void ExecutorThread::submit(ExecutorRequest req) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(std::move(req));
  }
  cv_.notify_one();
}

void ExecutorThread::cancel(int64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancels_.push_back(id);
  }
  cv_.notify_one();
}

void ExecutorThread::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  gate_->open();  // this (JS) thread takes no batch until the join returns
  if (thread_.joinable()) thread_.join();
}

llmc_executor_stats ExecutorThread::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

int ExecutorThread::OnToken(void* user, int32_t token, int32_t index) {
  auto* l = static_cast<Live*>(user);
  ExecutorEvent e;
  e.id = l->js_id;
  e.token = token;
  e.index = index;
  if (l->has_logprob) {
    e.has_logprob = true;
    e.logprob = l->logprob;
    e.top_ids = std::move(l->top_ids);
    e.top_logprobs = std::move(l->top_logprobs);
    l->has_logprob = false;
  }
  l->owner->batch_.push_back(std::move(e));
  return 0;
}

void ExecutorThread::OnLogprobs(void* user, int32_t, float lp, const int32_t* ids, const float* lps, int32_t n) {
  auto* l = static_cast<Live*>(user);
  l->has_logprob = true;
  l->logprob = lp;
  l->top_ids.assign(ids, ids + n);
  l->top_logprobs.assign(lps, lps + n);
}

void ExecutorThread::admit(std::deque<ExecutorRequest>& inbox) {
  for (ExecutorRequest& r : inbox) {
    auto live = std::make_unique<Live>();
    live->owner = this;
    live->js_id = r.id;
    live->req = std::move(r);
    const GenerateArgs& a = live->req.args;
    llmc_request_params p{};
    p.prompt = a.prompt.data();
    p.prompt_len = static_cast<int32_t>(a.prompt.size());
    p.max_new_tokens = a.max_new_tokens;
    p.sampling = a.sampling;
    p.eos_ids = a.eos_ids.empty() ? nullptr : a.eos_ids.data();
    p.num_eos_ids = static_cast<int32_t>(a.eos_ids.size());
    p.ignore_eos = a.ignore_eos ? 1 : 0;
    p.logits_path = a.logits_path ? a.logits_path->c_str() : nullptr;
    p.on_token = &ExecutorThread::OnToken;
    p.user = live.get();
    p.logprobs = live->req.logprobs;
    p.num_top_logprobs = live->req.num_top_logprobs;
    p.on_logprobs = &ExecutorThread::OnLogprobs;
    p.no_prefix_cache = live->req.no_prefix_cache ? 1 : 0;
    int64_t nid = 0;
    int st = llmc_executor_add(ex_, &p, &nid);
    if (st != LLMC_OK) {
      ExecutorEvent e;
      e.id = live->js_id;
      e.finished = true;
      e.status = st;
      e.error = LastErrorMessage(st);
      batch_.push_back(std::move(e));
      continue;
    }
    live->native_id = nid;
    by_js_[live->js_id] = live.get();
    by_native_[nid] = std::move(live);
  }
  inbox.clear();
}

// A step failed in a way no single request explains (e.g. the KV blocks are held by another executor): every
// request still here finishes with the error, so no client waits forever.
void ExecutorThread::fail_all(int status, const std::string& message) {
  for (auto& [nid, live] : by_native_) {
    llmc_executor_cancel(ex_, nid);
    ExecutorEvent e;
    e.id = live->js_id;
    e.finished = true;
    e.status = status;
    e.error = message;
    batch_.push_back(std::move(e));
  }
  // Drain the executor so its KV blocks come back; the cancel finishes are not reported twice.
  llmc_step_event ev[64];
  int32_t n = 0, active = 1;
  for (int i = 0; i < 1000 && active > 0; ++i) {
    if (llmc_executor_step(ex_, ev, 64, &n, &active) != LLMC_OK) break;
  }
  by_native_.clear();
  by_js_.clear();
}

void ExecutorThread::run() {
  std::vector<llmc_step_event> events(256);
  int32_t active = 0;
  bool stopping = false;
  std::deque<ExecutorRequest> inbox;
  std::vector<int64_t> cancels;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !inbox_.empty() || !cancels_.empty() || active > 0; });
      inbox.swap(inbox_);
      cancels.swap(cancels_);
      stopping = stopping_;
    }
    admit(inbox);
    for (int64_t id : cancels) {
      auto it = by_js_.find(id);
      if (it != by_js_.end()) llmc_executor_cancel(ex_, it->second->native_id);
    }
    cancels.clear();
    if (stopping) {
      for (auto& [nid, live] : by_native_) llmc_executor_cancel(ex_, nid);
    }
    if (!by_native_.empty()) {
      gate_->wait_for_room();  // JS has not yet taken the last two batches: let it catch up first
      llmc_executor_stats before{};
      llmc_executor_get_stats(ex_, &before);
      int32_t n = 0;
      int st = llmc_executor_step(ex_, events.data(), static_cast<int32_t>(events.size()), &n, &active);
      std::string err = st != LLMC_OK ? LastErrorMessage(st) : "";
      // The step's events (delivered even when it failed half-way), then whatever it held back.
      while (true) {
        for (int32_t i = 0; i < n; ++i) {
          const llmc_step_event& ev = events[i];
          if (!ev.finished) continue;  // tokens came through OnToken
          auto it = by_native_.find(ev.request_id);
          if (it == by_native_.end()) continue;
          ExecutorEvent e;
          e.id = it->second->js_id;
          e.finished = true;
          e.stop_reason = ev.stop_reason;
          e.cached_tokens = ev.cached_tokens;
          e.logits_rows = ev.logits_rows;
          e.preemptions = ev.num_preemptions;
          e.queue_ms = ev.queue_ms;
          e.prefill_ms = ev.prefill_ms;
          e.decode_ms = ev.decode_ms;
          if (st != LLMC_OK && ev.stop_reason == LLMC_STOP_NONE) {
            e.status = st;
            e.error = err;
          }
          by_js_.erase(e.id);
          by_native_.erase(it);
          batch_.push_back(std::move(e));
        }
        if (n < static_cast<int32_t>(events.size())) break;
        // More events were held back than fit: collect them (no new step runs while the outbox is non-empty).
        if (llmc_executor_step(ex_, events.data(), static_cast<int32_t>(events.size()), &n, &active) != LLMC_OK) break;
      }
      if (st != LLMC_OK && st != LLMC_ERR_IO) fail_all(st, err);
      active = static_cast<int32_t>(by_native_.size());
      llmc_executor_stats after{};
      llmc_executor_get_stats(ex_, &after);
      {
        std::lock_guard<std::mutex> lock(mu_);
        stats_ = after;
      }
      // No step ran (static batching waiting for its batch to fill): do not spin.
      if (st == LLMC_OK && after.num_steps == before.num_steps && batch_.empty() && active > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    } else {
      active = 0;
      llmc_executor_stats s{};
      llmc_executor_get_stats(ex_, &s);
      std::lock_guard<std::mutex> lock(mu_);
      stats_ = s;
    }
    if (!batch_.empty()) {
      auto* out = new EventBatch(std::move(batch_));
      batch_.clear();
      gate_->sent();
      deliver_(out);
    }
    if (stopping && by_native_.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (inbox_.empty()) break;
    }
  }
}

}  // namespace llmc_node
