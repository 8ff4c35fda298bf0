// Bounds how far the executor thread runs ahead of the JS thread: at most `limit` event batches handed to JS and
// not yet taken by it. Without it the thread-safe function's queue grows whenever JS takes longer per step than the
// step does (many streams, a loaded machine), and Node runs up to 1000 queued calls per event-loop turn: the loop
// then stalls for seconds, accepted connections are not read, and Node's headersTimeout answers 408 to requests
// whose headers already arrived (docs/serving.md "Event loop and timeouts"). With the gate the next step overlaps
// JS's handling of the last one, and no more.
#pragma once
#include <condition_variable>
#include <mutex>

namespace llmc_node {

class DeliveryGate {
 public:
  explicit DeliveryGate(int limit) : limit_(limit) {}

  // Executor thread: a batch was handed to JS.
  void sent() {
    std::lock_guard<std::mutex> lock(mu_);
    ++outstanding_;
  }
  // JS thread (or the thread-safe function's finalizer): a batch was taken or dropped.
  void taken() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (outstanding_ > 0) --outstanding_;
    }
    cv_.notify_all();
  }
  // Executor thread: blocks while `limit` batches are outstanding, until one is taken or the gate is opened.
  void wait_for_room() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return open_ || outstanding_ < limit_; });
  }
  // For good (stop(): JS is joining the thread and takes nothing until it returns).
  void open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const int limit_;
  int outstanding_ = 0;
  bool open_ = false;
};

}  // namespace llmc_node
