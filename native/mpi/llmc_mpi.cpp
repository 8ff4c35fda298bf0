// llmc_mpi.so: MPI for the runtime's collectives (ABI in llmc_mpi_abi.h). Built only where mpi.h is found
// (binding.gyp, CMakeLists.txt); OpenMPI 4 from Debian's libopenmpi-dev is the tested one.
// Every operation is non-blocking (MPI_I*) and polled with a deadline, so a peer that died or hangs becomes a
// timeout the caller can report, not a hang. Between polls the thread sleeps briefly: ranks oversubscribed on few
// cores must not spin each other out.
#define OMPI_SKIP_MPICXX 1  // the C API only
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <climits>
#include <cstdio>
#include <string>
#include <vector>

#include "llmc_mpi_abi.h"

namespace {

MPI_Comm g_tp = MPI_COMM_NULL;

void put(char* err, int errlen, const std::string& s) {
  if (err != nullptr && errlen > 0) std::snprintf(err, static_cast<size_t>(errlen), "%s", s.c_str());
}

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, static_cast<size_t>(len));
}

// Polls one request until it completes or timeout_s passes.
int wait(MPI_Request* req, double timeout_s, char* err, int errlen) {
  const auto start = std::chrono::steady_clock::now();
  int spins = 0;
  for (;;) {
    int done = 0;
    int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
      put(err, errlen, mpi_error(rc));
      return LLMC_MPI_FAILED;
    }
    if (done) return 0;
    if (++spins < 200) continue;
    if (timeout_s > 0) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (s > timeout_s) {
        put(err, errlen, "no answer within " + std::to_string(static_cast<int>(timeout_s)) + " s");
        return LLMC_MPI_TIMEOUT;
      }
    }
    timespec ts{0, spins < 2000 ? 20000L : 200000L};  // 20 us, then 200 us once a wait is long
    nanosleep(&ts, nullptr);
  }
}

int check(int rc, char* err, int errlen) {
  if (rc == MPI_SUCCESS) return 0;
  put(err, errlen, mpi_error(rc));
  return LLMC_MPI_FAILED;
}

bool fits_int(int64_t n, char* err, int errlen) {
  if (n >= 0 && n <= INT_MAX) return true;
  put(err, errlen, "message of " + std::to_string(n) + " elements is beyond MPI's int count");
  return false;
}

void finalize();

int init(int* rank, int* size, char* err, int errlen) {
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    int provided = 0;
    // Steps run on whichever worker thread the caller uses, one at a time: SERIALIZED is enough.
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) return check(rc, err, errlen);
    if (provided < MPI_THREAD_SERIALIZED) {
      put(err, errlen, "the MPI library gives thread level " + std::to_string(provided) + ", llmc needs MPI_THREAD_SERIALIZED");
      return LLMC_MPI_FAILED;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    // Once per process, at exit: MPI cannot be initialised again, and a process may open several engines.
    std::atexit(finalize);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, rank);
  MPI_Comm_size(MPI_COMM_WORLD, size);
  return 0;
}

int split_tp(int color, int key, char* err, int errlen) {
  if (g_tp != MPI_COMM_NULL) MPI_Comm_free(&g_tp);
  int rc = MPI_Comm_split(MPI_COMM_WORLD, color, key, &g_tp);
  if (rc == MPI_SUCCESS) MPI_Comm_set_errhandler(g_tp, MPI_ERRORS_RETURN);
  return check(rc, err, errlen);
}

int allreduce_sum_f32(float* data, int64_t n, double timeout_s, char* err, int errlen) {
  if (!fits_int(n, err, errlen)) return LLMC_MPI_FAILED;
  MPI_Request req;
  int rc = MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM, g_tp, &req);
  if (rc != MPI_SUCCESS) return check(rc, err, errlen);
  return wait(&req, timeout_s, err, errlen);
}

int allgatherv_f32(const float* x, int64_t count, float* out, const int64_t* counts, const int64_t* displs, int n,
                   double timeout_s, char* err, int errlen) {
  std::vector<int> c(static_cast<size_t>(n)), d(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    if (!fits_int(counts[i], err, errlen) || !fits_int(displs[i], err, errlen)) return LLMC_MPI_FAILED;
    c[static_cast<size_t>(i)] = static_cast<int>(counts[i]);
    d[static_cast<size_t>(i)] = static_cast<int>(displs[i]);
  }
  if (!fits_int(count, err, errlen)) return LLMC_MPI_FAILED;
  MPI_Request req;
  int rc = MPI_Iallgatherv(x, static_cast<int>(count), MPI_FLOAT, out, c.data(), d.data(), MPI_FLOAT, g_tp, &req);
  if (rc != MPI_SUCCESS) return check(rc, err, errlen);
  return wait(&req, timeout_s, err, errlen);
}

int send(const void* data, int64_t bytes, int peer, double timeout_s, char* err, int errlen) {
  if (!fits_int(bytes, err, errlen)) return LLMC_MPI_FAILED;
  MPI_Request req;
  int rc = MPI_Isend(data, static_cast<int>(bytes), MPI_BYTE, peer, 0, MPI_COMM_WORLD, &req);
  if (rc != MPI_SUCCESS) return check(rc, err, errlen);
  return wait(&req, timeout_s, err, errlen);
}

int recv(void* data, int64_t bytes, int peer, double timeout_s, char* err, int errlen) {
  if (!fits_int(bytes, err, errlen)) return LLMC_MPI_FAILED;
  MPI_Request req;
  int rc = MPI_Irecv(data, static_cast<int>(bytes), MPI_BYTE, peer, 0, MPI_COMM_WORLD, &req);
  if (rc != MPI_SUCCESS) return check(rc, err, errlen);
  return wait(&req, timeout_s, err, errlen);
}

int bcast(void* data, int64_t bytes, double timeout_s, char* err, int errlen) {
  if (!fits_int(bytes, err, errlen)) return LLMC_MPI_FAILED;
  MPI_Request req;
  int rc = MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, 0, MPI_COMM_WORLD, &req);
  if (rc != MPI_SUCCESS) return check(rc, err, errlen);
  return wait(&req, timeout_s, err, errlen);
}

void abort_job(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void finalize() {
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  if (!inited || finalized) return;
  if (g_tp != MPI_COMM_NULL) MPI_Comm_free(&g_tp);
  MPI_Finalize();
}

const llmc_mpi_v1 kApi = {LLMC_MPI_ABI, init, split_tp, allreduce_sum_f32, allgatherv_f32, send, recv, bcast, abort_job, finalize};

}  // namespace

extern "C" __attribute__((visibility("default"))) const llmc_mpi_v1* llmc_mpi_api(void) { return &kApi; }
