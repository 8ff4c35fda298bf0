// Persistent worker threads for the CPU backend. parallel_for splits [0, n) into one contiguous chunk per thread
// (the caller's thread takes chunk 0), so a GEMV's threads each stream their own rows of the weight matrix.
// Workers spin briefly before sleeping: a decode step issues hundreds of small parallel_fors.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

namespace llmc::cpu {

// CPUs this process may run on (its affinity mask, so taskset / cgroup cpusets are respected), at least 1.
int default_thread_count();

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);  // <= 0: default_thread_count()
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // fn(begin, end, thread_index) for contiguous chunks covering [0, n). Chunks are aligned to `grain` items.
  // Returns after every chunk is done. Not re-entrant: do not call parallel_for from inside fn. Calls from several
  // threads (two engines sharing this pool) take turns, one job at a time, so the pool never runs more threads
  // than it has.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

  // The process-wide pool of this many threads (<= 0: default_thread_count()), shared by every engine that asks
  // for the same count: two engines in one process then use one set of threads instead of two. Freed with its
  // last user.
  static std::shared_ptr<ThreadPool> shared(int num_threads);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace llmc::cpu
