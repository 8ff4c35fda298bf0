// Shared by the CUDA kernel tests (cuda_backend_ops.cpp and cuda_backend_ops_quant.cpp, one program): the device
// and thread pool of the run, device scratch memory per case, copies back, the scalar CPU reference, event timing.
#pragma once
#include <algorithm>
#include <memory>
#include <vector>

#include "../cpu/kernels.h"
#include "../cpu/thread_pool.h"
#include "../cuda/device.h"

namespace llmc::test {

using llmc::cuda::Device;
using llmc::cuda::DeviceBuffer;

inline bool g_emulated = false;
inline Device* g_dev = nullptr;
inline cpu::ThreadPool* g_pool = nullptr;

// Device copies that live until the end of a case.
class Scratch {
 public:
  template <class T>
  T* put(const std::vector<T>& v) {
    return static_cast<T*>(put_bytes(v.data(), v.size() * sizeof(T)));
  }
  void* put_bytes(const void* p, size_t n) {
    void* d = alloc(n);
    g_dev->copy_to_device(d, p, n);
    return d;
  }
  void* alloc(size_t n) {
    bufs_.push_back(std::make_unique<DeviceBuffer>());
    bufs_.back()->allocate(*g_dev, std::max<size_t>(n, 16), "test buffer");
    return bufs_.back()->get();
  }
  float* floats(size_t n) { return static_cast<float*>(alloc(n * 4)); }

 private:
  std::vector<std::unique_ptr<DeviceBuffer>> bufs_;
};

template <class T>
std::vector<T> fetch(const T* d, size_t n) {
  std::vector<T> h(n);
  g_dev->copy_to_host_async(h.data(), d, n * sizeof(T));
  g_dev->synchronize("a test case");
  return h;
}

// The CPU reference runs with the scalar kernels (the textbook formulas).
struct ScalarReference {
  cpu::Simd saved = cpu::simd_level();
  ScalarReference() { cpu::set_simd_level(cpu::Simd::scalar); }
  ~ScalarReference() { cpu::set_simd_level(saved); }
};

struct Timer {
  CUevent_st* e0 = nullptr;
  CUevent_st* e1 = nullptr;
  Timer() {
    g_dev->check(g_dev->api().cuEventCreate(&e0, cuda::CU_EVENT_DEFAULT), "cuEventCreate");
    g_dev->check(g_dev->api().cuEventCreate(&e1, cuda::CU_EVENT_DEFAULT), "cuEventCreate");
  }
  ~Timer() {
    g_dev->api().cuEventDestroy(e0);
    g_dev->api().cuEventDestroy(e1);
  }
  // Median milliseconds of `reps` calls of f(i), each timed alone.
  template <class F>
  double median_ms(int reps, F&& f) {
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
      g_dev->api().cuEventRecord(e0, g_dev->stream());
      f(i);
      g_dev->api().cuEventRecord(e1, g_dev->stream());
      g_dev->synchronize("--perf");
      float ms = 0;
      g_dev->api().cuEventElapsedTime(&ms, e0, e1);
      t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }
};

}  // namespace llmc::test

// cuda_backend_ops_quant.cpp: linear_q (every quantized kernel against cpu::linear_q), and its --perf rows.
namespace llmc::test {
void test_linear_q(float* workspace, int64_t workspace_floats);
void perf_linear_q(float* workspace, int64_t workspace_floats, double copy_gbs);
}  // namespace llmc::test
