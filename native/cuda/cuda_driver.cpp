// dlopen("libcuda.so.1") and the function table (cuda_driver.h).
#include "cuda_driver.h"

#include <dlfcn.h>

#include <cstdlib>

#include <mutex>

namespace llmc::cuda {

const char* const kNoDriverMessage =
    "CUDA backend unavailable: libcuda.so.1 not found (no NVIDIA driver on this machine); run on a GPU machine or use "
    "--backend cpu";

namespace {

std::mutex g_mutex;
const DriverApi* g_installed = nullptr;  // install_driver()
DriverApi g_libcuda;
bool g_libcuda_tried = false;
bool g_libcuda_ok = false;
std::string g_libcuda_why;

// Resolves `slot` from the first of `names` the library exports.
template <class Fn>
bool resolve(void* lib, Fn*& slot, std::initializer_list<const char*> names, std::string* missing) {
  for (const char* n : names) {
    if (void* p = ::dlsym(lib, n)) {
      slot = reinterpret_cast<Fn*>(p);
      return true;
    }
  }
  if (missing->empty()) *missing = *names.begin();
  return false;
}

bool load_libcuda(DriverApi* api, std::string* why) {
  // LLMC_CUDA_DRIVER names another library (tests, unusual installs); otherwise the driver's soname.
  const char* override_path = std::getenv("LLMC_CUDA_DRIVER");
  const char* name = override_path != nullptr && override_path[0] != '\0' ? override_path : "libcuda.so.1";
  void* lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = ::dlerror();
    *why = std::string(kNoDriverMessage) + (override_path ? std::string(" (LLMC_CUDA_DRIVER=") + name + ": " + (err ? err : "?") + ")" : "");
    return false;
  }
  std::string missing;
  bool ok = true;
  ok &= resolve(lib, api->cuInit, {"cuInit"}, &missing);
  ok &= resolve(lib, api->cuDriverGetVersion, {"cuDriverGetVersion"}, &missing);
  ok &= resolve(lib, api->cuDeviceGetCount, {"cuDeviceGetCount"}, &missing);
  ok &= resolve(lib, api->cuDeviceGet, {"cuDeviceGet"}, &missing);
  ok &= resolve(lib, api->cuDeviceGetName, {"cuDeviceGetName"}, &missing);
  ok &= resolve(lib, api->cuDeviceGetAttribute, {"cuDeviceGetAttribute"}, &missing);
  ok &= resolve(lib, api->cuDeviceTotalMem, {"cuDeviceTotalMem_v2"}, &missing);
  ok &= resolve(lib, api->cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"}, &missing);
  ok &= resolve(lib, api->cuDevicePrimaryCtxRelease, {"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}, &missing);
  ok &= resolve(lib, api->cuCtxSetCurrent, {"cuCtxSetCurrent"}, &missing);
  ok &= resolve(lib, api->cuCtxSynchronize, {"cuCtxSynchronize"}, &missing);
  ok &= resolve(lib, api->cuModuleLoadDataEx, {"cuModuleLoadDataEx"}, &missing);
  ok &= resolve(lib, api->cuModuleUnload, {"cuModuleUnload"}, &missing);
  ok &= resolve(lib, api->cuModuleGetFunction, {"cuModuleGetFunction"}, &missing);
  ok &= resolve(lib, api->cuFuncSetAttribute, {"cuFuncSetAttribute"}, &missing);
  ok &= resolve(lib, api->cuFuncGetAttribute, {"cuFuncGetAttribute"}, &missing);
  ok &= resolve(lib, api->cuLaunchKernel, {"cuLaunchKernel"}, &missing);
  ok &= resolve(lib, api->cuMemAlloc, {"cuMemAlloc_v2"}, &missing);
  ok &= resolve(lib, api->cuMemFree, {"cuMemFree_v2"}, &missing);
  ok &= resolve(lib, api->cuMemAllocHost, {"cuMemAllocHost_v2"}, &missing);
  ok &= resolve(lib, api->cuMemFreeHost, {"cuMemFreeHost"}, &missing);
  ok &= resolve(lib, api->cuMemcpyHtoD, {"cuMemcpyHtoD_v2"}, &missing);
  ok &= resolve(lib, api->cuMemcpyDtoH, {"cuMemcpyDtoH_v2"}, &missing);
  ok &= resolve(lib, api->cuMemcpyHtoDAsync, {"cuMemcpyHtoDAsync_v2"}, &missing);
  ok &= resolve(lib, api->cuMemcpyDtoHAsync, {"cuMemcpyDtoHAsync_v2"}, &missing);
  ok &= resolve(lib, api->cuMemcpyDtoDAsync, {"cuMemcpyDtoDAsync_v2"}, &missing);
  ok &= resolve(lib, api->cuMemsetD8Async, {"cuMemsetD8Async"}, &missing);
  ok &= resolve(lib, api->cuMemGetInfo, {"cuMemGetInfo_v2"}, &missing);
  ok &= resolve(lib, api->cuStreamCreate, {"cuStreamCreate"}, &missing);
  ok &= resolve(lib, api->cuStreamDestroy, {"cuStreamDestroy_v2"}, &missing);
  ok &= resolve(lib, api->cuStreamSynchronize, {"cuStreamSynchronize"}, &missing);
  ok &= resolve(lib, api->cuStreamBeginCapture, {"cuStreamBeginCapture_v2"}, &missing);
  ok &= resolve(lib, api->cuStreamEndCapture, {"cuStreamEndCapture"}, &missing);
  ok &= resolve(lib, api->cuGraphInstantiateWithFlags, {"cuGraphInstantiateWithFlags"}, &missing);
  ok &= resolve(lib, api->cuGraphLaunch, {"cuGraphLaunch"}, &missing);
  ok &= resolve(lib, api->cuGraphExecDestroy, {"cuGraphExecDestroy"}, &missing);
  ok &= resolve(lib, api->cuGraphDestroy, {"cuGraphDestroy"}, &missing);
  ok &= resolve(lib, api->cuEventCreate, {"cuEventCreate"}, &missing);
  ok &= resolve(lib, api->cuEventRecord, {"cuEventRecord"}, &missing);
  ok &= resolve(lib, api->cuEventSynchronize, {"cuEventSynchronize"}, &missing);
  ok &= resolve(lib, api->cuEventElapsedTime, {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, &missing);
  ok &= resolve(lib, api->cuEventDestroy, {"cuEventDestroy_v2"}, &missing);
  ok &= resolve(lib, api->cuGetErrorName, {"cuGetErrorName"}, &missing);
  ok &= resolve(lib, api->cuGetErrorString, {"cuGetErrorString"}, &missing);
  if (!ok) {
    *why = "CUDA backend unavailable: " + std::string(name) + " has no " + missing +
           " (NVIDIA driver too old for this llmc: install a driver for CUDA 12 or newer, or use --backend cpu)";
    ::dlclose(lib);
    return false;
  }
  api->emulated = false;
  api->library = name;
  return true;  // the library stays loaded for the life of the process
}

}  // namespace

const DriverApi* load_driver(std::string* why) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_installed != nullptr) return g_installed;
  if (!g_libcuda_tried) {
    g_libcuda_tried = true;
    g_libcuda_ok = load_libcuda(&g_libcuda, &g_libcuda_why);
  }
  if (!g_libcuda_ok) {
    if (why != nullptr) *why = g_libcuda_why;
    return nullptr;
  }
  return &g_libcuda;
}

void install_driver(const DriverApi* api) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_installed = api;
}

std::string error_text(const DriverApi& api, CUresult r) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (api.cuGetErrorName == nullptr || api.cuGetErrorName(r, &name) != CUDA_SUCCESS) name = nullptr;
  if (api.cuGetErrorString == nullptr || api.cuGetErrorString(r, &text) != CUDA_SUCCESS) text = nullptr;
  std::string s = name != nullptr ? name : "CUDA error";
  s += " (" + std::to_string(r) + ")";
  if (text != nullptr) s += std::string(": ") + text;
  return s;
}

}  // namespace llmc::cuda
