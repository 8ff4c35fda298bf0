// The CPU emulator: a fiber scheduler that runs each CUDA thread block on the calling OS thread (cuda_emu.h), and a
// fake driver table (emu_driver.h) whose cuLaunchKernel runs kernels through it.
#include <ucontext.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_emu.h"
#include "emu_driver.h"

namespace llmc_emu {

const KernelEntry* kernel_table(int* count);  // emu_kernels.cpp

Coords g_cur;

namespace {

using namespace llmc::cuda;

// ---- fiber scheduler -------------------------------------------------------------------------------------------

constexpr size_t kStackBytes = 256 * 1024;

enum class St { ready, block_wait, warp_wait, done };

#if defined(__x86_64__)
// A minimal context switch (x86-64 System V): saves the callee-saved registers, MXCSR and the x87 control word on
// the current stack, stores the stack pointer in *from and continues on `to`. glibc's swapcontext also saves the
// signal mask with a system call on every switch, which made the emulator several times slower.
extern "C" void llmc_emu_switch(void** from, void* to);
asm(R"(
  .text
  .globl llmc_emu_switch
  .type llmc_emu_switch, @function
llmc_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size llmc_emu_switch, .-llmc_emu_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");
constexpr bool kFastSwitch = true;
#else
constexpr bool kFastSwitch = false;
inline void llmc_emu_switch(void**, void*) {}
#endif

struct Fiber {
  ucontext_t ctx;
  void* sp = nullptr;  // saved stack pointer (fast switch)
  St st = St::ready;
  uint3 tid{0, 0, 0};
  std::unique_ptr<char[]> stack;
};

struct Scheduler {
  ucontext_t main;
  void* main_sp = nullptr;
  std::vector<Fiber> fibers;
  int current = -1;
  const KernelEntry* kernel = nullptr;
  const void* params = nullptr;
  std::vector<uint64_t> slots;          // [warps][32]
  std::vector<unsigned char> dyn_smem;  // dynamic shared memory of the running block
};
Scheduler g_s;

void fiber_main() {
  g_s.kernel->run(g_s.params);
  Fiber& f = g_s.fibers[g_s.current];
  f.st = St::done;
  if (kFastSwitch) {
    llmc_emu_switch(&f.sp, g_s.main_sp);  // never comes back: the fiber is re-initialised for the next block
    std::abort();
  }
}

void park(St st) {
  Fiber& f = g_s.fibers[g_s.current];
  f.st = st;
  if (kFastSwitch) llmc_emu_switch(&f.sp, g_s.main_sp);
  else swapcontext(&f.ctx, &g_s.main);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LLMC_EMU_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(LLMC_EMU_ASAN)
extern "C" void __asan_unpoison_memory_region(void const volatile* addr, size_t size);
#define LLMC_EMU_UNPOISON(p, n) __asan_unpoison_memory_region(p, n)
#else
#define LLMC_EMU_UNPOISON(p, n) ((void)0)
#endif

// Prepares a fiber to start in fiber_main on its own stack.
void init_fiber(Fiber& f) {
  f.st = St::ready;
  // Frames of the previous block's run were abandoned, not returned from: clear AddressSanitizer's poison.
  LLMC_EMU_UNPOISON(f.stack.get(), kStackBytes);
  if (kFastSwitch) {
    // The frame llmc_emu_switch pops: [mxcsr | fpu cw], r15, r14, r13, r12, rbx, rbp, return address. The return
    // address slot is 16-byte aligned, so fiber_main starts with the stack alignment of a called function.
    uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack.get()) + kStackBytes - 64) & ~uintptr_t(15);
    uint64_t* sp = reinterpret_cast<uint64_t*>(top);
    *--sp = 0;  // padding above the return address
    *--sp = reinterpret_cast<uint64_t>(&fiber_main);
    for (int i = 0; i < 6; ++i) *--sp = 0;  // rbp rbx r12 r13 r14 r15
    *--sp = uint64_t(0x1F80u) | (uint64_t(0x037Fu) << 32);  // default MXCSR, x87 control word
    f.sp = sp;
    return;
  }
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = f.stack.get();
  f.ctx.uc_stack.ss_size = kStackBytes;
  f.ctx.uc_link = &g_s.main;
  makecontext(&f.ctx, fiber_main, 0);
}

void resume(int t) {
  g_s.current = t;
  g_cur.thread = g_s.fibers[t].tid;
  if (kFastSwitch) llmc_emu_switch(&g_s.main_sp, g_s.fibers[t].sp);
  else swapcontext(&g_s.main, &g_s.fibers[t].ctx);
}

const char* state_name(St s) {
  switch (s) {
    case St::ready: return "ready";
    case St::block_wait: return "__syncthreads";
    case St::warp_wait: return "warp sync/shuffle";
    default: return "exited";
  }
}

void run_block(int n) {
  for (int t = 0; t < n; ++t) init_fiber(g_s.fibers[t]);
  const int warps = (n + 31) / 32;
  for (;;) {
    for (int t = 0; t < n; ++t) {
      if (g_s.fibers[t].st == St::ready) resume(t);
    }
    bool released = false;
    for (int w = 0; w < warps; ++w) {
      int live = 0, waiting = 0;
      for (int t = w * 32; t < n && t < w * 32 + 32; ++t) {
        live += g_s.fibers[t].st != St::done;
        waiting += g_s.fibers[t].st == St::warp_wait;
      }
      if (waiting > 0 && waiting == live) {
        for (int t = w * 32; t < n && t < w * 32 + 32; ++t)
          if (g_s.fibers[t].st == St::warp_wait) g_s.fibers[t].st = St::ready;
        released = true;
      }
    }
    if (released) continue;
    int live = 0, waiting = 0;
    for (int t = 0; t < n; ++t) {
      live += g_s.fibers[t].st != St::done;
      waiting += g_s.fibers[t].st == St::block_wait;
    }
    if (live == 0) return;
    if (waiting == live) {
      for (int t = 0; t < n; ++t)
        if (g_s.fibers[t].st == St::block_wait) g_s.fibers[t].st = St::ready;
      continue;
    }
    std::fprintf(stderr, "cuda emulator: deadlock in %s block (%u,%u,%u):", g_s.kernel->name, g_cur.block.x, g_cur.block.y,
                 g_cur.block.z);
    for (int t = 0; t < n; ++t)
      if (t == 0 || g_s.fibers[t].st != g_s.fibers[t - 1].st) std::fprintf(stderr, " thread %d+ %s;", t, state_name(g_s.fibers[t].st));
    std::fprintf(stderr, "\n(threads of a block/warp wait at different barriers: divergent __syncthreads or shuffle)\n");
    std::abort();
  }
}

std::map<std::string, int64_t> g_per_kernel;

void run_grid(const KernelEntry* k, const void* params, dim3 grid, dim3 block, size_t smem) {
  ++g_per_kernel[k->name];
  const int n = int(block.x * block.y * block.z);
  while (int(g_s.fibers.size()) < n) {
    g_s.fibers.emplace_back();
    g_s.fibers.back().stack.reset(new char[kStackBytes]);
  }
  for (int t = 0; t < n; ++t) {
    g_s.fibers[t].tid = uint3{unsigned(t) % block.x, (unsigned(t) / block.x) % block.y, unsigned(t) / (block.x * block.y)};
  }
  g_s.kernel = k;
  g_s.params = params;
  g_s.slots.assign(size_t((n + 31) / 32) * 32, 0);
  g_cur.block_dim = block;
  g_cur.grid_dim = grid;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        g_cur.block = uint3{bx, by, bz};
        g_s.dyn_smem.assign(smem + 16, 0xff);  // garbage (NaN) like fresh shared memory
        run_block(n);
        ++stats().blocks;
      }
}

// ---- fake driver -----------------------------------------------------------------------------------------------

std::recursive_mutex g_mutex;
size_t g_total = size_t(8) << 30;
int g_cc_major = 9, g_cc_minor = 0;
std::map<uintptr_t, size_t> g_allocs;
size_t g_allocated = 0;
int g_capturing = 0;  // streams being captured

struct EmuFunc {
  const KernelEntry* k;
  int max_dyn = 48 * 1024;
};
struct Launch {
  EmuFunc* f;
  dim3 grid, block;
  unsigned smem;
  std::vector<unsigned char> params;
};
struct EmuGraph {
  std::vector<Launch> launches;
};
struct EmuStream {
  bool capturing = false;
  EmuGraph* graph = nullptr;
};
struct EmuEvent {
  std::chrono::steady_clock::time_point t;
};
std::vector<std::unique_ptr<EmuFunc>> g_funcs;

constexpr int kOptinSmem = 232448;  // H100: 227 KiB

bool in_allocation(uintptr_t p, size_t bytes) {
  auto it = g_allocs.upper_bound(p);
  if (it == g_allocs.begin()) return false;
  --it;
  return p >= it->first && p + bytes <= it->first + it->second;
}

CUresult e_cuInit(unsigned) { return CUDA_SUCCESS; }
CUresult e_cuDriverGetVersion(int* v) {
  *v = 13000;
  return CUDA_SUCCESS;
}
CUresult e_cuDeviceGetCount(int* c) {
  *c = 1;
  return CUDA_SUCCESS;
}
CUresult e_cuDeviceGet(CUdevice* d, int ordinal) {
  if (ordinal != 0) return 101;  // CUDA_ERROR_INVALID_DEVICE
  *d = 0;
  return CUDA_SUCCESS;
}
CUresult e_cuDeviceGetName(char* name, int len, CUdevice) {
  std::snprintf(name, size_t(len), "llmc CPU emulator");
  return CUDA_SUCCESS;
}
CUresult e_cuDeviceGetAttribute(int* v, int attr, CUdevice) {
  switch (attr) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: *v = 1755000; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 132; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: *v = 2619000; break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: *v = 5120; break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: *v = 50 << 20; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = g_cc_major; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = g_cc_minor; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *v = kOptinSmem; break;
    default: *v = 0;
  }
  return CUDA_SUCCESS;
}
CUresult e_cuDeviceTotalMem(size_t* b, CUdevice) {
  *b = g_total;
  return CUDA_SUCCESS;
}
CUresult e_cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice) {
  *c = reinterpret_cast<CUcontext>(uintptr_t(0x1000));
  return CUDA_SUCCESS;
}
CUresult e_cuDevicePrimaryCtxRelease(CUdevice) { return CUDA_SUCCESS; }
CUresult e_cuCtxSetCurrent(CUcontext) { return CUDA_SUCCESS; }
CUresult e_cuCtxSynchronize() { return g_capturing ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS; }
CUresult e_cuModuleLoadDataEx(CUmodule* m, const void*, unsigned, int*, void**) {
  *m = reinterpret_cast<CUmodule>(uintptr_t(0x2000));
  return CUDA_SUCCESS;
}
CUresult e_cuModuleUnload(CUmodule) { return CUDA_SUCCESS; }
CUresult e_cuModuleGetFunction(CUfunction* fn, CUmodule, const char* name) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  int n = 0;
  const KernelEntry* table = kernel_table(&n);
  for (int i = 0; i < n; ++i) {
    if (std::strcmp(table[i].name, name) == 0) {
      g_funcs.push_back(std::make_unique<EmuFunc>(EmuFunc{&table[i]}));
      *fn = reinterpret_cast<CUfunction>(g_funcs.back().get());
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_NOT_FOUND;
}
CUresult e_cuFuncSetAttribute(CUfunction fn, int attr, int value) {
  if (attr == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
    if (value < 0 || value > kOptinSmem) return CUDA_ERROR_INVALID_VALUE;
    reinterpret_cast<EmuFunc*>(fn)->max_dyn = value;
  }
  return CUDA_SUCCESS;
}
CUresult e_cuFuncGetAttribute(int* v, int attr, CUfunction fn) {
  switch (attr) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *v = 32; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *v = reinterpret_cast<EmuFunc*>(fn)->max_dyn; break;
    default: *v = 0;
  }
  return CUDA_SUCCESS;
}
CUresult e_cuLaunchKernel(CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                          unsigned smem, CUstream stream, void** params, void** extra) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  EmuFunc* f = reinterpret_cast<EmuFunc*>(fn);
  if (f == nullptr || params == nullptr || params[0] == nullptr || extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t threads = uint64_t(bx) * by * bz;
  if (gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535 || gx > 0x7fffffffu || threads == 0 || threads > 1024 ||
      bz > 64) {
    std::fprintf(stderr, "cuda emulator: %s launched with grid (%u,%u,%u) block (%u,%u,%u)\n", f->k->name, gx, gy, gz, bx, by, bz);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (int(smem) > f->max_dyn) {
    std::fprintf(stderr, "cuda emulator: %s asks for %u bytes of dynamic shared memory, its limit is %d (cuFuncSetAttribute)\n",
                 f->k->name, smem, f->max_dyn);
    return CUDA_ERROR_INVALID_VALUE;
  }
  EmuStream* s = reinterpret_cast<EmuStream*>(stream);
  if (s != nullptr && s->capturing) {
    const unsigned char* p = static_cast<const unsigned char*>(params[0]);
    s->graph->launches.push_back(Launch{f, dim3{gx, gy, gz}, dim3{bx, by, bz}, smem,
                                        std::vector<unsigned char>(p, p + f->k->params_size)});
    ++stats().captured_launches;
    return CUDA_SUCCESS;
  }
  if (g_capturing && s == nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  ++stats().kernel_launches;
  run_grid(f->k, params[0], dim3{gx, gy, gz}, dim3{bx, by, bz}, smem);
  return CUDA_SUCCESS;
}
CUresult e_cuMemAlloc(CUdeviceptr* p, size_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (g_capturing) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (g_allocated + bytes > g_total) return CUDA_ERROR_OUT_OF_MEMORY;
  // Exactly `bytes` (256-byte aligned like cuMemAlloc), so an AddressSanitizer build flags any access past the end.
  void* mem = nullptr;
  if (posix_memalign(&mem, 256, bytes) != 0 || mem == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  std::memset(mem, 0xff, bytes);
  g_allocs[uintptr_t(mem)] = bytes;
  g_allocated += bytes;
  stats().bytes_allocated = int64_t(g_allocated);
  *p = CUdeviceptr(uintptr_t(mem));
  return CUDA_SUCCESS;
}
CUresult e_cuMemFree(CUdeviceptr p) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  auto it = g_allocs.find(uintptr_t(p));
  if (it == g_allocs.end()) return CUDA_ERROR_INVALID_VALUE;
  g_allocated -= it->second;
  stats().bytes_allocated = int64_t(g_allocated);
  std::free(reinterpret_cast<void*>(it->first));
  g_allocs.erase(it);
  return CUDA_SUCCESS;
}
CUresult e_cuMemAllocHost(void** p, size_t bytes) {
  *p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  return *p ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}
CUresult e_cuMemFreeHost(void* p) {
  std::free(p);
  return CUDA_SUCCESS;
}
CUresult copy_check(CUstream stream, uintptr_t dev, size_t bytes, bool sync) {
  EmuStream* s = reinterpret_cast<EmuStream*>(stream);
  if ((s != nullptr && s->capturing) || (sync && g_capturing)) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (bytes > 0 && !in_allocation(dev, bytes)) {
    std::fprintf(stderr, "cuda emulator: copy of %zu bytes at device address %#lx lies outside every allocation\n", bytes,
                 static_cast<unsigned long>(dev));
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}
CUresult e_cuMemcpyHtoD(CUdeviceptr dst, const void* src, size_t n) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (CUresult r = copy_check(nullptr, uintptr_t(dst), n, true)) return r;
  std::memcpy(reinterpret_cast<void*>(uintptr_t(dst)), src, n);
  return CUDA_SUCCESS;
}
CUresult e_cuMemcpyDtoH(void* dst, CUdeviceptr src, size_t n) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (CUresult r = copy_check(nullptr, uintptr_t(src), n, true)) return r;
  std::memcpy(dst, reinterpret_cast<const void*>(uintptr_t(src)), n);
  return CUDA_SUCCESS;
}
CUresult e_cuMemcpyHtoDAsync(CUdeviceptr dst, const void* src, size_t n, CUstream s) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (CUresult r = copy_check(s, uintptr_t(dst), n, false)) return r;
  std::memcpy(reinterpret_cast<void*>(uintptr_t(dst)), src, n);
  return CUDA_SUCCESS;
}
CUresult e_cuMemcpyDtoHAsync(void* dst, CUdeviceptr src, size_t n, CUstream s) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (CUresult r = copy_check(s, uintptr_t(src), n, false)) return r;
  std::memcpy(dst, reinterpret_cast<const void*>(uintptr_t(src)), n);
  return CUDA_SUCCESS;
}
CUresult e_cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (CUresult r = copy_check(s, uintptr_t(dst), n, false)) return r;
  if (CUresult r = copy_check(s, uintptr_t(src), n, false)) return r;
  std::memmove(reinterpret_cast<void*>(uintptr_t(dst)), reinterpret_cast<const void*>(uintptr_t(src)), n);
  return CUDA_SUCCESS;
}
CUresult e_cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream s) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (CUresult r = copy_check(s, uintptr_t(dst), n, false)) return r;
  std::memset(reinterpret_cast<void*>(uintptr_t(dst)), v, n);
  return CUDA_SUCCESS;
}
CUresult e_cuMemGetInfo(size_t* free_bytes, size_t* total) {
  *free_bytes = g_total - g_allocated;
  *total = g_total;
  return CUDA_SUCCESS;
}
CUresult e_cuStreamCreate(CUstream* s, unsigned) {
  *s = reinterpret_cast<CUstream>(new EmuStream());
  return CUDA_SUCCESS;
}
CUresult e_cuStreamDestroy(CUstream s) {
  delete reinterpret_cast<EmuStream*>(s);
  return CUDA_SUCCESS;
}
CUresult e_cuStreamSynchronize(CUstream s) {
  EmuStream* es = reinterpret_cast<EmuStream*>(s);
  return (es != nullptr && es->capturing) ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}
CUresult e_cuStreamBeginCapture(CUstream s, int) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  EmuStream* es = reinterpret_cast<EmuStream*>(s);
  if (es == nullptr || es->capturing) return CUDA_ERROR_INVALID_VALUE;
  es->capturing = true;
  es->graph = new EmuGraph();
  ++g_capturing;
  return CUDA_SUCCESS;
}
CUresult e_cuStreamEndCapture(CUstream s, CUgraph* g) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  EmuStream* es = reinterpret_cast<EmuStream*>(s);
  if (es == nullptr || !es->capturing) return CUDA_ERROR_INVALID_VALUE;
  es->capturing = false;
  --g_capturing;
  *g = reinterpret_cast<CUgraph>(es->graph);
  es->graph = nullptr;
  return CUDA_SUCCESS;
}
CUresult e_cuGraphInstantiateWithFlags(CUgraphExec* e, CUgraph g, unsigned long long) {
  *e = reinterpret_cast<CUgraphExec>(new EmuGraph(*reinterpret_cast<EmuGraph*>(g)));
  return CUDA_SUCCESS;
}
CUresult e_cuGraphLaunch(CUgraphExec e, CUstream) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  ++stats().graph_launches;
  for (const Launch& l : reinterpret_cast<EmuGraph*>(e)->launches) {
    ++stats().kernel_launches;
    run_grid(l.f->k, l.params.data(), l.grid, l.block, l.smem);
  }
  return CUDA_SUCCESS;
}
CUresult e_cuGraphExecDestroy(CUgraphExec e) {
  delete reinterpret_cast<EmuGraph*>(e);
  return CUDA_SUCCESS;
}
CUresult e_cuGraphDestroy(CUgraph g) {
  delete reinterpret_cast<EmuGraph*>(g);
  return CUDA_SUCCESS;
}
CUresult e_cuEventCreate(CUevent* e, unsigned) {
  *e = reinterpret_cast<CUevent>(new EmuEvent());
  return CUDA_SUCCESS;
}
CUresult e_cuEventRecord(CUevent e, CUstream) {
  reinterpret_cast<EmuEvent*>(e)->t = std::chrono::steady_clock::now();
  return CUDA_SUCCESS;
}
CUresult e_cuEventSynchronize(CUevent) { return CUDA_SUCCESS; }
CUresult e_cuEventElapsedTime(float* ms, CUevent a, CUevent b) {
  *ms = std::chrono::duration<float, std::milli>(reinterpret_cast<EmuEvent*>(b)->t - reinterpret_cast<EmuEvent*>(a)->t).count();
  return CUDA_SUCCESS;
}
CUresult e_cuEventDestroy(CUevent e) {
  delete reinterpret_cast<EmuEvent*>(e);
  return CUDA_SUCCESS;
}
CUresult e_cuGetErrorName(CUresult r, const char** s) {
  switch (r) {
    case CUDA_SUCCESS: *s = "CUDA_SUCCESS"; break;
    case CUDA_ERROR_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
    case CUDA_ERROR_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
    case CUDA_ERROR_NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
    case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: *s = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"; break;
    default: *s = "CUDA_ERROR_UNKNOWN";
  }
  return CUDA_SUCCESS;
}
CUresult e_cuGetErrorString(CUresult r, const char** s) {
  switch (r) {
    case CUDA_ERROR_INVALID_VALUE: *s = "invalid argument"; break;
    case CUDA_ERROR_OUT_OF_MEMORY: *s = "out of memory"; break;
    case CUDA_ERROR_NOT_FOUND: *s = "named symbol not found"; break;
    case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: *s = "operation not permitted when stream is capturing"; break;
    default: *s = "unknown error";
  }
  return CUDA_SUCCESS;
}

DriverApi make_table() {
  DriverApi d{};
  d.cuInit = e_cuInit;
  d.cuDriverGetVersion = e_cuDriverGetVersion;
  d.cuDeviceGetCount = e_cuDeviceGetCount;
  d.cuDeviceGet = e_cuDeviceGet;
  d.cuDeviceGetName = e_cuDeviceGetName;
  d.cuDeviceGetAttribute = e_cuDeviceGetAttribute;
  d.cuDeviceTotalMem = e_cuDeviceTotalMem;
  d.cuDevicePrimaryCtxRetain = e_cuDevicePrimaryCtxRetain;
  d.cuDevicePrimaryCtxRelease = e_cuDevicePrimaryCtxRelease;
  d.cuCtxSetCurrent = e_cuCtxSetCurrent;
  d.cuCtxSynchronize = e_cuCtxSynchronize;
  d.cuModuleLoadDataEx = e_cuModuleLoadDataEx;
  d.cuModuleUnload = e_cuModuleUnload;
  d.cuModuleGetFunction = e_cuModuleGetFunction;
  d.cuFuncSetAttribute = e_cuFuncSetAttribute;
  d.cuFuncGetAttribute = e_cuFuncGetAttribute;
  d.cuLaunchKernel = e_cuLaunchKernel;
  d.cuMemAlloc = e_cuMemAlloc;
  d.cuMemFree = e_cuMemFree;
  d.cuMemAllocHost = e_cuMemAllocHost;
  d.cuMemFreeHost = e_cuMemFreeHost;
  d.cuMemcpyHtoD = e_cuMemcpyHtoD;
  d.cuMemcpyDtoH = e_cuMemcpyDtoH;
  d.cuMemcpyHtoDAsync = e_cuMemcpyHtoDAsync;
  d.cuMemcpyDtoHAsync = e_cuMemcpyDtoHAsync;
  d.cuMemcpyDtoDAsync = e_cuMemcpyDtoDAsync;
  d.cuMemsetD8Async = e_cuMemsetD8Async;
  d.cuMemGetInfo = e_cuMemGetInfo;
  d.cuStreamCreate = e_cuStreamCreate;
  d.cuStreamDestroy = e_cuStreamDestroy;
  d.cuStreamSynchronize = e_cuStreamSynchronize;
  d.cuStreamBeginCapture = e_cuStreamBeginCapture;
  d.cuStreamEndCapture = e_cuStreamEndCapture;
  d.cuGraphInstantiateWithFlags = e_cuGraphInstantiateWithFlags;
  d.cuGraphLaunch = e_cuGraphLaunch;
  d.cuGraphExecDestroy = e_cuGraphExecDestroy;
  d.cuGraphDestroy = e_cuGraphDestroy;
  d.cuEventCreate = e_cuEventCreate;
  d.cuEventRecord = e_cuEventRecord;
  d.cuEventSynchronize = e_cuEventSynchronize;
  d.cuEventElapsedTime = e_cuEventElapsedTime;
  d.cuEventDestroy = e_cuEventDestroy;
  d.cuGetErrorName = e_cuGetErrorName;
  d.cuGetErrorString = e_cuGetErrorString;
  d.emulated = true;
  d.library = "emulator";
  return d;
}

}  // namespace

void sync_block() { park(St::block_wait); }
void sync_warp() { park(St::warp_wait); }
void* dynamic_smem() { return g_s.dyn_smem.data(); }
uint64_t* warp_slots() { return &g_s.slots[size_t(g_s.current / 32) * 32]; }

const llmc::cuda::DriverApi* driver() {
  static const DriverApi table = make_table();
  return &table;
}

Stats& stats() {
  static Stats s;
  return s;
}

int64_t launches_of(const char* kernel_name) {
  auto it = g_per_kernel.find(kernel_name);
  return it == g_per_kernel.end() ? 0 : it->second;
}

void set_total_memory(size_t bytes) { g_total = bytes; }
void set_compute_capability(int major, int minor) {
  g_cc_major = major;
  g_cc_minor = minor;
}

}  // namespace llmc_emu
