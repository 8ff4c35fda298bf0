#include "device.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../runtime/errors.h"

namespace llmc::cuda {

using runtime::fail;

namespace {

const char* const kKernelNames[] = {
#define LLMC_K_NAME(name, P) #name,
    LLMC_CUDA_KERNELS(LLMC_K_NAME)
#undef LLMC_K_NAME
};

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
}

const size_t kKernelParamSizes[] = {
#define LLMC_K_SIZE(name, P) sizeof(llmc::kabi::P),
    LLMC_CUDA_KERNELS(LLMC_K_SIZE)
#undef LLMC_K_SIZE
};

}  // namespace

const char* kernel_name(K k) { return kKernelNames[int(k)]; }

void Device::check_params_size(K k, size_t bytes) const {
  if (kKernelParamSizes[int(k)] != bytes) {
    fail(LLMC_ERR_INTERNAL, std::string("launch of ") + kernel_name(k) + " with a parameter struct of " + std::to_string(bytes) +
                                " bytes; its ABI struct has " + std::to_string(kKernelParamSizes[int(k)]));
  }
}

std::string format_bytes(double bytes) {
  char buf[32];
  if (bytes >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  else if (bytes >= 1e6) std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  else std::snprintf(buf, sizeof buf, "%.1f KB", bytes / 1e3);
  return buf;
}

Device::Device(const DriverApi& api, int ordinal) : api_(api) {
  CUresult r = api_.cuInit(0);
  if (r != CUDA_SUCCESS) {
    fail(LLMC_ERR_UNSUPPORTED, "CUDA backend unavailable: cuInit failed with " + error_text(api_, r) +
                                   " (no usable NVIDIA GPU or driver); run on a GPU machine or use --backend cpu");
  }
  int count = 0;
  r = api_.cuDeviceGetCount(&count);
  if (r != CUDA_SUCCESS || count == 0) {
    fail(LLMC_ERR_UNSUPPORTED, "CUDA backend unavailable: the NVIDIA driver sees no GPU; run on a GPU machine or use --backend cpu");
  }
  if (ordinal < 0 || ordinal >= count) {
    fail(LLMC_ERR_INVALID_ARGUMENT, "LLMC_CUDA_DEVICE=" + std::to_string(ordinal) + " but this machine has " +
                                        std::to_string(count) + " CUDA device(s) (0.." + std::to_string(count - 1) + ")");
  }
  check(api_.cuDeviceGet(&dev_, ordinal), "cuDeviceGet");
  info_.ordinal = ordinal;
  char name[256] = {0};
  check(api_.cuDeviceGetName(name, sizeof name - 1, dev_), "cuDeviceGetName");
  info_.name = name;
  auto attr = [&](int a) {
    int v = 0;
    check(api_.cuDeviceGetAttribute(&v, a, dev_), "cuDeviceGetAttribute");
    return v;
  };
  info_.cc_major = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  info_.cc_minor = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
  info_.sms = attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  info_.smem_optin = attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  info_.l2_bytes = attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
  check(api_.cuDeviceTotalMem(&info_.total_bytes, dev_), "cuDeviceTotalMem");
  check(api_.cuDriverGetVersion(&info_.driver_version), "cuDriverGetVersion");
  if (info_.cc_major < 8) {
    fail(LLMC_ERR_UNSUPPORTED, "CUDA backend: " + info_.name + " has compute capability " + std::to_string(info_.cc_major) +
                                   "." + std::to_string(info_.cc_minor) + "; llmc's CUDA kernels need 8.0 or newer (A100, " +
                                   "RTX 30xx, L4, H100, ...); use --backend cpu");
  }
  check(api_.cuDevicePrimaryCtxRetain(&ctx_, dev_), "cuDevicePrimaryCtxRetain");
  make_current();
  check(api_.cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  sync_each_launch_ = env_flag("LLMC_CUDA_SYNC");
}

Device::~Device() {
  if (ctx_ == nullptr) return;
  api_.cuCtxSetCurrent(ctx_);
  if (stream_ != nullptr) {
    api_.cuStreamSynchronize(stream_);
    api_.cuStreamDestroy(stream_);
  }
  if (module_ != nullptr) api_.cuModuleUnload(module_);
  api_.cuDevicePrimaryCtxRelease(dev_);
}

void Device::make_current() const { check(api_.cuCtxSetCurrent(ctx_), "cuCtxSetCurrent"); }

void Device::check(CUresult r, const std::string& what) const {
  if (r == CUDA_SUCCESS) return;
  fail(r == CUDA_ERROR_OUT_OF_MEMORY ? LLMC_ERR_LIMIT : LLMC_ERR_INTERNAL, "CUDA: " + what + " failed: " + error_text(api_, r));
}

void Device::load_kernels(const std::vector<uint8_t>& image, const std::string& what, const std::string& rebuild) {
  make_current();
  const std::string dev_desc = info_.name + ", " + info_.arch() + " (compute capability " + std::to_string(info_.cc_major) +
                               "." + std::to_string(info_.cc_minor) + ")";
  std::string holds = "?";
  if (api_.emulated) {
    code_path_ = "emulated";
  } else {
    std::vector<FatbinEntry> entries;
    std::string why;
    if (!parse_fatbin(image.data(), image.size(), &entries, &why)) {
      fail(LLMC_ERR_BAD_ENGINE, what + ": " + why + "; rebuild it: `" + rebuild + "`");
    }
    holds = describe_entries(entries);
    const ArchMatch m = match_device(entries, info_.cc_major, info_.cc_minor);
    if (m.how == ArchMatch::How::none) {
      fail(LLMC_ERR_UNSUPPORTED, what + " holds kernels for " + holds + ", none of which runs on this GPU (" + dev_desc +
                                     "): SASS runs on its own major version at the same or a higher minor ('a' targets "
                                     "only on exactly theirs), PTX on its version and newer; rebuild the engine for " +
                                     device_arch_name(info_.cc_major, info_.cc_minor) + ": `" + rebuild + "`");
    }
    if (m.how == ArchMatch::How::sass) {
      code_path_ = entry_name(m.entry) + " SASS";
    } else {
      code_path_ = entry_name(m.entry) + " PTX JIT-compiled for " + info_.arch();
      std::fprintf(stderr,
                   "[llmc cuda] note: %s has no machine code for this GPU (%s; it holds %s): the driver JIT-compiles the "
                   "%s PTX at load, which is slower to start. For native code rebuild: `%s`\n",
                   what.c_str(), dev_desc.c_str(), holds.c_str(), entry_name(m.entry).c_str(), rebuild.c_str());
    }
  }
  static const uint8_t kEmpty[16] = {0};
  char log[8192] = {0};
  int opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* vals[2] = {log, reinterpret_cast<void*>(uintptr_t(sizeof log - 1))};
  const CUresult r = api_.cuModuleLoadDataEx(&module_, image.empty() ? kEmpty : image.data(), 2, opts, vals);
  if (r == CUDA_ERROR_NO_BINARY_FOR_GPU) {
    fail(LLMC_ERR_UNSUPPORTED, what + " (" + holds + ") has no code this GPU (" + dev_desc + ") can run; rebuild the engine for " +
                                   device_arch_name(info_.cc_major, info_.cc_minor) + ": `" + rebuild + "`");
  }
  if (r == CUDA_ERROR_UNSUPPORTED_PTX_VERSION || r == CUDA_ERROR_INVALID_PTX || r == CUDA_ERROR_JIT_COMPILER_NOT_FOUND) {
    const int dv = info_.driver_version;
    fail(LLMC_ERR_UNSUPPORTED, "the NVIDIA driver (CUDA " + std::to_string(dv / 1000) + "." + std::to_string(dv % 1000 / 10) +
                                   ") cannot JIT-compile the PTX in " + what + " (" + error_text(api_, r) +
                                   (log[0] ? std::string("; ") + log : std::string()) +
                                   "): update the driver, or rebuild the engine with machine code for " +
                                   device_arch_name(info_.cc_major, info_.cc_minor) + ": `" + rebuild + "`");
  }
  check(r, "loading " + what + (log[0] ? std::string(" (") + log + ")" : std::string()));

  const std::string abi = "llmc_abi_v" + std::to_string(LLMC_CUDA_ABI_VERSION);
  CUfunction marker = nullptr;
  if (api_.cuModuleGetFunction(&marker, module_, abi.c_str()) != CUDA_SUCCESS) {
    fail(LLMC_ERR_VERSION, what + " was compiled from other llmc kernel sources (it has no " + abi +
                               " kernel: this runtime needs CUDA kernel ABI v" + std::to_string(LLMC_CUDA_ABI_VERSION) +
                               "); rebuild it: `" + rebuild + "`");
  }
  for (int i = 0; i < int(K::count); ++i) {
    const CUresult fr = api_.cuModuleGetFunction(&fns_[i], module_, kKernelNames[i]);
    if (fr != CUDA_SUCCESS) {
      fail(LLMC_ERR_VERSION, what + " has no kernel " + kKernelNames[i] + " (" + error_text(api_, fr) +
                                 "): it was compiled from other llmc kernel sources; rebuild it: `" + rebuild + "`");
    }
  }
}

void Device::set_max_dynamic_smem(K k, int bytes, const std::string& why) {
  if (bytes <= 48 * 1024) return;
  if (bytes > info_.smem_optin) {
    fail(LLMC_ERR_UNSUPPORTED, std::string(kernel_name(k)) + " needs " + std::to_string(bytes / 1024) +
                                   " KiB of shared memory per block (" + why + ") but " + info_.name + " allows " +
                                   std::to_string(info_.smem_optin / 1024) + " KiB");
  }
  check(api_.cuFuncSetAttribute(fns_[int(k)], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
        std::string("cuFuncSetAttribute(") + kernel_name(k) + ", max dynamic shared memory " + std::to_string(bytes) + ")");
}

void Device::launch_raw(K k, Dim3 grid, unsigned block, unsigned smem, const void* params) {
  void* args[1] = {const_cast<void*>(params)};
  const CUresult r = api_.cuLaunchKernel(fns_[int(k)], grid.x, grid.y, grid.z, block, 1, 1, smem, stream_, args, nullptr);
  if (r != CUDA_SUCCESS) {
    check(r, std::string("launching ") + kernel_name(k) + (label_[0] ? std::string(" for node ") + label_ : std::string()) +
                 " (grid " + std::to_string(grid.x) + "x" + std::to_string(grid.y) + "x" + std::to_string(grid.z) +
                 ", block " + std::to_string(block) + ", " + std::to_string(smem) + " bytes of shared memory)");
  }
  if (sync_each_launch_ && !capturing_) {
    const CUresult s = api_.cuStreamSynchronize(stream_);
    if (s != CUDA_SUCCESS) {
      check(s, std::string(kernel_name(k)) + (label_[0] ? std::string(" (node ") + label_ + ")" : std::string()) +
                   " [LLMC_CUDA_SYNC=1]");
    }
  }
}

CUdeviceptr Device::alloc(size_t bytes, const std::string& what) {
  CUdeviceptr p = 0;
  const CUresult r = api_.cuMemAlloc(&p, bytes == 0 ? 256 : bytes);
  if (r == CUDA_ERROR_OUT_OF_MEMORY) {
    size_t free_b = 0, total_b = 0;
    api_.cuMemGetInfo(&free_b, &total_b);
    fail(LLMC_ERR_LIMIT, "out of GPU memory allocating " + format_bytes(double(bytes)) + " for the " + what + " (" +
                             format_bytes(double(free_b)) + " free of " + format_bytes(double(total_b)) + " on " + info_.name +
                             "); lower --kv-cache-bytes or rebuild with a smaller --max-num-tokens / --max-batch-size");
  }
  check(r, "cuMemAlloc(" + std::to_string(bytes) + " bytes for the " + what + ")");
  return p;
}

void Device::free(CUdeviceptr p) {
  if (p != 0) api_.cuMemFree(p);
}

void* Device::alloc_host(size_t bytes, const std::string& what) {
  void* p = nullptr;
  check(api_.cuMemAllocHost(&p, bytes == 0 ? 64 : bytes), "cuMemAllocHost(" + std::to_string(bytes) + " bytes for the " + what + ")");
  return p;
}

void Device::free_host(void* p) {
  if (p != nullptr) api_.cuMemFreeHost(p);
}

void Device::copy_to_device_async(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  check(api_.cuMemcpyHtoDAsync(CUdeviceptr(uintptr_t(dst)), src, bytes, stream_), "cuMemcpyHtoDAsync");
}

void Device::copy_device_to_device_async(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  check(api_.cuMemcpyDtoDAsync(CUdeviceptr(uintptr_t(dst)), CUdeviceptr(uintptr_t(src)), bytes, stream_), "cuMemcpyDtoDAsync");
}

void Device::copy_to_host_async(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  check(api_.cuMemcpyDtoHAsync(dst, CUdeviceptr(uintptr_t(src)), bytes, stream_), "cuMemcpyDtoHAsync");
}

void Device::copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  check(api_.cuMemcpyHtoD(CUdeviceptr(uintptr_t(dst)), src, bytes), "cuMemcpyHtoD");
}

void Device::memset_async(void* dst, int value, size_t bytes) {
  if (bytes == 0) return;
  check(api_.cuMemsetD8Async(CUdeviceptr(uintptr_t(dst)), static_cast<unsigned char>(value), bytes, stream_), "cuMemsetD8Async");
}

void Device::synchronize(const char* what) {
  const CUresult r = api_.cuStreamSynchronize(stream_);
  if (r != CUDA_SUCCESS) {
    fail(LLMC_ERR_INTERNAL, std::string("CUDA error during ") + what + ": " + error_text(api_, r) +
                                "; rerun with LLMC_CUDA_SYNC=1 to name the failing kernel, or under compute-sanitizer");
  }
}

void Device::mem_info(size_t* free_bytes, size_t* total_bytes) const {
  check(api_.cuMemGetInfo(free_bytes, total_bytes), "cuMemGetInfo");
}

void DeviceBuffer::allocate(Device& dev, size_t bytes, const std::string& what) {
  reset();
  dev_ = &dev;
  ptr_ = dev.alloc(bytes, what);
  bytes_ = bytes;
}

void DeviceBuffer::reset() {
  if (dev_ != nullptr && ptr_ != 0) dev_->free(ptr_);
  ptr_ = 0;
  bytes_ = 0;
}

void PinnedBuffer::reserve(Device& dev, size_t bytes, const std::string& what) {
  if (ptr_ != nullptr && bytes_ >= bytes) return;
  reset();
  dev_ = &dev;
  ptr_ = dev.alloc_host(bytes, what);
  bytes_ = bytes;
}

void PinnedBuffer::reset() {
  if (dev_ != nullptr && ptr_ != nullptr) dev_->free_host(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

}  // namespace llmc::cuda
