// NCCL through dlopen: the declarations llmc needs, with the values of nccl.h (NCCL 2.x; stable since 2.4).
#include "nccl.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "../runtime/errors.h"
#include "dynlib.h"

namespace llmc::cuda {

namespace {

using Result = int;  // ncclResult_t, 0 = ncclSuccess
using Comm = void*;  // ncclComm_t
constexpr int kNcclUint8 = 1;
constexpr int kNcclFloat32 = 7;
constexpr int kNcclSum = 0;
constexpr size_t kUniqueIdBytes = 128;  // NCCL_UNIQUE_ID_BYTES
struct UniqueId {
  char internal[kUniqueIdBytes];
};

}  // namespace

struct NcclCollectives::Api {
  DynLib lib;
  Result (*get_unique_id)(UniqueId*);
  Result (*comm_init_rank)(Comm*, int nranks, UniqueId id, int rank);
  Result (*all_reduce)(const void* send, void* recv, size_t count, int dtype, int op, Comm, CUstream);
  Result (*bcast)(const void* send, void* recv, size_t count, int dtype, int root, Comm, CUstream);
  Result (*send)(const void* buf, size_t count, int dtype, int peer, Comm, CUstream);
  Result (*recv)(void* buf, size_t count, int dtype, int peer, Comm, CUstream);
  Result (*group_start)();
  Result (*group_end)();
  Result (*comm_abort)(Comm);
  Result (*comm_destroy)(Comm);
  const char* (*error_string)(Result);
};

NcclCollectives::NcclCollectives(Device& dev, runtime::Collectives& host, const runtime::RankMapping& m)
    : dev_(dev), host_(host), m_(m), api_(std::make_unique<Api>()), timeout_s_(runtime::rank_timeout_seconds()) {
  DynLib& lib = api_->lib;
  if (!lib.open({std::getenv("LLMC_NCCL"), "libnccl.so.2", "libnccl.so"})) {
    runtime::fail(LLMC_ERR_UNSUPPORTED, "a sharded engine on the CUDA backend needs NCCL, and " +
                                            lib.open_error("install it (e.g. the nvidia-nccl-cu12/cu13 wheel or the NCCL package) or set LLMC_NCCL to its path"));
  }
  library_ = lib.name();
  lib.bind(api_->get_unique_id, "ncclGetUniqueId");
  lib.bind(api_->comm_init_rank, "ncclCommInitRank");
  lib.bind(api_->all_reduce, "ncclAllReduce");
  lib.bind(api_->bcast, "ncclBroadcast");
  lib.bind(api_->send, "ncclSend");
  lib.bind(api_->recv, "ncclRecv");
  lib.bind(api_->group_start, "ncclGroupStart");
  lib.bind(api_->group_end, "ncclGroupEnd");
  lib.bind(api_->comm_abort, "ncclCommAbort");
  lib.bind(api_->comm_destroy, "ncclCommDestroy");
  lib.bind(api_->error_string, "ncclGetErrorString");
  if (!lib.missing().empty()) runtime::fail(LLMC_ERR_UNSUPPORTED, lib.missing_error("NCCL 2.7 or newer is needed"));

  // World rank 0 makes the world's id and one per tensor-parallel group; MPI hands them to every rank.
  std::vector<UniqueId> ids(size_t(m.pp) + 1);
  if (host_.rank() == 0) {
    for (UniqueId& id : ids) check(api_->get_unique_id(&id), "ncclGetUniqueId", "setting up NCCL");
  }
  host_.broadcast(ids.data(), int64_t(ids.size() * sizeof(UniqueId)), false, "the NCCL unique ids");
  dev_.make_current();
  check(api_->group_start(), "ncclGroupStart", "setting up NCCL");
  check(api_->comm_init_rank(&world_, m.world_size, ids[0], m.rank), "ncclCommInitRank", "the world communicator");
  check(api_->comm_init_rank(&tp_, m.tp, ids[size_t(m.pp_rank) + 1], m.tp_rank), "ncclCommInitRank", "the tensor-parallel communicator");
  check(api_->group_end(), "ncclGroupEnd", "setting up NCCL");
}

NcclCollectives::~NcclCollectives() {
  if (tp_ != nullptr) api_->comm_destroy(tp_);
  if (world_ != nullptr) api_->comm_destroy(world_);
}

void NcclCollectives::check(int result, const char* call, const char* what) const {
  if (result == 0) return;
  runtime::fail(LLMC_ERR_INTERNAL, "rank " + std::to_string(m_.rank) + ": " + call + " failed in " + what + ": " + api_->error_string(result));
}

void NcclCollectives::all_reduce_sum(float* data, int64_t n, const char* what) {
  check(api_->all_reduce(data, data, size_t(n), kNcclFloat32, kNcclSum, tp_, dev_.stream()), "ncclAllReduce", what);
}

void NcclCollectives::all_gather_cols(const float* x, int64_t rows, const int32_t* sizes, int32_t tp, float* out, const char* what) {
  int64_t total = 0, width = 0;
  std::vector<int64_t> displ(static_cast<size_t>(tp), 0);
  for (int32_t i = 0; i < tp; ++i) {
    displ[size_t(i)] = total;
    total += rows * sizes[i];
    width += sizes[i];
  }
  if (scratch_.bytes() < size_t(total) * 4) scratch_.allocate(dev_, size_t(total) * 4, "all_gather blocks");
  float* blocks = scratch_.get<float>();
  check(api_->group_start(), "ncclGroupStart", what);
  for (int32_t i = 0; i < tp; ++i) {
    check(api_->bcast(i == m_.tp_rank ? x : nullptr, blocks + displ[size_t(i)], size_t(rows * sizes[i]), kNcclFloat32, i, tp_, dev_.stream()),
          "ncclBroadcast", what);
  }
  check(api_->group_end(), "ncclGroupEnd", what);
  // Block i [rows, sizes[i]] -> out[:, col_i : col_i + sizes[i]], one row at a time (logit rows: a handful).
  int64_t col = 0;
  for (int32_t i = 0; i < tp; ++i) {
    for (int64_t r = 0; r < rows; ++r) {
      dev_.copy_device_to_device_async(out + r * width + col, blocks + displ[size_t(i)] + r * sizes[i], size_t(sizes[i]) * 4);
    }
    col += sizes[i];
  }
}

void NcclCollectives::send(const void* data, int64_t bytes, int peer, const char* what) {
  check(api_->send(data, size_t(bytes), kNcclUint8, peer, world_, dev_.stream()), "ncclSend", what);
}

void NcclCollectives::recv(void* data, int64_t bytes, int peer, const char* what) {
  check(api_->recv(data, size_t(bytes), kNcclUint8, peer, world_, dev_.stream()), "ncclRecv", what);
}

void NcclCollectives::abort_job(int code) {
  if (tp_ != nullptr) api_->comm_abort(tp_);
  if (world_ != nullptr) api_->comm_abort(world_);
  tp_ = world_ = nullptr;
  host_.abort_job(code);
  std::abort();  // not reached: the host collectives end the job
}

void NcclCollectives::synchronize_step(const char* what) {
  // A watchdog aborts the communicators if the stream has not drained in time; the blocked synchronize then
  // returns an error, reported as the timeout.
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::atomic<bool> fired{false};
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::duration<double>(timeout_s_), [&] { return finished; })) {
      fired = true;
      if (tp_ != nullptr) api_->comm_abort(tp_);
      if (world_ != nullptr) api_->comm_abort(world_);
    }
  });
  std::string error;
  try {
    dev_.synchronize(what);
  } catch (const std::exception& e) {
    error = e.what();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
  }
  cv.notify_all();
  watchdog.join();
  if (fired) {
    tp_ = world_ = nullptr;
    runtime::fail(LLMC_ERR_INTERNAL, "rank " + std::to_string(m_.rank) + ": " + what + " did not finish within " +
                                         std::to_string(int(timeout_s_)) + " s (a rank died or hangs; NCCL aborted); stopping every rank");
  }
  if (!error.empty()) runtime::fail(LLMC_ERR_INTERNAL, error);
}

}  // namespace llmc::cuda
