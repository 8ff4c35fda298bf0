// cuBLASLt through dlopen: the handful of declarations llmc needs (values from cublasLt.h / library_types.h).
#include "cublaslt.h"

#include <cstdlib>
#include <cstring>

#include "dynlib.h"

namespace llmc::cuda {

namespace {

using Status = int;  // cublasStatus_t, 0 = CUBLAS_STATUS_SUCCESS
using Handle = void*;
using MatmulDesc = void*;
using Layout = void*;
using Pref = void*;

constexpr int CUBLAS_COMPUTE_32F = 68;  // plain f32 (TF32 would be CUBLAS_COMPUTE_32F_FAST_TF32 = 77)
constexpr int CUDA_R_32F = 0;
constexpr int CUBLAS_OP_N = 0;
constexpr int CUBLAS_OP_T = 1;
constexpr int CUBLASLT_MATMUL_DESC_TRANSA = 3;
constexpr int CUBLASLT_MATMUL_DESC_TRANSB = 4;
constexpr int CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1;
constexpr size_t kWorkspaceBytes = size_t(32) << 20;

struct AlgoT {
  uint64_t data[8];
};
struct HeuristicResult {
  AlgoT algo;
  size_t workspace_size;
  Status state;
  float waves_count;
  int reserved[4];
};
static_assert(sizeof(HeuristicResult) == 96, "cublasLtMatmulHeuristicResult_t layout");

}  // namespace

struct CublasLt::Api {
  DynLib lib;
  Status (*create)(Handle*);
  Status (*destroy)(Handle);
  Status (*desc_create)(MatmulDesc*, int compute, int scale_type);
  Status (*desc_destroy)(MatmulDesc);
  Status (*desc_set)(MatmulDesc, int attr, const void* buf, size_t size);
  Status (*layout_create)(Layout*, int type, uint64_t rows, uint64_t cols, int64_t ld);
  Status (*layout_destroy)(Layout);
  Status (*pref_create)(Pref*);
  Status (*pref_destroy)(Pref);
  Status (*pref_set)(Pref, int attr, const void* buf, size_t size);
  Status (*heuristic)(Handle, MatmulDesc, Layout, Layout, Layout, Layout, Pref, int requested, HeuristicResult* results,
                      int* returned);
  Status (*matmul)(Handle, MatmulDesc, const void* alpha, const void* a, Layout, const void* b, Layout, const void* beta,
                   const void* c, Layout, void* d, Layout, const AlgoT* algo, void* workspace, size_t workspace_bytes,
                   CUstream stream);
};

std::unique_ptr<CublasLt> CublasLt::open(Device& dev, std::string* why) {
  const char* off = std::getenv("LLMC_CUDA_CUBLASLT");
  if (off != nullptr && std::strcmp(off, "0") == 0) {
    *why = "disabled by LLMC_CUDA_CUBLASLT=0";
    return nullptr;
  }
  if (dev.emulated()) {
    *why = "not used with the CPU emulator";
    return nullptr;
  }
  auto api = std::make_unique<Api>();
  DynLib& lib = api->lib;
  if (!lib.open({std::getenv("LLMC_CUBLASLT"), "libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"})) {
    *why = lib.open_error("set LLMC_CUBLASLT=/path/to/libcublasLt.so.13 or add its folder to LD_LIBRARY_PATH");
    return nullptr;
  }
  const std::string name = lib.name();
  lib.bind(api->create, "cublasLtCreate");
  lib.bind(api->destroy, "cublasLtDestroy");
  lib.bind(api->desc_create, "cublasLtMatmulDescCreate");
  lib.bind(api->desc_destroy, "cublasLtMatmulDescDestroy");
  lib.bind(api->desc_set, "cublasLtMatmulDescSetAttribute");
  lib.bind(api->layout_create, "cublasLtMatrixLayoutCreate");
  lib.bind(api->layout_destroy, "cublasLtMatrixLayoutDestroy");
  lib.bind(api->pref_create, "cublasLtMatmulPreferenceCreate");
  lib.bind(api->pref_destroy, "cublasLtMatmulPreferenceDestroy");
  lib.bind(api->pref_set, "cublasLtMatmulPreferenceSetAttribute");
  lib.bind(api->heuristic, "cublasLtMatmulAlgoGetHeuristic");
  lib.bind(api->matmul, "cublasLtMatmul");
  if (!lib.missing().empty()) {
    *why = lib.missing_error("a cuBLASLt function llmc uses");
    return nullptr;
  }
  Handle h = nullptr;
  if (api->create(&h) != 0) {
    *why = "cublasLtCreate failed";
    return nullptr;
  }
  return std::unique_ptr<CublasLt>(new CublasLt(dev, std::move(api), h, name));
}

CublasLt::CublasLt(Device& dev, std::unique_ptr<Api> api, void* handle, std::string library)
    : dev_(dev), api_(std::move(api)), handle_(handle), library_(std::move(library)) {
  workspace_.allocate(dev_, kWorkspaceBytes, "cuBLASLt workspace");
}

CublasLt::~CublasLt() {
  if (handle_ != nullptr) api_->destroy(handle_);
}

bool CublasLt::sgemm_xwT(int M, int N, int K, const float* x, const float* w, float* y) {
  // Column-major view: y^T [N, M] = w [N, K] (stored as K x N, transposed) . x^T [K, M] (stored as K x M).
  MatmulDesc desc = nullptr;
  Layout la = nullptr, lb = nullptr, lc = nullptr;
  bool ok = api_->desc_create(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) == 0;
  const int ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  ok = ok && api_->desc_set(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta) == 0;
  ok = ok && api_->desc_set(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb) == 0;
  ok = ok && api_->layout_create(&la, CUDA_R_32F, uint64_t(K), uint64_t(N), K) == 0;
  ok = ok && api_->layout_create(&lb, CUDA_R_32F, uint64_t(K), uint64_t(M), K) == 0;
  ok = ok && api_->layout_create(&lc, CUDA_R_32F, uint64_t(N), uint64_t(M), N) == 0;
  auto key = std::make_tuple(M, N, K);
  auto it = algos_.find(key);
  if (ok && it == algos_.end()) {
    Pref pref = nullptr;
    Algo a{};
    a.ok = false;
    if (api_->pref_create(&pref) == 0) {
      const uint64_t ws = kWorkspaceBytes;
      api_->pref_set(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
      HeuristicResult r{};
      int returned = 0;
      if (api_->heuristic(handle_, desc, la, lb, lc, lc, pref, 1, &r, &returned) == 0 && returned > 0 && r.state == 0) {
        std::memcpy(a.data, r.algo.data, sizeof a.data);
        a.ok = true;
      }
      api_->pref_destroy(pref);
    }
    it = algos_.emplace(key, a).first;
  }
  ok = ok && it->second.ok;
  if (ok) {
    const float alpha = 1.0f, beta = 0.0f;
    AlgoT algo;
    std::memcpy(algo.data, it->second.data, sizeof algo.data);
    ok = api_->matmul(handle_, desc, &alpha, w, la, x, lb, &beta, y, lc, y, lc, &algo, workspace_.get(), kWorkspaceBytes,
                      dev_.stream()) == 0;
  }
  if (lc) api_->layout_destroy(lc);
  if (lb) api_->layout_destroy(lb);
  if (la) api_->layout_destroy(la);
  if (desc) api_->desc_destroy(desc);
  return ok;
}

}  // namespace llmc::cuda
