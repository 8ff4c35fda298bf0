// Device helpers shared by every kernel file: portability macros, warp/block reductions, weight dtype widening and
// vector loads.
//
// The kernels compile two ways: with nvcc for the GPU (the fatbin), and with g++ against native/cuda/emu/cuda_emu.h,
// which runs each thread block on CPU fibers so the kernel logic can be tested on machines without a GPU
// (native/tests/cuda_backend_ops.cpp --emulate). Hence: no CUDA runtime headers, no cooperative groups, and every
// inline PTX sits behind __CUDA_ARCH__ with a plain C++ equivalent. Every *.cu here is also written to be compiled
// together with the others as one translation unit (the fatbin build #includes them all): file-local helpers live
// in a namespace named after the file.
#pragma once

#if !defined(__CUDACC__) && !defined(LLMC_CUDA_EMU)
#error "native/cuda/kernels are compiled by nvcc, or by g++ through native/cuda/emu/cuda_emu.h"
#endif

#include <math.h>
#include <stdint.h>

#include "kernel_abi.h"

#define LLMC_DEVICE __device__ __forceinline__
#define LLMC_KERNEL extern "C" __global__

// Dynamic shared memory of a kernel as an array of T (16-byte aligned).
#if defined(LLMC_CUDA_EMU)
#define LLMC_DYN_SMEM(T, name) T* name = reinterpret_cast<T*>(llmc_emu::dynamic_smem())
#else
#define LLMC_DYN_SMEM(T, name)                                        \
  extern __shared__ __align__(16) unsigned char llmc_dyn_smem_raw[]; \
  T* name = reinterpret_cast<T*>(llmc_dyn_smem_raw)
#endif

namespace llmc_dev {

using namespace llmc::kabi;

constexpr unsigned kFullMask = 0xffffffffu;

LLMC_DEVICE int imin(int a, int b) { return a < b ? a : b; }
LLMC_DEVICE int imax(int a, int b) { return a > b ? a : b; }
LLMC_DEVICE int64_t lmin(int64_t a, int64_t b) { return a < b ? a : b; }

// ---- reductions ------------------------------------------------------------------------------------------------

// Butterfly reductions over a warp: every lane ends with the result.
struct WarpSum {
  template <class T>
  LLMC_DEVICE T operator()(T v) const {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
    return v;
  }
};

struct WarpMax {
  LLMC_DEVICE float operator()(float v) const {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
    return v;
  }
};

LLMC_DEVICE float warp_sum(float v) { return WarpSum{}(v); }
LLMC_DEVICE float warp_max(float v) { return WarpMax{}(v); }
LLMC_DEVICE double warp_sum_d(double v) { return WarpSum{}(v); }
LLMC_DEVICE int warp_sum_i(int v) { return WarpSum{}(v); }

// Warp-wide sums of NV (<= 32) per-lane values vals[0..NV): afterwards lane k holds the sum of vals[k] over the
// warp's lanes (k < NV; other lanes get 0). Few values: one butterfly each. More: a butterfly that halves the live
// values per level (lanes with bit H set keep the upper half), 31 shuffles for 32 values instead of 5 per value.
template <int N>
LLMC_DEVICE void butterfly_halve(float* v, int lane) {
  constexpr int H = N / 2;
  const bool upper = (lane & H) != 0;
#pragma unroll
  for (int k = 0; k < H; ++k) {
    const float send = upper ? v[k] : v[k + H];
    const float keep = upper ? v[k + H] : v[k];
    v[k] = keep + __shfl_xor_sync(kFullMask, send, H);
  }
}

template <int NV>
LLMC_DEVICE float warp_sums_to_lanes(const float* vals) {
  static_assert(NV >= 1 && NV <= 32, "one value per lane at most");
  const int lane = threadIdx.x & 31;
  float mine = 0.0f;
  if (NV <= 6) {
#pragma unroll
    for (int k = 0; k < NV; ++k) {
      const float s = warp_sum(vals[k]);
      if (lane == k) mine = s;
    }
  } else {
    float v[32];
#pragma unroll
    for (int k = 0; k < 32; ++k) v[k] = k < NV ? vals[k] : 0.0f;
    butterfly_halve<32>(v, lane);
    butterfly_halve<16>(v, lane);
    butterfly_halve<8>(v, lane);
    butterfly_halve<4>(v, lane);
    butterfly_halve<2>(v, lane);
    mine = lane < NV ? v[0] : 0.0f;
  }
  return mine;
}

// Reduction over the whole block (blockDim.x a multiple of 32) with the warp reduction `warp` and its identity.
// `scratch`: >= 32 elements of shared memory. Every thread gets the same value (each warp reduces the same partials
// in the same order). Contains __syncthreads: call it from every thread.
template <class T, class Warp>
LLMC_DEVICE T block_reduce(T v, T* scratch, T identity, Warp warp) {
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp(v);
  __syncthreads();  // scratch may still be read by a previous reduction
  if (lane == 0) scratch[wid] = v;
  __syncthreads();
  return warp(lane < nwarps ? scratch[lane] : identity);
}

LLMC_DEVICE float block_sum(float v, float* scratch) { return block_reduce(v, scratch, 0.0f, WarpSum{}); }
LLMC_DEVICE double block_sum_d(double v, double* scratch) { return block_reduce(v, scratch, 0.0, WarpSum{}); }
LLMC_DEVICE int block_sum_i(int v, int* scratch) { return block_reduce(v, scratch, 0, WarpSum{}); }
LLMC_DEVICE float block_max(float v, float* scratch) { return block_reduce(v, scratch, -INFINITY, WarpMax{}); }

// Exclusive prefix sum of one int per thread over the block, in thread order; *total gets the block's sum.
// `scratch`: >= 33 ints of shared memory.
LLMC_DEVICE int block_exclusive_scan_i(int v, int* scratch, int* total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  int incl = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const int t = __shfl_up_sync(kFullMask, incl, o);
    if (lane >= o) incl += t;
  }
  __syncthreads();
  if (lane == 31) scratch[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    int w = lane < nwarps ? scratch[lane] : 0;
    int wi = w;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const int t = __shfl_up_sync(kFullMask, wi, o);
      if (lane >= o) wi += t;
    }
    if (lane < nwarps) scratch[lane] = wi - w;  // exclusive offset of each warp
    if (lane == 31) scratch[32] = wi;
  }
  __syncthreads();
  *total = scratch[32];
  return scratch[warp] + incl - v;
}

// Inclusive prefix sum of one double per thread over the block, in thread order. `scratch`: >= 32 doubles.
LLMC_DEVICE double block_inclusive_scan_d(double v, double* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  double incl = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const double t = __shfl_up_sync(kFullMask, incl, o);
    if (lane >= o) incl += t;
  }
  __syncthreads();
  if (lane == 31) scratch[warp] = incl;
  __syncthreads();
  double offset = 0.0;
  for (int w = 0; w < warp && w < nwarps; ++w) offset += scratch[w];
  return offset + incl;
}

// ---- weight dtypes ---------------------------------------------------------------------------------------------

LLMC_DEVICE float bits_as_float(uint32_t u) { return __uint_as_float(u); }

// IEEE binary16 -> binary32, exact (the CPU backend's f16_to_f32: subnormals, inf and NaN payloads kept).
LLMC_DEVICE float f16_to_f32(uint32_t h) {
#if defined(__CUDA_ARCH__)
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(static_cast<unsigned short>(h)));
  return f;
#else
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    const float mag = float(mant) * 5.9604644775390625e-08f;
    return sign ? -mag : mag;
  }
  if (exp == 31) return bits_as_float(sign | 0x7f800000u | (mant << 13) | (mant ? 0x00400000u : 0u));
  return bits_as_float(sign | ((exp + 112u) << 23) | (mant << 13));
#endif
}

LLMC_DEVICE float bf16_to_f32(uint32_t h) { return bits_as_float(h << 16); }

// Element i of a weight vector of the given dtype, widened to f32.
LLMC_DEVICE float load_weight(const void* p, int dtype, int64_t i) {
  if (dtype == kF16) return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
  if (dtype == kBF16) return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
  return static_cast<const float*>(p)[i];
}

// Compile-time weight types for the GEMV/GEMM templates. Elems: weights in one 16-byte vector.
template <int DT>
struct WeightType;
template <>
struct WeightType<kF32> {
  static constexpr int kElems = 4;
  static constexpr int kBytes = 4;
  LLMC_DEVICE static void widen(const uint4& v, float* f) {
    f[0] = bits_as_float(v.x);
    f[1] = bits_as_float(v.y);
    f[2] = bits_as_float(v.z);
    f[3] = bits_as_float(v.w);
  }
  LLMC_DEVICE static float load1(const void* p, int64_t i) { return static_cast<const float*>(p)[i]; }
};
template <>
struct WeightType<kF16> {
  static constexpr int kElems = 8;
  static constexpr int kBytes = 2;
  LLMC_DEVICE static void widen(const uint4& v, float* f) {
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      f[2 * i] = f16_to_f32(w[i] & 0xffffu);
      f[2 * i + 1] = f16_to_f32(w[i] >> 16);
    }
  }
  LLMC_DEVICE static float load1(const void* p, int64_t i) { return f16_to_f32(static_cast<const uint16_t*>(p)[i]); }
};
template <>
struct WeightType<kBF16> {
  static constexpr int kElems = 8;
  static constexpr int kBytes = 2;
  LLMC_DEVICE static void widen(const uint4& v, float* f) {
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      f[2 * i] = bits_as_float(w[i] << 16);
      f[2 * i + 1] = bits_as_float(w[i] & 0xffff0000u);
    }
  }
  LLMC_DEVICE static float load1(const void* p, int64_t i) { return bf16_to_f32(static_cast<const uint16_t*>(p)[i]); }
};

// ---- loads -----------------------------------------------------------------------------------------------------

// A 16-byte load of data read once (weights in a GEMV): read-only path, no L1 allocation.
LLMC_DEVICE uint4 load_stream16(const void* p) {
#if defined(__CUDA_ARCH__)
  uint4 r;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
      : "l"(p));
  return r;
#else
  return *static_cast<const uint4*>(p);
#endif
}

LLMC_DEVICE float4 load_f4(const float* p) { return *reinterpret_cast<const float4*>(p); }
LLMC_DEVICE void store_f4(float* p, const float4& v) { *reinterpret_cast<float4*>(p) = v; }

LLMC_DEVICE bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// ---- activations (the CPU backend's scalar formulas) -----------------------------------------------------------

LLMC_DEVICE float activate(float x, int kind) {
  switch (kind) {
    case kSilu: return x / (1.0f + expf(-x));
    case kGeluErf: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case kGeluTanh: return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case kRelu: return x > 0.0f ? x : 0.0f;
    case kGeluBloom: return x * 0.5f * (1.0f + tanhf(0.79788456f * x * (1.0f + 0.044715f * x * x)));
    default: return x;
  }
}

// ---- paged KV cache (layout: kernel_abi.h KvLayer) ------------------------------------------------------------

// Where the k row of kv head `kvh` at key position `pos` of a sequence lives: its block, and its row index inside
// the block ([num_kv_heads, block_size]). The v row is at + v_offset; scales (i8/f8e4m3) are indexed by `row`.
struct KvRowRef {
  uint8_t* block;
  int64_t row;
};
LLMC_DEVICE KvRowRef kv_row(const KvLayer& kv, const int32_t* table, int pos, int kvh) {
  const int32_t block = table[pos / kv.block_size];
  return KvRowRef{static_cast<uint8_t*>(kv.layer_base) + int64_t(block) * kv.block_stride,
                  int64_t(kvh) * kv.block_size + pos % kv.block_size};
}
LLMC_DEVICE uint8_t* kv_k_bytes(const KvLayer& kv, const KvRowRef& r) { return r.block + r.row * kv.head_dim * kv_code_bytes(kv.dtype); }
LLMC_DEVICE float* kv_k_scales(const KvLayer& kv, uint8_t* block) { return reinterpret_cast<float*>(block + kv.scale_offset); }
LLMC_DEVICE float* kv_v_scales(const KvLayer& kv, uint8_t* block) {
  return kv_k_scales(kv, block) + int64_t(kv.num_kv_heads) * kv.block_size;
}

// e4m3 (OCP E4M3FN) -> f32, exact. 0x7f/0xff (NaN) is never stored by the quantizer.
LLMC_DEVICE float f8e4m3_to_f32(uint32_t b) {
  const uint32_t e = (b >> 3) & 0xfu, m = b & 7u, sign = (b & 0x80u) << 24;
  if (e == 0) return __uint_as_float(sign | __float_as_uint(float(m) * 0.001953125f));  // m * 2^-9
  return __uint_as_float(sign | ((e + 120u) << 23) | (m << 20));
}

// Element c of a k or v row stored in dtype `dt` (unscaled: the caller multiplies by the row's scale).
LLMC_DEVICE float kv_widen(int dt, const uint8_t* row, int c) {
  switch (dt) {
    case kKvF16: return f16_to_f32(reinterpret_cast<const uint16_t*>(row)[c]);
    case kKvBF16: return bf16_to_f32(reinterpret_cast<const uint16_t*>(row)[c]);
    case kKvI8: return float(reinterpret_cast<const int8_t*>(row)[c]);
    case kKvF8E4M3: return f8e4m3_to_f32(row[c]);
    default: return reinterpret_cast<const float*>(row)[c];
  }
}

}  // namespace llmc_dev
