// A CPU emulation layer for the CUDA kernels in native/cuda/kernels, for tests on machines without a GPU.
//
// emu_kernels.cpp includes this header and then every kernel file, compiling the device code as ordinary C++.
// Each thread block runs on one OS thread with one fiber (ucontext) per CUDA thread: __syncthreads() parks the
// fiber until every live thread of the block arrives, warp shuffles and __syncwarp() until the live lanes of the
// warp arrive. Shared memory is per block (static locals + one dynamic buffer), blocks run one after another.
//
// What this checks: indexing, masking, reductions, softmax bookkeeping, split-K merges, tile edges, the host
// launchers' grid/block/shared-memory arithmetic (cuda_emu.cpp's fake driver validates every launch), and the
// whole CUDA backend end to end against the CPU backend. What it cannot: the memory model and races (threads run
// in a fixed order), the hardware's float rounding (FMA contraction, transcendental accuracy), inline PTX (the
// C++ fallbacks run instead), timing. Those need the GPU checklist in docs/cuda.md.
#pragma once
#define LLMC_CUDA_EMU 1

#include <math.h>
#include <stdint.h>

#include <cmath>
#include <cstring>

using std::isfinite;
using std::isnan;
using std::signbit;

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }

namespace llmc_emu {

// Coordinates of the running emulated thread (set by the scheduler before each switch).
struct Coords {
  uint3 thread;
  uint3 block;
  dim3 block_dim;
  dim3 grid_dim;
};
extern Coords g_cur;

void sync_block();   // __syncthreads
void sync_warp();    // __syncwarp and the two halves of a shuffle
void* dynamic_smem();
uint64_t* warp_slots();  // the current warp's 32 exchange slots

template <class T>
T shuffle(T v, int src) {
  static_assert(sizeof(T) <= 8, "shuffle of a value wider than 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  uint64_t* slots = warp_slots();
  slots[g_cur.thread.x & 31] = bits;
  sync_warp();
  const uint64_t got = slots[src & 31];
  sync_warp();
  T out;
  std::memcpy(&out, &got, sizeof(T));
  return out;
}

// Kernel table entry: `run` calls the kernel with the parameter struct at `params`.
struct KernelEntry {
  const char* name;
  size_t params_size;
  void (*run)(const void* params);
};

}  // namespace llmc_emu

#define threadIdx (llmc_emu::g_cur.thread)
#define blockIdx (llmc_emu::g_cur.block)
#define blockDim (llmc_emu::g_cur.block_dim)
#define gridDim (llmc_emu::g_cur.grid_dim)

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

inline void __syncthreads() { llmc_emu::sync_block(); }
inline void __syncwarp(unsigned = 0xffffffffu) { llmc_emu::sync_warp(); }

template <class T>
T __shfl_xor_sync(unsigned, T v, int lane_mask, int width = 32) {
  const int lane = int(threadIdx.x & 31);
  int src = lane ^ lane_mask;
  if (src / width != lane / width) src = lane;
  return llmc_emu::shuffle(v, src);
}
template <class T>
T __shfl_sync(unsigned, T v, int src_lane, int width = 32) {
  const int lane = int(threadIdx.x & 31);
  return llmc_emu::shuffle(v, (lane / width) * width + (src_lane % width));
}
template <class T>
T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int lane = int(threadIdx.x & 31);
  const int src = lane - int(delta);
  return llmc_emu::shuffle(v, src < (lane / width) * width ? lane : src);
}
template <class T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int lane = int(threadIdx.x & 31);
  const int src = lane + int(delta);
  return llmc_emu::shuffle(v, src >= (lane / width + 1) * width ? lane : src);
}

inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
template <class T>
T __ldg(const T* p) {
  return *p;
}
// Blocks run one at a time on one OS thread: plain read-modify-write is atomic here.
inline int atomicMin(int* p, int v) {
  const int old = *p;
  if (v < old) *p = v;
  return old;
}
inline int atomicMax(int* p, int v) {
  const int old = *p;
  if (v > old) *p = v;
  return old;
}
inline int atomicAdd(int* p, int v) {
  const int old = *p;
  *p += v;
  return old;
}
inline float atomicAdd(float* p, float v) {
  const float old = *p;
  *p += v;
  return old;
}
