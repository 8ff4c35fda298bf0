// llmc_kv_write: stores each token's k and v rows into its sequence's paged KV-cache block (layout: kernel_abi.h
// KvLayer, the CPU backend's) in the cache's storage dtype. Runs before the attention kernels of the same layer,
// which read only the cache. i8/f8e4m3 rows get one scale each, max|x| / QMAX, computed here by one warp per
// (token, kv head) with the CPU quantizer's formulas (llmc::cpu::kv::store_row), so both backends store the
// same bytes.
//   k, v: [rows, num_kv_heads * head_dim]   grid: rows   block: kRowThreads
#include "common.cuh"

namespace llmc_kv_cache_k {

using namespace llmc_dev;

// binary32 -> binary16 bits, round to nearest even (the CPU's f32_to_f16).
LLMC_DEVICE uint16_t to_f16(float f) {
#if defined(__CUDA_ARCH__)
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
#else
  uint32_t x = __float_as_uint(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
  if (x >= 0x477ff000u) return uint16_t(sign | 0x7c00u);
  if (x < 0x38800000u) return uint16_t(sign | uint16_t(rintf(__uint_as_float(x) * 16777216.0f)));
  const uint32_t rounded = x + 0xfffu + ((x >> 13) & 1u);
  return uint16_t(sign | ((rounded - (112u << 23)) >> 13));
#endif
}

LLMC_DEVICE uint16_t to_bf16(float f) {
  const uint32_t x = __float_as_uint(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// The CPU's kv::f32_to_f8e4m3: round to nearest even, saturating at 448.
LLMC_DEVICE uint8_t to_f8e4m3(float f) {
  if (isnan(f)) return 0x7f;
  const uint8_t sign = signbit(f) ? 0x80 : 0x00;
  const float a = fabsf(f);
  if (a >= 448.0f) return sign | 0x7e;
  if (a == 0.0f) return sign;
  const int e = imax(ilogbf(a), -6);
  const int units = int(rintf(ldexpf(a, 3 - e)));
  return uint8_t(sign | imin((e + 6) * 8 + units, 0x7e));
}

// One quantized row x[hd] into dst (one warp; every lane returns).
LLMC_DEVICE void quantize_row(const float* x, int hd, int dtype, uint8_t* dst, float* scale) {
  const int lane = threadIdx.x & 31;
  float amax = 0.0f;
  for (int d = lane; d < hd; d += 32) amax = fmaxf(amax, fabsf(x[d]));
  amax = warp_max(amax);
  const float qmax = kv_code_qmax(dtype);
  const float inv = amax > 0.0f ? qmax / amax : 0.0f;
  if (lane == 0) *scale = amax / qmax;
  for (int d = lane; d < hd; d += 32) {
    if (dtype == kKvI8) {
      reinterpret_cast<int8_t*>(dst)[d] = int8_t(fminf(fmaxf(rintf(x[d] * inv), -127.0f), 127.0f));
    } else {
      dst[d] = to_f8e4m3(x[d] * inv);
    }
  }
}

LLMC_KERNEL void __launch_bounds__(kRowThreads) llmc_kv_write(const KvWriteParams p) {
  const int64_t r = blockIdx.x;
  const int seq = p.seq_of_token[r];
  if (seq < 0) return;
  const int pos = p.positions[r];
  const int32_t* table = p.block_tables + int64_t(seq) * p.max_blocks_per_seq;
  const int hd = p.kv.head_dim, dt = p.kv.dtype;
  const int64_t row_width = int64_t(p.kv.num_kv_heads) * hd;
  if (kv_code_scaled(dt)) {
    const int warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int h = warp; h < p.kv.num_kv_heads; h += warps) {  // warp-uniform
      const KvRowRef ref = kv_row(p.kv, table, pos, h);
      uint8_t* k_dst = kv_k_bytes(p.kv, ref);
      quantize_row(p.k + r * row_width + int64_t(h) * hd, hd, dt, k_dst, kv_k_scales(p.kv, ref.block) + ref.row);
      quantize_row(p.v + r * row_width + int64_t(h) * hd, hd, dt, k_dst + p.kv.v_offset, kv_v_scales(p.kv, ref.block) + ref.row);
    }
    return;
  }
  for (int idx = threadIdx.x; idx < row_width; idx += blockDim.x) {
    const int h = idx / hd, d = idx % hd;
    uint8_t* k_dst = kv_k_bytes(p.kv, kv_row(p.kv, table, pos, h));
    uint8_t* v_dst = k_dst + p.kv.v_offset;
    const float k = p.k[r * row_width + idx], v = p.v[r * row_width + idx];
    if (dt == kKvF16) {
      reinterpret_cast<uint16_t*>(k_dst)[d] = to_f16(k);
      reinterpret_cast<uint16_t*>(v_dst)[d] = to_f16(v);
    } else if (dt == kKvBF16) {
      reinterpret_cast<uint16_t*>(k_dst)[d] = to_bf16(k);
      reinterpret_cast<uint16_t*>(v_dst)[d] = to_bf16(v);
    } else {
      reinterpret_cast<float*>(k_dst)[d] = k;
      reinterpret_cast<float*>(v_dst)[d] = v;
    }
  }
}

}  // namespace llmc_kv_cache_k
