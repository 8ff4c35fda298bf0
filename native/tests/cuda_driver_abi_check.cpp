// cuda_driver_abi_check: native/cuda/cuda_driver.h declares the driver API without CUDA headers; this translation
// unit includes the real cuda.h too (built only where the toolkit is installed) and checks, at compile time, that
// every function pointer in DriverApi has the type of the entry point it is loaded from (enums compared as int)
// and that every constant has cuda.h's value. Compiling is the test; running it just prints a line.
#include <cuda.h>

#include <cstdio>
#include <type_traits>

#include "../cuda/cuda_driver.h"

namespace {

// Types as the ABI sees them: enums (CUresult, CUdevice_attribute, ...) are passed as int.
template <class T>
struct Norm {
  using type = typename std::conditional<std::is_enum<T>::value, int, T>::type;
};
template <class T>
struct Norm<T*> {
  using type = typename std::conditional<std::is_enum<T>::value, int*, T*>::type;
};
template <class F>
struct NormFn;
template <class R, class... A>
struct NormFn<R (*)(A...)> {
  using type = typename Norm<R>::type (*)(typename Norm<A>::type...);
};

template <class Ours, class Theirs>
constexpr bool same_fn() {
  return std::is_same<typename NormFn<Ours>::type, typename NormFn<Theirs>::type>::value;
}

using llmc::cuda::DriverApi;
#define CHECK_FN(member, real) \
  static_assert(same_fn<decltype(DriverApi::member), decltype(&real)>(), "DriverApi::" #member " does not match cuda.h " #real)

CHECK_FN(cuInit, ::cuInit);
CHECK_FN(cuDriverGetVersion, ::cuDriverGetVersion);
CHECK_FN(cuDeviceGetCount, ::cuDeviceGetCount);
CHECK_FN(cuDeviceGet, ::cuDeviceGet);
CHECK_FN(cuDeviceGetName, ::cuDeviceGetName);
CHECK_FN(cuDeviceGetAttribute, ::cuDeviceGetAttribute);
CHECK_FN(cuDeviceTotalMem, ::cuDeviceTotalMem_v2);
CHECK_FN(cuDevicePrimaryCtxRetain, ::cuDevicePrimaryCtxRetain);
CHECK_FN(cuDevicePrimaryCtxRelease, ::cuDevicePrimaryCtxRelease_v2);
CHECK_FN(cuCtxSetCurrent, ::cuCtxSetCurrent);
CHECK_FN(cuCtxSynchronize, ::cuCtxSynchronize);
CHECK_FN(cuModuleLoadDataEx, ::cuModuleLoadDataEx);
CHECK_FN(cuModuleUnload, ::cuModuleUnload);
CHECK_FN(cuModuleGetFunction, ::cuModuleGetFunction);
CHECK_FN(cuFuncSetAttribute, ::cuFuncSetAttribute);
CHECK_FN(cuFuncGetAttribute, ::cuFuncGetAttribute);
CHECK_FN(cuLaunchKernel, ::cuLaunchKernel);
CHECK_FN(cuMemAlloc, ::cuMemAlloc_v2);
CHECK_FN(cuMemFree, ::cuMemFree_v2);
CHECK_FN(cuMemAllocHost, ::cuMemAllocHost_v2);
CHECK_FN(cuMemFreeHost, ::cuMemFreeHost);
CHECK_FN(cuMemcpyHtoD, ::cuMemcpyHtoD_v2);
CHECK_FN(cuMemcpyDtoH, ::cuMemcpyDtoH_v2);
CHECK_FN(cuMemcpyHtoDAsync, ::cuMemcpyHtoDAsync_v2);
CHECK_FN(cuMemcpyDtoHAsync, ::cuMemcpyDtoHAsync_v2);
CHECK_FN(cuMemcpyDtoDAsync, ::cuMemcpyDtoDAsync_v2);
CHECK_FN(cuMemsetD8Async, ::cuMemsetD8Async);
CHECK_FN(cuMemGetInfo, ::cuMemGetInfo_v2);
CHECK_FN(cuStreamCreate, ::cuStreamCreate);
CHECK_FN(cuStreamDestroy, ::cuStreamDestroy_v2);
CHECK_FN(cuStreamSynchronize, ::cuStreamSynchronize);
CHECK_FN(cuStreamBeginCapture, ::cuStreamBeginCapture_v2);
CHECK_FN(cuStreamEndCapture, ::cuStreamEndCapture);
CHECK_FN(cuGraphInstantiateWithFlags, ::cuGraphInstantiateWithFlags);
CHECK_FN(cuGraphLaunch, ::cuGraphLaunch);
CHECK_FN(cuGraphExecDestroy, ::cuGraphExecDestroy);
CHECK_FN(cuGraphDestroy, ::cuGraphDestroy);
CHECK_FN(cuEventCreate, ::cuEventCreate);
CHECK_FN(cuEventRecord, ::cuEventRecord);
CHECK_FN(cuEventSynchronize, ::cuEventSynchronize);
CHECK_FN(cuEventElapsedTime, ::cuEventElapsedTime_v2);
CHECK_FN(cuEventDestroy, ::cuEventDestroy_v2);
CHECK_FN(cuGetErrorName, ::cuGetErrorName);
CHECK_FN(cuGetErrorString, ::cuGetErrorString);

// Handle and scalar types are the very same types.
static_assert(std::is_same<llmc::cuda::CUcontext, ::CUcontext>::value, "CUcontext");
static_assert(std::is_same<llmc::cuda::CUmodule, ::CUmodule>::value, "CUmodule");
static_assert(std::is_same<llmc::cuda::CUfunction, ::CUfunction>::value, "CUfunction");
static_assert(std::is_same<llmc::cuda::CUstream, ::CUstream>::value, "CUstream");
static_assert(std::is_same<llmc::cuda::CUgraph, ::CUgraph>::value, "CUgraph");
static_assert(std::is_same<llmc::cuda::CUgraphExec, ::CUgraphExec>::value, "CUgraphExec");
static_assert(std::is_same<llmc::cuda::CUevent, ::CUevent>::value, "CUevent");
static_assert(std::is_same<llmc::cuda::CUdeviceptr, ::CUdeviceptr>::value, "CUdeviceptr");
static_assert(std::is_same<llmc::cuda::CUdevice, ::CUdevice>::value, "CUdevice");

#define CHECK_CONST(name) static_assert(int(llmc::cuda::name) == int(::name), #name " differs from cuda.h")
CHECK_CONST(CUDA_SUCCESS);
CHECK_CONST(CUDA_ERROR_INVALID_VALUE);
CHECK_CONST(CUDA_ERROR_OUT_OF_MEMORY);
CHECK_CONST(CUDA_ERROR_NOT_INITIALIZED);
CHECK_CONST(CUDA_ERROR_STUB_LIBRARY);
CHECK_CONST(CUDA_ERROR_NO_DEVICE);
CHECK_CONST(CUDA_ERROR_INVALID_IMAGE);
CHECK_CONST(CUDA_ERROR_NO_BINARY_FOR_GPU);
CHECK_CONST(CUDA_ERROR_INVALID_PTX);
CHECK_CONST(CUDA_ERROR_JIT_COMPILER_NOT_FOUND);
CHECK_CONST(CUDA_ERROR_UNSUPPORTED_PTX_VERSION);
CHECK_CONST(CUDA_ERROR_NOT_FOUND);
CHECK_CONST(CUDA_ERROR_ILLEGAL_ADDRESS);
CHECK_CONST(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
CHECK_CONST(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
CHECK_CONST(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
CHECK_CONST(CU_DEVICE_ATTRIBUTE_CLOCK_RATE);
CHECK_CONST(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
CHECK_CONST(CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
CHECK_CONST(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
CHECK_CONST(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
CHECK_CONST(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
CHECK_CONST(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
CHECK_CONST(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
CHECK_CONST(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
CHECK_CONST(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES);
CHECK_CONST(CU_FUNC_ATTRIBUTE_NUM_REGS);
CHECK_CONST(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
CHECK_CONST(CU_JIT_INFO_LOG_BUFFER);
CHECK_CONST(CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES);
CHECK_CONST(CU_JIT_ERROR_LOG_BUFFER);
CHECK_CONST(CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
CHECK_CONST(CU_STREAM_NON_BLOCKING);
CHECK_CONST(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
CHECK_CONST(CU_EVENT_DEFAULT);

}  // namespace

int main() {
  std::printf("cuda_driver_abi_check: DriverApi matches cuda.h (CUDA %d.%d headers)\n", CUDA_VERSION / 1000,
              CUDA_VERSION % 1000 / 10);
  return 0;
}
