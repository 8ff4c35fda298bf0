// Persistent worker threads for the CPU backend. parallel_for splits [0, n) into one contiguous chunk per thread
// (the caller's thread takes chunk 0), so a GEMV's threads each stream their own rows of the weight matrix.
// Workers spin briefly before sleeping: a decode step issues hundreds of small parallel_fors.
#pragma once
#include <cstdint>
#include <functional>

namespace llmc::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);  // <= 0: std::thread::hardware_concurrency()
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // fn(begin, end, thread_index) for contiguous chunks covering [0, n). Chunks are aligned to `grain` items.
  // Returns after every chunk is done. Not re-entrant: do not call parallel_for from inside fn.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace llmc::cpu
