// One CUDA device as the backend uses it: the primary context, one stream, the kernels of the loaded fatbin (looked
// up by the names in kernels/kernel_abi.h), device and pinned-host allocations, and typed kernel launches.
//
// Launches are type-checked against the ABI list: launch<K::llmc_rms_norm>(grid, block, smem, NormParams{...})
// does not compile with another parameter struct.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda_driver.h"
#include "fatbin.h"
#include "kernels/kernel_abi.h"

namespace llmc::cuda {

enum class K : int {
#define LLMC_K_ENUM(name, P) name,
  LLMC_CUDA_KERNELS(LLMC_K_ENUM)
#undef LLMC_K_ENUM
  count
};

template <K k>
struct KernelParams;
#define LLMC_K_PARAMS(name, P)           \
  template <>                            \
  struct KernelParams<K::name> {         \
    using type = llmc::kabi::P;          \
  };
LLMC_CUDA_KERNELS(LLMC_K_PARAMS)
#undef LLMC_K_PARAMS

const char* kernel_name(K k);

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int sms = 0;
  int smem_optin = 0;      // bytes of shared memory a block may opt in to
  int l2_bytes = 0;
  size_t total_bytes = 0;
  int driver_version = 0;  // e.g. 13000
  std::string arch() const { return "sm_" + std::to_string(cc_major * 10 + cc_minor); }
};

class Device {
 public:
  // Initialises the driver and opens device `ordinal` (its primary context) with one non-blocking stream.
  // Throws Error(LLMC_ERR_UNSUPPORTED) when there is no usable device.
  Device(const DriverApi& api, int ordinal);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Loads the kernels from a fatbin image (ignored by the emulator). `what` names the file for messages and
  // `rebuild` is the command that rebuilds it. Checks the fatbin's architectures against the device first, then
  // the ABI marker kernel, then looks up every kernel. Throws Error (UNSUPPORTED / VERSION / BAD_ENGINE).
  void load_kernels(const std::vector<uint8_t>& image, const std::string& what, const std::string& rebuild);
  // Raises a kernel's dynamic shared-memory limit (needed above 48 KiB). Throws UNSUPPORTED past the device's limit.
  void set_max_dynamic_smem(K k, int bytes, const std::string& why);

  const DriverApi& api() const { return api_; }
  const DeviceInfo& info() const { return info_; }
  CUstream stream() const { return stream_; }
  bool emulated() const { return api_.emulated; }
  // How the loaded fatbin runs here ("sm_90a SASS", "compute_80 PTX (JIT)", "emulated").
  const std::string& code_path() const { return code_path_; }

  // Makes the context current on the calling thread (steps may come from different threads).
  void make_current() const;

  template <K k>
  void launch(Dim3 grid, unsigned block, unsigned smem_bytes, const typename KernelParams<k>::type& params) {
    launch_raw(k, grid, block, smem_bytes, &params);
  }
  // A kernel chosen at run time (one of a family with the same parameter struct); checked against the ABI list.
  template <class P>
  void launch_any(K k, Dim3 grid, unsigned block, unsigned smem_bytes, const P& params) {
    check_params_size(k, sizeof(P));
    launch_raw(k, grid, block, smem_bytes, &params);
  }

  // Memory. alloc throws Error(LLMC_ERR_LIMIT) with the sizes when the device is out of memory.
  CUdeviceptr alloc(size_t bytes, const std::string& what);
  void free(CUdeviceptr p);
  void* alloc_host(size_t bytes, const std::string& what);  // pinned
  void free_host(void* p);
  void copy_to_device_async(void* dst, const void* src, size_t bytes);
  void copy_to_host_async(void* dst, const void* src, size_t bytes);
  void copy_device_to_device_async(void* dst, const void* src, size_t bytes);
  void copy_to_device(void* dst, const void* src, size_t bytes);  // synchronous
  void memset_async(void* dst, int value, size_t bytes);
  void synchronize(const char* what);
  void mem_info(size_t* free_bytes, size_t* total_bytes) const;

  // Throws Error(LLMC_ERR_INTERNAL, or LLMC_ERR_LIMIT for out of memory) naming `what` when r is not CUDA_SUCCESS.
  void check(CUresult r, const std::string& what) const;

  // Debugging: LLMC_CUDA_SYNC=1 synchronises after every launch outside graph capture and names the failing kernel.
  void set_capturing(bool on) { capturing_ = on; }
  bool capturing() const { return capturing_; }
  void set_launch_label(const char* label) { label_ = label; }

 private:
  void launch_raw(K k, Dim3 grid, unsigned block, unsigned smem, const void* params);
  void check_params_size(K k, size_t bytes) const;

  const DriverApi& api_;
  DeviceInfo info_;
  CUdevice dev_ = 0;
  CUcontext ctx_ = nullptr;
  CUstream stream_ = nullptr;
  CUmodule module_ = nullptr;
  CUfunction fns_[int(K::count)] = {};
  std::string code_path_;
  bool sync_each_launch_ = false;
  bool capturing_ = false;
  const char* label_ = "";
};

// Device memory owned for the life of the object.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void allocate(Device& dev, size_t bytes, const std::string& what);
  void reset();
  template <class T = void>
  T* get() const {
    return reinterpret_cast<T*>(static_cast<uintptr_t>(ptr_));
  }
  size_t bytes() const { return bytes_; }

 private:
  Device* dev_ = nullptr;
  CUdeviceptr ptr_ = 0;
  size_t bytes_ = 0;
};

// Page-locked host memory (async copies), growable.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() { reset(); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void reserve(Device& dev, size_t bytes, const std::string& what);  // keeps the old contents only when big enough
  void reset();
  template <class T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  Device* dev_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

std::string format_bytes(double bytes);  // "13.48 GB"

}  // namespace llmc::cuda
