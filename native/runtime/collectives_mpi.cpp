// Collectives over MPI through the plugin llmc_mpi.so (native/mpi/, ABI in llmc_mpi_abi.h), found next to the
// addon or llmc-run (dladdr of this code) or at LLMC_MPI_PLUGIN.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "../mpi/llmc_mpi_abi.h"
#include "collectives.h"
#include "errors.h"

namespace llmc::runtime {

double rank_timeout_seconds() {
  const char* s = std::getenv("LLMC_RANK_TIMEOUT_S");
  if (s == nullptr || *s == '\0') return 20.0;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || !(v > 0)) {
    fail(LLMC_ERR_INVALID_ARGUMENT, std::string("LLMC_RANK_TIMEOUT_S=") + s + " is not a positive number of seconds");
  }
  return v;
}

namespace {

const char kInstall[] = "install OpenMPI (Debian/Ubuntu: `apt-get install -y openmpi-bin libopenmpi-dev`) and rebuild the addon (`npm run build:native`)";

std::string plugin_path() {
  if (const char* p = std::getenv("LLMC_MPI_PLUGIN"); p != nullptr && *p != '\0') return p;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&rank_timeout_seconds), &info) == 0 || info.dli_fname == nullptr) return "llmc_mpi.so";
  std::string self = info.dli_fname;
  const size_t slash = self.rfind('/');
  const std::string dir = slash == std::string::npos ? std::string() : self.substr(0, slash + 1);
  // node-gyp names the module llmc_mpi.node next to llmc.node; CMake names it llmc_mpi.so next to llmc-run.
  const std::string gyp = dir + "llmc_mpi.node";
  return access(gyp.c_str(), F_OK) == 0 ? gyp : dir + "llmc_mpi.so";
}

bool started_by_a_launcher() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

class MpiCollectives final : public Collectives {
 public:
  explicit MpiCollectives(const llmc_mpi_v1* api) : api_(api), timeout_(rank_timeout_seconds()) {
    char err[512] = "";
    if (api_->init(&rank_, &size_, err, sizeof err) != 0) fail(LLMC_ERR_UNSUPPORTED, std::string("MPI_Init failed: ") + err);
  }
  ~MpiCollectives() override = default;  // MPI_Finalize runs at process exit (the plugin's atexit)

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }

  void set_mapping(const RankMapping& m) override {
    mapping_ = m;
    char err[512] = "";
    if (api_->split_tp(m.pp_rank, m.tp_rank, err, sizeof err) != 0) fail(LLMC_ERR_INTERNAL, std::string("MPI_Comm_split: ") + err);
  }

  void all_reduce_sum(float* data, int64_t n, const char* what) override {
    char err[512] = "";
    done(api_->allreduce_sum_f32(data, n, timeout_, err, sizeof err), err, what, group_label());
  }

  void all_gather_cols(const float* x, int64_t rows, const int32_t* sizes, int32_t tp, float* out, const char* what) override {
    // Gather each rank's [rows, sizes[i]] block contiguously, then interleave the columns into out.
    std::vector<int64_t> counts(static_cast<size_t>(tp)), displs(static_cast<size_t>(tp));
    int64_t total = 0, width = 0;
    for (int32_t i = 0; i < tp; ++i) {
      counts[static_cast<size_t>(i)] = rows * sizes[i];
      displs[static_cast<size_t>(i)] = total;
      total += rows * sizes[i];
      width += sizes[i];
    }
    gathered_.resize(static_cast<size_t>(total));
    char err[512] = "";
    done(api_->allgatherv_f32(x, rows * sizes[mapping_.tp_rank], gathered_.data(), counts.data(), displs.data(), tp, timeout_, err, sizeof err),
         err, what, group_label());
    int64_t col = 0;
    for (int32_t i = 0; i < tp; ++i) {
      const float* block = gathered_.data() + displs[static_cast<size_t>(i)];
      for (int64_t r = 0; r < rows; ++r) {
        for (int32_t c = 0; c < sizes[i]; ++c) out[r * width + col + c] = block[r * sizes[i] + c];
      }
      col += sizes[i];
    }
  }

  void send(const void* data, int64_t bytes, int peer, const char* what) override {
    char err[512] = "";
    done(api_->send(data, bytes, peer, timeout_, err, sizeof err), err, what, "rank " + std::to_string(peer));
  }

  void recv(void* data, int64_t bytes, int peer, const char* what) override {
    char err[512] = "";
    done(api_->recv(data, bytes, peer, timeout_, err, sizeof err), err, what, "rank " + std::to_string(peer));
  }

  void broadcast(void* data, int64_t bytes, bool wait_forever, const char* what) override {
    char err[512] = "";
    done(api_->bcast(data, bytes, wait_forever ? 0.0 : timeout_, err, sizeof err), err, what, rank_ != 0 ? std::string("rank 0") : size_ == 2 ? std::string("rank 1") : "ranks 1.." + std::to_string(size_ - 1));
  }

  [[noreturn]] void abort_job(int code) override {
    api_->abort(code);
    std::_Exit(code);
  }

 private:
  std::string group_label() const {
    std::string s;
    for (int32_t i = 0; i < mapping_.tp; ++i) {
      const int r = mapping_.pp_rank * mapping_.tp + i;
      if (r != rank_) s += (s.empty() ? "" : ", ") + std::to_string(r);
    }
    return (mapping_.tp > 2 ? "ranks " : "rank ") + s;
  }

  void done(int rc, const char* err, const char* what, const std::string& peers) const {
    if (rc == 0) return;
    if (rc == LLMC_MPI_TIMEOUT) {
      fail(LLMC_ERR_INTERNAL, "rank " + std::to_string(rank_) + ": " + peers + " did not reach " + what + " within " +
                                  std::to_string(static_cast<int>(timeout_)) + " s (a rank died or hangs); stopping every rank (LLMC_RANK_TIMEOUT_S sets the wait)");
    }
    fail(LLMC_ERR_INTERNAL, "rank " + std::to_string(rank_) + ": MPI failed in " + what + ": " + err);
  }

  const llmc_mpi_v1* api_;
  double timeout_;
  int rank_ = 0, size_ = 1;
  RankMapping mapping_;
  std::vector<float> gathered_;
};

}  // namespace

std::unique_ptr<Collectives> open_mpi_collectives() {
  if (!started_by_a_launcher()) {
    fail(LLMC_ERR_UNSUPPORTED, "a sharded engine runs one process per rank; start it with `llmc run` (which starts mpirun) or `mpirun -np N ...`");
  }
  const std::string path = plugin_path();
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (h == nullptr) {
    const char* e = dlerror();
    fail(LLMC_ERR_UNSUPPORTED, "this sharded engine needs MPI, but " + path + " cannot be loaded (" + (e ? e : "?") +
                                   "): llmc was built without MPI; " + kInstall);
  }
  using ApiFn = const llmc_mpi_v1* (*)();
  auto fn = reinterpret_cast<ApiFn>(dlsym(h, "llmc_mpi_api"));
  const llmc_mpi_v1* api = fn ? fn() : nullptr;
  if (api == nullptr || api->abi != LLMC_MPI_ABI) {
    fail(LLMC_ERR_UNSUPPORTED, path + " is not an llmc MPI plugin of this version; rebuild with `npm run build:native`");
  }
  return std::make_unique<MpiCollectives>(api);
}

}  // namespace llmc::runtime
