// The C ABI between the runtime (native/runtime/collectives_mpi.cpp) and the MPI plugin llmc_mpi.so
// (native/mpi/llmc_mpi.cpp), which is the only code that includes mpi.h or links libmpi. The runtime opens the
// plugin with dlopen, so the addon and llmc-run build and load without MPI.
// Every call returns 0 on success, LLMC_MPI_TIMEOUT when the peers did not take part within timeout_s (<= 0:
// wait forever) or LLMC_MPI_FAILED; `err` then holds one line.
#pragma once
#include <cstdint>

#define LLMC_MPI_ABI 1
#define LLMC_MPI_TIMEOUT 1
#define LLMC_MPI_FAILED 2

extern "C" {

struct llmc_mpi_v1 {
  int abi;  // LLMC_MPI_ABI
  int (*init)(int* rank, int* size, char* err, int errlen);
  // Makes the tensor-parallel communicator: ranks with the same color, ordered by key.
  int (*split_tp)(int color, int key, char* err, int errlen);
  int (*allreduce_sum_f32)(float* data, int64_t n, double timeout_s, char* err, int errlen);
  // Over the tensor-parallel communicator: rank i contributes counts[i] floats, placed at displs[i] of out.
  int (*allgatherv_f32)(const float* x, int64_t count, float* out, const int64_t* counts, const int64_t* displs, int n,
                        double timeout_s, char* err, int errlen);
  int (*send)(const void* data, int64_t bytes, int peer, double timeout_s, char* err, int errlen);
  int (*recv)(void* data, int64_t bytes, int peer, double timeout_s, char* err, int errlen);
  int (*bcast)(void* data, int64_t bytes, double timeout_s, char* err, int errlen);  // from world rank 0
  void (*abort)(int code);
  void (*finalize)(void);
};

// The plugin's one exported symbol.
const llmc_mpi_v1* llmc_mpi_api(void);
}
