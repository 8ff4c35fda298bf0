// NCCL collectives for the CUDA backend of a sharded engine (docs/parallel.md), libnccl.so.2 through dlopen like
// cuBLASLt (nothing to link, nothing to install where no GPU is). The data of every call is in device memory and
// the calls are enqueued on the backend's stream; MPI (the host Collectives) starts the ranks, carries NCCL's
// unique ids and rank 0's step broadcast.
//   communicators  one over the world (send/recv between pipeline stages, peers by world rank) and one per
//                  tensor-parallel group (all_reduce, all_gather); world rank 0 makes every unique id
//   all_gather     ranks may give different widths (the vocabulary parts): one ncclBroadcast per rank into a
//                  scratch buffer (grouped), then each block copied into its columns of out
//   timeouts       synchronize_step() waits for the stream with a watchdog: past LLMC_RANK_TIMEOUT_S it calls
//                  ncclCommAbort (the documented way to unblock a hung collective) and throws naming the step
// Not run on this project's machines (no GPU, no NCCL): docs/cuda.md lists the GPU checks.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "../runtime/collectives.h"
#include "device.h"

namespace llmc::cuda {

class NcclCollectives final : public runtime::Collectives {
 public:
  // host: the MPI collectives (already set_mapping'd). Throws Error(UNSUPPORTED) when libnccl cannot be opened.
  NcclCollectives(Device& dev, runtime::Collectives& host, const runtime::RankMapping& m);
  ~NcclCollectives() override;

  int rank() const override { return host_.rank(); }
  int world_size() const override { return host_.world_size(); }
  void set_mapping(const runtime::RankMapping&) override {}
  void all_reduce_sum(float* data, int64_t n, const char* what) override;
  void all_gather_cols(const float* x, int64_t rows, const int32_t* sizes, int32_t tp, float* out, const char* what) override;
  void send(const void* data, int64_t bytes, int peer, const char* what) override;
  void recv(void* data, int64_t bytes, int peer, const char* what) override;
  void broadcast(void* data, int64_t bytes, bool wait_forever, const char* what) override {
    host_.broadcast(data, bytes, wait_forever, what);
  }
  [[noreturn]] void abort_job(int code) override;

  // Waits for the stream (the step's kernels and collectives) at most the rank timeout.
  void synchronize_step(const char* what);
  const std::string& library() const { return library_; }

 private:
  struct Api;
  void check(int result, const char* call, const char* what) const;

  Device& dev_;
  runtime::Collectives& host_;
  runtime::RankMapping m_;
  std::unique_ptr<Api> api_;
  void* world_ = nullptr;  // ncclComm_t
  void* tp_ = nullptr;     // ncclComm_t of this rank's tensor-parallel group
  DeviceBuffer scratch_;   // all_gather blocks
  double timeout_s_ = 20;
  std::string library_;
};

}  // namespace llmc::cuda
