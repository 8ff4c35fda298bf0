// Storage dtypes of the paged KV cache (llmc build --kv-cache-dtype; docs/kv-cache.md) and the block layout they
// give. The CPU and CUDA backends both take the layout from kv_block_layout, so the two cannot drift. The dtype
// table itself (ids, names, element bytes, scaled, qmax, block padding) is generated from
// schema/kv-cache-dtypes.json into llmc/kv_dtype.generated.h (and the kernels' kv_dtype.generated.h).
//
// One block of one layer, in bytes from the block's start:
//   k       [num_kv_heads, block_size, head_dim] elements of the dtype
//   v       [num_kv_heads, block_size, head_dim] at v_offset
//   scales  (i8, f8e4m3 only) k scales [num_kv_heads, block_size] f32 at scale_offset, v scales right after
// Quantized rows have one f32 scale per (token, kv head): a row of head_dim values x is stored as
// q = round(x / s) with s = max|x| / QMAX (QMAX 127 for i8, 448 for e4m3), and read back as q * s. The scale is
// computed when the row is written, from that row alone, so writing a token never touches another token's bytes
// (prefix sharing and chunked prefill stay exact) and a row's error is bounded by its own range.
#pragma once
#include <cstddef>
#include <cstdint>

#include "llmc/kv_dtype.generated.h"

namespace llmc::cpu {

// Plan names: "f32" | "f16" | "bf16" | "i8" | "f8e4m3" (kKvDTypeNames).
using llmc::KvDType;
using llmc::kv_dtype_from_name;
using llmc::kv_dtype_name;
using llmc::kv_dtype_qmax;
using llmc::kv_dtype_scaled;
using llmc::kv_elem_bytes;

struct KvBlockLayout {
  int64_t v_offset;      // bytes from a block's k to its v
  int64_t scale_offset;  // bytes from a block's start to its k scales; 0 when the dtype has none
  int64_t block_bytes;   // one block of one layer, a multiple of 16
};
KvBlockLayout kv_block_layout(KvDType t, int32_t num_kv_heads, int32_t block_size, int32_t head_dim);

namespace kv {

// Largest finite e4m3 value (the OCP "E4M3FN" variant: no infinities, S.1111.111 is NaN).
constexpr float kF8Max = 448.0f;
// int8 codes are -127..127 (symmetric; -128 never stored).
constexpr float kI8Max = 127.0f;

// binary32 -> e4m3, round to nearest even, saturating at +-448 (NaN -> 0x7f).
uint8_t f32_to_f8e4m3(float f);
float f8e4m3_to_f32(uint8_t b);  // exact

// Stores one row x[hd] at dst in dtype t; *scale gets the row's scale (dtypes with scales only; 0 for a row of
// zeros, which then reads back as zeros). Always scalar: every SIMD level stores the same bytes.
void store_row(KvDType t, const float* x, int32_t hd, void* dst, float* scale);

// dst[count, hd] = rows src[count, hd] of dtype t widened to f32 (times scales[i] for scaled dtypes). The rows are
// consecutive positions of one kv head in one block. SIMD where the CPU has it; the result is exact either way
// (widening and one f32 multiply), so every level gives the same floats.
void load_rows(KvDType t, const void* src, const float* scales, int32_t count, int32_t hd, float* dst);

}  // namespace kv
}  // namespace llmc::cpu
