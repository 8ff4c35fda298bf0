// Internal to the quantized linear (linear_quant*.cpp): the per-thread range functions of each SIMD level, which
// cpu::linear_q (linear_quant.cpp) dispatches to. x is already in qweight's column order and scaled (perm and
// input_scale applied); xsum [rows, groups] holds the group sums of x when the weight has offsets (decode only).
#pragma once
#include <cstdint>
#include <vector>

#include "dtype.h"
#include "kernels.h"

namespace llmc::cpu::quant {

constexpr int64_t kGemvMaxRows = 8;   // up to here the weight stream dominates: the decode path
constexpr int64_t kMB = 8;            // prefill: weight rows dequantized per block
constexpr int64_t kTB = 48;           // prefill: tokens per block

inline int64_t row_bytes(DType qt, int64_t in) { return qt == DType::u4 ? in / 2 : in; }

// The value of code i of a row (scalar reference and tails).
inline float code_at(const uint8_t* row, DType qt, int64_t i) {
  switch (qt) {
    case DType::i8: return float(int8_t(row[i]));
    case DType::u4: return float((i & 1) ? row[i >> 1] >> 4 : row[i >> 1] & 15);
    default: return fp8e4m3_to_f32(row[i]);
  }
}

// The SIMD decoders turn fp8 codes into f16 bit patterns by moving their fields, which gives the number times 2^-8;
// the callers fold this factor into the scale.
inline float code_unit(DType qt) { return qt == DType::f8e4m3 ? 256.0f : 1.0f; }

// y[t, j] for t < rows, j in [j0, j1), bias added. Each is compiled for its own instruction set.
void range_avx2(const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out, const void* bias, DType bt,
                const float* xsum, int64_t j0, int64_t j1, float* y);
void range_avx512(const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out, const void* bias,
                  DType bt, const float* xsum, int64_t j0, int64_t j1, float* y);

// int8 activations (activation_bits 8, linear_quant_act8.cpp): x per row and group as xq (int8) with scale sx.
struct Act8 {
  std::vector<int8_t> xq;     // [rows, in]
  std::vector<uint8_t> xu;    // [rows, in] xq + 128 (the unsigned operand against i8 codes)
  std::vector<float> sx;      // [rows, groups]: largest |x| of the group / 127 (1 for an all-zero group)
  std::vector<int32_t> qsum;  // [rows, groups]: sum of xq
  std::vector<double> xs;     // [rows, groups]: sx * qsum (the offsets term's factor; AVX2 path)
  std::vector<int8_t> xr;     // [rows, in] xq for the AVX2 u4 kernel: per group, each whole block of 32 columns as
                              // its 16 even columns then its 16 odd ones (the rest in order)
  // The AVX512-VNNI u4 kernel (split_u4_chunks): columns in chunks of 128, nc = ceil(in / 128) chunks, the last
  // one zero-padded.
  std::vector<int8_t> xc;     // [rows, nc, 128]: per chunk xq of its 64 even columns, then of its 64 odd ones
  std::vector<float> sxc;     // [rows, nc, 16]: lane l of chunk c is sx of the group of columns 128c + 8l ..
                              // 128c + 8l + 7 (0 past in)
  std::vector<float> cq;      // [rows, groups]: sx * qsum (float; the offsets term's factor)
  std::vector<int32_t> cg0;   // [nc]: group of the chunk's first column
  std::vector<int32_t> crel;  // [nc, 16]: lane l's group minus cg0 (clamped to the last group past in)
  // Sizes the buffers every quantize_activations* version fills (xq, sx, qsum, xs) for [rows, in] in `group`s.
  void size_for(int64_t rows, int64_t in, int64_t group) {
    const size_t ng = size_t(rows * (in / group));
    xq.resize(size_t(rows * in));
    sx.resize(ng);
    qsum.resize(ng);
    xs.resize(ng);
  }
};
void quantize_activations(const float* x, int64_t rows, int64_t in, int64_t group, Act8& a);
void quantize_activations_avx2(const float* x, int64_t rows, int64_t in, int64_t group, Act8& a);  // the same numbers
void split_u4_act(int64_t rows, int64_t in, int64_t group, Act8& a);  // fills a.xr from a.xq
void split_u4_chunks(int64_t rows, int64_t in, int64_t group, Act8& a);  // fills xc, sxc, cq, cg0, crel (AVX-512)
void quantize_activations_avx512(const float* x, int64_t rows, int64_t in, int64_t group, Act8& a);  // the same numbers
void dequantize_activations(const Act8& a, int64_t rows, int64_t in, int64_t group, float* out);  // x' = sx * xq
bool vnni_available();
// Whether range_vnni takes a weight: u4 codes with groups of a multiple of 32, i8 codes with groups of a multiple of
// 64 (and the CPU has VNNI).
bool vnni_takes(DType qt, int64_t group);
// AVX2 integer dot products (vpmaddubsw / vpmaddwd), every row count and group size (linear_quant_act8_avx2.cpp).
void range_act8_avx2(const Act8& a, int64_t rows, int64_t in, const QuantWeight& w, int64_t out, const void* bias,
                     DType bt, int64_t j0, int64_t j1, float* y);
void range_vnni(const Act8& a, int64_t rows, int64_t in, const QuantWeight& w, int64_t out, const void* bias, DType bt,
                int64_t j0, int64_t j1, float* y);

}  // namespace llmc::cpu::quant
