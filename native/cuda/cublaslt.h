// Optional cuBLASLt for the prefill GEMM of f32 weights (y = x . w^T with CUBLAS_COMPUTE_32F: plain f32, no TF32),
// reached through dlopen like the driver. f16/bf16 weights always use llmc's own GEMM (activations are f32, and
// cuBLASLt wants both operands in one type); so does a step being captured into a CUDA graph.
//
// Library search: $LLMC_CUBLASLT (a path), then libcublasLt.so.13, .so.12, .so (the dynamic loader's paths:
// LD_LIBRARY_PATH, e.g. PyTorch's nvidia/cu13/lib). LLMC_CUDA_CUBLASLT=0 disables it.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "device.h"

namespace llmc::cuda {

class CublasLt {
 public:
  // nullptr (and *why) when the library is absent or disabled, or failed to initialise.
  static std::unique_ptr<CublasLt> open(Device& dev, std::string* why);
  ~CublasLt();

  // y[M, N] = x[M, K] . w[N, K]^T on the device's stream, all f32 row-major. False when cuBLASLt has no algorithm
  // for the shape (the caller falls back to its own kernel).
  bool sgemm_xwT(int M, int N, int K, const float* x, const float* w, float* y);

  const std::string& library() const { return library_; }

 private:
  struct Api;
  CublasLt(Device& dev, std::unique_ptr<Api> api, void* handle, std::string library);
  Device& dev_;
  std::unique_ptr<Api> api_;
  void* handle_ = nullptr;
  DeviceBuffer workspace_;
  std::string library_;
  struct Algo {
    uint64_t data[8];
    bool ok;
  };
  std::map<std::tuple<int, int, int>, Algo> algos_;
};

}  // namespace llmc::cuda
