// The collectives a sharded engine needs (docs/parallel.md), one interface with two implementations:
//   MPI   (OpenMPI; CPU backend): native/mpi/llmc_mpi.cpp, a plugin (llmc_mpi.so next to the addon) built only
//         where mpi.h is found and opened with dlopen when an engine has more than one rank, so llmc builds and
//         runs one-rank engines without MPI.
//   NCCL  (CUDA backend): native/cuda/nccl.cpp, libnccl.so.2 through dlopen like cuBLASLt; MPI still starts the
//         ranks and carries the step broadcast and NCCL's unique id.
// Every call waits at most timeout_s (LLMC_RANK_TIMEOUT_S, default 20) for its peers; past that it throws
// Error(LLMC_ERR_INTERNAL) naming the peer(s) and the op, and the caller aborts the whole job (abort_job), so a
// dead or hung rank ends every rank with one line on rank 0 instead of a hang.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "plan.h"

namespace llmc::runtime {

class Collectives {
 public:
  virtual ~Collectives() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Sets up the tensor-parallel group of this rank (the tp consecutive ranks of its stage). Called once.
  virtual void set_mapping(const RankMapping& m) = 0;
  // In place, summed over the tensor-parallel group. `what` names the node for a timeout message.
  virtual void all_reduce_sum(float* data, int64_t n, const char* what) = 0;
  // x [rows, sizes[tp_rank]] from every rank of the group -> out [rows, sum(sizes)], columns in tp-rank order.
  virtual void all_gather_cols(const float* x, int64_t rows, const int32_t* sizes, int32_t tp, float* out, const char* what) = 0;
  virtual void send(const void* data, int64_t bytes, int peer, const char* what) = 0;
  virtual void recv(void* data, int64_t bytes, int peer, const char* what) = 0;
  // From world rank 0 to every rank. wait_forever: a follower waiting for rank 0's next step (rank 0 may be idle).
  virtual void broadcast(void* data, int64_t bytes, bool wait_forever, const char* what) = 0;
  // Ends every rank of the job now (after a timeout or an error only some ranks saw), with `code`.
  [[noreturn]] virtual void abort_job(int code) = 0;
};

// MPI_Init (once per process) through the plugin. Throws Error(LLMC_ERR_UNSUPPORTED) with the fix when the
// plugin or libmpi is missing, or when the process was not started by mpirun (a world of one).
std::unique_ptr<Collectives> open_mpi_collectives();

// Seconds a collective waits for its peers (LLMC_RANK_TIMEOUT_S, default 20).
double rank_timeout_seconds();

}  // namespace llmc::runtime
