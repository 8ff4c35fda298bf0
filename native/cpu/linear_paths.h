// The code paths of linear (native/cpu/linear.cpp dispatches between them). Each computes y[t, j] for every token
// t < rows and output feature j in [j0, j1) of y[rows, out] = x[rows, in] . w[out, in]^T, without the bias (the
// dispatcher adds it), and is called by one pool thread on its own range of output features.
#pragma once
#include <cstdint>

#include "kernels.h"

namespace llmc::cpu::linear_path {

// Output features per packed weight panel of the AVX-512 / AMX GEMMs: thread ranges are aligned to this.
constexpr int64_t kPanel = 64;

// AVX-512F: weights widened to f32 while packed (exact), f32 FMA. Any weight dtype.
void gemm_avx512_f32(const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out, int64_t j0,
                     int64_t j1, float* y);

// AVX512-BF16 vdpbf16ps: bf16 weights as stored, activations rounded to bf16 (round to nearest even) while packed,
// products of pairs summed in f32. bf16 weights only.
void gemm_avx512_bf16(const float* x, int64_t rows, int64_t in, const void* w, int64_t out, int64_t j0, int64_t j1,
                      float* y);

// AMX-BF16 tiles (tdpbf16ps): the same rounding as gemm_avx512_bf16 (bf16 inputs, f32 sums). bf16 weights only.
void gemm_amx_bf16(const float* x, int64_t rows, int64_t in, const void* w, int64_t out, int64_t j0, int64_t j1,
                   float* y);

}  // namespace llmc::cpu::linear_path
