// Weight-only quantized linear (op linear_q): y[rows, out] = x[rows, in] . W^T + bias with
//   W[o, i] = scales[o, i / group_size] * q[o, i] + offsets[o, i / group_size]   (no offsets: 0)
// and q the value of the code: i8 (signed), u4 (0..15, two per byte, element 2j in the low nibble of byte j, rows
// of ceil(in / 2) bytes) or f8e4m3 (OCP E4M3FN). perm (GPTQ act-order): column i multiplies x[perm[i]]. The codes
// are widened in registers, never dequantized into memory; every sum is f32. The CPU kernel (native/cpu/
// linear_quant.cpp, cpu::linear_q) is the reference.
//
//   llmc_gemv_q_<i8|u4|f8>_r<R>   decode, R = rows 1..8: each weight row is read once for all R rows. A warp owns
//     kGemvOutPerWarp (4) weight rows; its lanes walk them together in 16-byte vectors of codes (16 i8/f8 or 32 u4,
//     read-only path without L1 allocation). A vector never straddles a group (group_size % codes-per-vector == 0),
//     so the code . x partial sum of each (weight row, token) is scaled once per vector, and the offset term is
//     offsets * sum(x over the vector), shared by the 4 weight rows:
//       y[t, o] += scales[o, g] * sum_v q x  +  offsets[o, g] * sum_v x
//     The 4 x R lane sums are reduced across the warp with warp_sums_to_lanes (value k ends on lane k).
//     Needs in % codes-per-vector == 0, group_size % codes-per-vector == 0, 16-byte aligned codes and x. With
//     perm or input_scale the launcher first writes x[:, perm] * input_scale into the workspace
//     (llmc_linear_q_prepare_x: rows x in floats); without room there the kernel gathers x through perm itself (one
//     scattered load per code: slow, but correct) and input_scale goes to the generic kernel.
//     grid: ceil(out / 16), block kGemvThreads (128).
//     activation_bits 8 (i8/u4 codes; xscale set): llmc_linear_q_prepare_x first quantizes x per row and group
//     (the CPU's rule: sx = max |x| / 127, xq = clamp(rint(x / sx), -127, 127); perm and input_scale applied) into
//     the workspace as int8 xq with the scales sx in xscale, and the same kernel multiplies the integer codes by xq
//     in int32 (dp4a: 4 byte products per instruction; u4 codes split into their even and odd nibbles, which meet xq
//     stored per 8 columns as 4 even then 4 odd ones); per vector and (row, token) the exact sum is converted once
//     and scaled by scales * sx, the offset term is offsets * sx * sum(xq over the vector):
//       y[t, o] += (scales[o, g] * sx[t, g]) * sum_v q xq  +  (offsets[o, g] * sx[t, g]) * sum_v xq
//   llmc_gemv_q_generic           any shape, group size, alignment and code type: one warp per output, the
//     definition (dequantize each weight, multiply, sum). With activation_bits 8 it runs on x' = sx * xq, which
//     llmc_linear_q_prepare_x writes into the workspace. grid: ceil(out / 4), block 128.
//   llmc_gemm_q_<i8|u4|f8>_<128x128|64x64>   prefill (rows > 8): the tiled SIMT GEMM of gemm_tile.cuh with a
//     weight loader that dequantizes E codes (W = s * q + m) while it fills the shared-memory tile, so the
//     dequantization costs E per BM x E multiply-adds. x is gathered through perm when set. Split-K into the
//     workspace like the float GEMM; llmc_gemm_splitk_reduce adds the splits and the bias. activation_bits 8:
//     llmc_linear_q_prepare_x first computes the per-(row, group) scales, the x loader fake-quantizes.
//     grid: (ceil(out / BM), ceil(rows / BM), splits), block kGemmThreads (256).
//
// Code decoding is plain integer/float arithmetic (runs on sm_80 and in the emulator):
//   i8:  float bits 0x4B000000 | (b ^ 0x80) is 2^23 + 128 + b exactly; subtracting 2^23 + 128 leaves b;
//   u4:  float bits 0x4B000000 | n is 2^23 + n; subtracting 2^23 leaves n;
//   f8:  sign to bit 31, exponent and mantissa to bits 20..26 make a binary32 whose value is the E4M3 value times
//        2^-120 (E4M3 subnormals become binary32 subnormals, so this needs denormals: the fatbin is built without
//        -ftz / --use_fast_math); one multiply by 2^120 (exact) restores it. The NaN codes 0x7f/0xff (never written
//        by a quantizer or importer) come out as +-480, as in the CPU's AVX2 path.
//   On sm_89+ (__CUDA_ARCH__ >= 890: the sm_90a SASS of the default fatbin) the f8 decode uses the native
//   cvt.rn.f16x2.e4m3x2 (two codes -> two f16, exact; NaN stays NaN) and widens f16 -> f32; building with
//   -DLLMC_CUDA_FP8_ARITH forces the arithmetic decode everywhere (to compare the two on a GPU).
#include "gemm_tile.cuh"

#if defined(__USE_FAST_MATH__)
#error "linear_quant.cu decodes FP8 subnormals through binary32 subnormals: compile without --use_fast_math"
#endif

namespace llmc_linear_q {

using namespace llmc_dev;

LLMC_DEVICE int64_t code_row_bytes(int qt, int64_t in) { return qt == kU4 ? (in + 1) / 2 : in; }

LLMC_DEVICE float fp8_to_f32_arith(uint32_t b) {
  return __uint_as_float(((b & 0x80u) << 24) | ((b & 0x7fu) << 20)) * 0x1p120f;
}

// Code traits: kPerWord codes in one 32-bit word (little-endian: code e at bits [e * bits, ...)); word() decodes
// all of them, one() code i of a row.
template <int QT>
struct Codes;

template <>
struct Codes<kI8> {
  static constexpr int kPerWord = 4;
  LLMC_DEVICE static void word(uint32_t w, float* f) {
    const uint32_t u = w ^ 0x80808080u;  // each byte b + 128
#pragma unroll
    for (int j = 0; j < 4; ++j) f[j] = __uint_as_float(0x4B000000u | ((u >> (8 * j)) & 0xffu)) - 8388736.0f;
  }
  LLMC_DEVICE static float one(const uint8_t* row, int64_t i) { return float(static_cast<int8_t>(row[i])); }
};

template <>
struct Codes<kU4> {
  static constexpr int kPerWord = 8;
  LLMC_DEVICE static void word(uint32_t w, float* f) {
#pragma unroll
    for (int j = 0; j < 8; ++j) f[j] = __uint_as_float(0x4B000000u | ((w >> (4 * j)) & 0xfu)) - 8388608.0f;
  }
  LLMC_DEVICE static float one(const uint8_t* row, int64_t i) { return float((row[i >> 1] >> ((i & 1) * 4)) & 0xfu); }
};

template <>
struct Codes<kF8E4M3> {
  static constexpr int kPerWord = 4;
  LLMC_DEVICE static void word(uint32_t w, float* f) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890 && !defined(LLMC_CUDA_FP8_ARITH)
    uint32_t lo, hi;  // f16x2: the lower byte of each pair becomes the lower half
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(lo) : "h"(static_cast<unsigned short>(w & 0xffffu)));
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(hi) : "h"(static_cast<unsigned short>(w >> 16)));
    f[0] = f16_to_f32(lo & 0xffffu);
    f[1] = f16_to_f32(lo >> 16);
    f[2] = f16_to_f32(hi & 0xffffu);
    f[3] = f16_to_f32(hi >> 16);
#else
#pragma unroll
    for (int j = 0; j < 4; ++j) f[j] = fp8_to_f32_arith((w >> (8 * j)) & 0xffu);
#endif
  }
  LLMC_DEVICE static float one(const uint8_t* row, int64_t i) {
    float f[4];
    word(row[i], f);
    return f[0];
  }
};

LLMC_DEVICE float code_at(const uint8_t* row, int qt, int64_t i) {
  if (qt == kI8) return Codes<kI8>::one(row, i);
  if (qt == kU4) return Codes<kU4>::one(row, i);
  return Codes<kF8E4M3>::one(row, i);
}

// Column i of row r of x in qweight's column order: x[r, perm[i]] * input_scale[i] (either may be null).
LLMC_DEVICE float x_at(const float* x, const int32_t* perm, const float* input_scale, int64_t in, int64_t r, int64_t i) {
  const float v = x[r * in + (perm != nullptr ? perm[i] : i)];
  return input_scale != nullptr ? v * input_scale[i] : v;
}

// int8 fake-quantization of one activation with its group's scale sx (activation_bits 8): the CPU's definition.
LLMC_DEVICE float fake_quant8(float v, float sx) { return sx * fminf(fmaxf(rintf(v / sx), -127.0f), 127.0f); }

LLMC_DEVICE uint32_t word_of(const uint4& v, int j) { return j == 0 ? v.x : j == 1 ? v.y : j == 2 ? v.z : v.w; }

// ---- decode GEMV -----------------------------------------------------------------------------------------------

template <int QT, int R>
LLMC_DEVICE void gemv(const LinearQParams& p) {
  using C = Codes<QT>;
  constexpr int PW = C::kPerWord, CPV = 4 * PW;  // codes per word, per 16-byte vector
  constexpr int NO = kGemvOutPerWarp, NV = NO * R;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int o0 = (blockIdx.x * (kGemvThreads / 32) + warp) * NO;
  if (o0 >= p.out) return;  // whole warp
  const int64_t in = p.in;
  const int64_t rb = code_row_bytes(QT, in);
  const int ng = p.in / p.group_size;
  const int nvec = p.in / CPV;
  int orow[NO];
  const char* wrow[NO];
#pragma unroll
  for (int i = 0; i < NO; ++i) {
    orow[i] = imin(o0 + i, p.out - 1);  // rows past the end repeat the last one; their sums are dropped
    wrow[i] = static_cast<const char*>(p.q) + int64_t(orow[i]) * rb;
  }

  float acc[NO][R];
#pragma unroll
  for (int i = 0; i < NO; ++i)
#pragma unroll
    for (int r = 0; r < R; ++r) acc[i][r] = 0.0f;

  for (int v = lane; v < nvec; v += 32) {
    const int k0 = v * CPV;
    const int g = k0 / p.group_size;
    uint4 wv[NO];
#pragma unroll
    for (int i = 0; i < NO; ++i) wv[i] = load_stream16(wrow[i] + int64_t(v) * 16);
    float part[NO][R], xs[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      xs[r] = 0.0f;
#pragma unroll
      for (int i = 0; i < NO; ++i) part[i][r] = 0.0f;
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) {  // word j of each row: PW codes, decoded once for the R tokens
      const int k = k0 + j * PW;
      float q[NO][PW];
#pragma unroll
      for (int i = 0; i < NO; ++i) C::word(word_of(wv[i], j), q[i]);
      int idx[PW];
      if (p.perm != nullptr) {
#pragma unroll
        for (int e = 0; e < PW; ++e) idx[e] = p.perm[k + e];
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float xv[PW];
        if (p.perm != nullptr) {
#pragma unroll
          for (int e = 0; e < PW; ++e) xv[e] = p.x[r * in + idx[e]];
        } else {
#pragma unroll
          for (int e = 0; e < PW; e += 4) {
            const float4 t = load_f4(p.x + r * in + k + e);
            xv[e] = t.x;
            xv[e + 1] = t.y;
            xv[e + 2] = t.z;
            xv[e + 3] = t.w;
          }
        }
        if (p.offsets != nullptr) {
#pragma unroll
          for (int e = 0; e < PW; ++e) xs[r] += xv[e];
        }
#pragma unroll
        for (int i = 0; i < NO; ++i)
#pragma unroll
          for (int e = 0; e < PW; ++e) part[i][r] += q[i][e] * xv[e];
      }
    }
#pragma unroll
    for (int i = 0; i < NO; ++i) {
      const float s = p.scales[int64_t(orow[i]) * ng + g];
      const float m = p.offsets != nullptr ? p.offsets[int64_t(orow[i]) * ng + g] : 0.0f;
#pragma unroll
      for (int r = 0; r < R; ++r) acc[i][r] += s * part[i][r] + m * xs[r];
    }
  }

  float mine = warp_sums_to_lanes<NV>(&acc[0][0]);  // value k = acc[k / R][k % R] on lane k
  if (lane < NV) {
    const int i = lane / R, r = lane % R, o = o0 + i;
    if (o < p.out) {
      if (p.bias != nullptr) mine += load_weight(p.bias, p.bias_dtype, o);
      p.y[int64_t(r) * p.out + o] = mine;
    }
  }
}

// ---- decode GEMV with int8 activations (activation_bits 8, i8 / u4 codes) ---------------------------------------

// acc + the dot product of the four signed bytes of a and b (dp4a).
LLMC_DEVICE int32_t dot4_s8(uint32_t a, uint32_t b, int32_t acc) {
#if defined(__CUDA_ARCH__)
  int32_t d;
  asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(acc));
  return d;
#else
#pragma unroll
  for (int j = 0; j < 4; ++j)
    acc += int32_t(static_cast<int8_t>((a >> (8 * j)) & 0xffu)) * int32_t(static_cast<int8_t>((b >> (8 * j)) & 0xffu));
  return acc;
#endif
}

// As gemv, with x replaced by xq (p.workspace as int8 [R, in], the layout of llmc_linear_q_prepare_x's prepare 1)
// and its scales p.xscale [R, groups]. Codes meet xq as integers: i8 words directly (both signed), u4 words as
// their low nibbles (codes 0, 2, 4, 6 of the word) against the 4 even xq bytes of the 8 columns and their high
// nibbles against the 4 odd ones. |sum| <= 16 * 128 * 127 per vector: exact in int32 and in f32.
template <int QT, int R>
LLMC_DEVICE void gemv_act8(const LinearQParams& p) {
  constexpr int PW = Codes<QT>::kPerWord, CPV = 4 * PW, XW = CPV / 4;  // codes per word, per vector; xq words per vector
  constexpr int NO = kGemvOutPerWarp, NV = NO * R;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int o0 = (blockIdx.x * (kGemvThreads / 32) + warp) * NO;
  if (o0 >= p.out) return;  // whole warp
  const int64_t in = p.in;
  const int64_t rb = code_row_bytes(QT, in);
  const int ng = p.in / p.group_size;
  const int nvec = p.in / CPV;
  const uint8_t* xq = reinterpret_cast<const uint8_t*>(p.workspace);
  int orow[NO];
  const char* wrow[NO];
#pragma unroll
  for (int i = 0; i < NO; ++i) {
    orow[i] = imin(o0 + i, p.out - 1);  // rows past the end repeat the last one; their sums are dropped
    wrow[i] = static_cast<const char*>(p.q) + int64_t(orow[i]) * rb;
  }

  float acc[NO][R];
#pragma unroll
  for (int i = 0; i < NO; ++i)
#pragma unroll
    for (int r = 0; r < R; ++r) acc[i][r] = 0.0f;

  for (int v = lane; v < nvec; v += 32) {
    const int k0 = v * CPV;
    const int g = k0 / p.group_size;
    uint4 wv[NO];
#pragma unroll
    for (int i = 0; i < NO; ++i) wv[i] = load_stream16(wrow[i] + int64_t(v) * 16);
    float s[NO], m[NO];
#pragma unroll
    for (int i = 0; i < NO; ++i) {
      s[i] = p.scales[int64_t(orow[i]) * ng + g];
      m[i] = p.offsets != nullptr ? p.offsets[int64_t(orow[i]) * ng + g] : 0.0f;
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      uint32_t xw[XW];  // xq of columns k0 .. k0 + CPV - 1 (16-byte aligned: in is a multiple of CPV)
#pragma unroll
      for (int h = 0; h < XW / 4; ++h) {
        const uint4 t = *reinterpret_cast<const uint4*>(xq + int64_t(r) * in + k0 + 16 * h);
        xw[4 * h] = t.x;
        xw[4 * h + 1] = t.y;
        xw[4 * h + 2] = t.z;
        xw[4 * h + 3] = t.w;
      }
      int32_t qs = 0;  // sum of xq over the vector (the offsets term)
      if (p.offsets != nullptr) {
#pragma unroll
        for (int e = 0; e < XW; ++e) qs = dot4_s8(xw[e], 0x01010101u, qs);
      }
      const float sx = p.xscale[int64_t(r) * ng + g];
#pragma unroll
      for (int i = 0; i < NO; ++i) {
        int32_t d = 0;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const uint32_t c = word_of(wv[i], j);
          if constexpr (QT == kU4) {
            d = dot4_s8(c & 0x0f0f0f0fu, xw[2 * j], d);
            d = dot4_s8((c >> 4) & 0x0f0f0f0fu, xw[2 * j + 1], d);
          } else {
            d = dot4_s8(c, xw[j], d);
          }
        }
        acc[i][r] += (s[i] * sx) * float(d) + (m[i] * sx) * float(qs);
      }
    }
  }

  float mine = warp_sums_to_lanes<NV>(&acc[0][0]);  // value k = acc[k / R][k % R] on lane k
  if (lane < NV) {
    const int i = lane / R, r = lane % R, o = o0 + i;
    if (o < p.out) {
      if (p.bias != nullptr) mine += load_weight(p.bias, p.bias_dtype, o);
      p.y[int64_t(r) * p.out + o] = mine;
    }
  }
}

// The decode kernels' body: int8 activations when the launcher prepared them (xscale set), else f32 activations.
template <int QT, int R>
LLMC_DEVICE void gemv_any(const LinearQParams& p) {
  if constexpr (QT != kF8E4M3) {
    if (p.xscale != nullptr) {
      gemv_act8<QT, R>(p);
      return;
    }
  }
  gemv<QT, R>(p);
}

// ---- prefill GEMM ----------------------------------------------------------------------------------------------

// x rows for the GEMM tile: vector loads, or gathered through perm and scaled by input_scale (column k of the weight
// multiplies x[perm[k]] * input_scale[k]), int8-fake-quantized with xscale[row, k / group_size] when set.
struct XRows {
  const float* x;
  const int32_t* perm;
  const float* input_scale;
  const float* xscale;
  int64_t K;
  int32_t group_size;
  int32_t groups;
  bool vec;
  template <int E>
  LLMC_DEVICE void load(int64_t row, bool row_ok, int k, int k_end, float* out) const {
    if (perm == nullptr && input_scale == nullptr && xscale == nullptr) {
      llmc_gemm_tile::load_float_chunk<kF32, E>(x, row, row_ok, K, k, k_end, vec, out);
      return;
    }
#pragma unroll
    for (int e = 0; e < E; ++e) {
      if (!row_ok || k + e >= k_end) {
        out[e] = 0.0f;
        continue;
      }
      const float v = x_at(x, perm, input_scale, K, row, k + e);
      out[e] = xscale != nullptr ? fake_quant8(v, xscale[row * groups + (k + e) / group_size]) : v;
    }
  }
};

// Weight rows dequantized to f32 while the tile is loaded: out[e] = scales[row, g] * q + offsets[row, g].
template <int QT>
struct QuantRows {
  const uint8_t* q;
  const float* scales;
  const float* offsets;
  int64_t row_bytes;
  int32_t group_size;
  int32_t groups;
  bool vec;  // row_bytes % 8 == 0 and q 16-byte aligned: the E codes are one aligned 2-, 4- or 8-byte load
  template <int E>
  LLMC_DEVICE void load(int64_t row, bool row_ok, int k, int k_end, float* out) const {
    using C = Codes<QT>;
    if (!row_ok) {
#pragma unroll
      for (int e = 0; e < E; ++e) out[e] = 0.0f;
      return;
    }
    const uint8_t* r = q + row * row_bytes;
    float c[E];
    if (vec && k + E <= k_end) {
      constexpr int kBits = QT == kU4 ? 4 : 8;
      constexpr int kBytes = E * kBits / 8;  // 2, 4 or 8
      const uint8_t* src = r + int64_t(k) * kBits / 8;
      uint32_t w[2] = {0u, 0u};
      if (kBytes == 8) {
        const uint2 t = *reinterpret_cast<const uint2*>(src);
        w[0] = t.x;
        w[1] = t.y;
      } else if (kBytes == 4) {
        w[0] = *reinterpret_cast<const uint32_t*>(src);
      } else {
        w[0] = *reinterpret_cast<const uint16_t*>(src);
      }
      float f[2 * C::kPerWord];
      C::word(w[0], f);
      if (E > C::kPerWord) C::word(w[1], f + C::kPerWord);
#pragma unroll
      for (int e = 0; e < E; ++e) c[e] = f[e];
    } else {
#pragma unroll
      for (int e = 0; e < E; ++e) c[e] = k + e < k_end ? C::one(r, k + e) : 0.0f;
    }
    const int g0 = k / group_size, g0_end = (g0 + 1) * group_size;
#pragma unroll
    for (int e = 0; e < E; ++e) {
      if (k + e >= k_end) {
        out[e] = 0.0f;
        continue;
      }
      const int64_t gi = row * groups + (k + e < g0_end ? g0 : (k + e) / group_size);
      out[e] = scales[gi] * c[e] + (offsets != nullptr ? offsets[gi] : 0.0f);
    }
  }
};

template <int QT, int BM>
LLMC_DEVICE void gemm(const LinearQParams& p) {
  const int64_t rb = code_row_bytes(QT, p.in);
  const XRows a{p.x, p.perm, p.input_scale, p.xscale, p.in, p.group_size, p.in / p.group_size,
                (p.in % 8) == 0 && aligned16(p.x)};
  const QuantRows<QT> b{static_cast<const uint8_t*>(p.q), p.scales, p.offsets, rb, p.group_size, p.in / p.group_size,
                        (rb % 8) == 0 && aligned16(p.q)};
  // Split z writes its partial sums to workspace[z]; llmc_gemm_splitk_reduce adds the splits and the bias.
  const llmc_gemm_tile::StoreRows store{p.splits > 1 ? p.workspace + int64_t(blockIdx.z) * p.rows * p.out : p.y,
                                        p.splits > 1 ? nullptr : p.bias, p.bias_dtype, p.out};
  llmc_gemm_tile::gemm_tile<BM>(a, b, store, p.rows, p.out, p.in, p.k_per_split);
}

#define LLMC_GEMV_Q(qt, QT, R)                                                                                  \
  LLMC_KERNEL void __launch_bounds__(kGemvThreads) llmc_gemv_q_##qt##_r##R(const llmc::kabi::LinearQParams p) { \
    llmc_linear_q::gemv_any<llmc::kabi::QT, R>(p);                                                              \
  }
#define LLMC_GEMV_Q_ROWS(qt, QT) \
  LLMC_GEMV_Q(qt, QT, 1)         \
  LLMC_GEMV_Q(qt, QT, 2)         \
  LLMC_GEMV_Q(qt, QT, 3)         \
  LLMC_GEMV_Q(qt, QT, 4)         \
  LLMC_GEMV_Q(qt, QT, 5)         \
  LLMC_GEMV_Q(qt, QT, 6)         \
  LLMC_GEMV_Q(qt, QT, 7)         \
  LLMC_GEMV_Q(qt, QT, 8)
LLMC_GEMV_Q_ROWS(i8, kI8)
LLMC_GEMV_Q_ROWS(u4, kU4)
LLMC_GEMV_Q_ROWS(f8, kF8E4M3)
#undef LLMC_GEMV_Q_ROWS
#undef LLMC_GEMV_Q

#define LLMC_GEMM_Q(qt, QT, B)                                                                                       \
  LLMC_KERNEL void __launch_bounds__(kGemmThreads) llmc_gemm_q_##qt##_##B##x##B(const llmc::kabi::LinearQParams p) { \
    llmc_linear_q::gemm<llmc::kabi::QT, B>(p);                                                                       \
  }
LLMC_GEMM_Q(i8, kI8, 128)
LLMC_GEMM_Q(u4, kU4, 128)
LLMC_GEMM_Q(f8, kF8E4M3, 128)
LLMC_GEMM_Q(i8, kI8, 64)
LLMC_GEMM_Q(u4, kU4, 64)
LLMC_GEMM_Q(f8, kF8E4M3, 64)
#undef LLMC_GEMM_Q

// prepare 0: x in qweight's column order, scaled (perm, input_scale) into the workspace for the decode GEMV, so it
// reads x with vector loads instead of one scattered load per code; and/or the int8-activation scales of prefill per
// (row, group). prepare 1 / 2 (decode with activation_bits 8): the scales, then xq (int8, in the integer GEMV's
// layout) or x' = sx * xq (f32, for the generic kernel) into the workspace.
LLMC_KERNEL void __launch_bounds__(128) llmc_linear_q_prepare_x(const llmc::kabi::LinearQParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t ng = p.in / p.group_size;
  const int64_t wg = int64_t(blockIdx.x) * (blockDim.x / 32) + (threadIdx.x >> 5);
  if (wg >= int64_t(p.rows) * ng) return;  // whole warp
  const int64_t r = wg / ng, g = wg % ng;
  const int64_t i0 = g * p.group_size, i1 = i0 + p.group_size;
  float amax = 0.0f;
  for (int64_t i = i0 + lane; i < i1; i += 32) {
    const float v = x_at(p.x, p.perm, p.input_scale, p.in, r, i);
    if (p.prepare == 0 && p.workspace != nullptr) p.workspace[r * p.in + i] = v;
    amax = fmaxf(amax, fabsf(v));
  }
  if (p.xscale == nullptr && p.prepare == 0) return;
  amax = warp_max(amax);
  const float sx = amax > 0.0f ? amax / 127.0f : 1.0f;
  if (p.xscale != nullptr && lane == 0) p.xscale[wg] = sx;
  if (p.prepare == 0) return;
  int8_t* xq = reinterpret_cast<int8_t*>(p.workspace) + r * p.in;
  for (int64_t i = i0 + lane; i < i1; i += 32) {
    const float q = fminf(fmaxf(rintf(x_at(p.x, p.perm, p.input_scale, p.in, r, i) / sx), -127.0f), 127.0f);
    if (p.prepare == 2) {
      p.workspace[r * p.in + i] = sx * q;  // fake_quant8
    } else {  // u4: column 8b + c at 8b + c / 2 (c even) or 8b + 4 + c / 2 (c odd), the nibble order of a code word
      const int64_t c = i & 7;
      xq[p.qtype == kU4 ? (i - c) + (c & 1) * 4 + (c >> 1) : i] = static_cast<int8_t>(q);
    }
  }
}

// The definition, for any shape: one warp per output feature, each weight dequantized then multiplied.
LLMC_KERNEL void __launch_bounds__(128) llmc_gemv_q_generic(const llmc::kabi::LinearQParams p) {
  const int lane = threadIdx.x & 31;
  const int o = blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5);
  if (o >= p.out) return;
  const int64_t in = p.in, ng = p.in / p.group_size;
  const uint8_t* row = static_cast<const uint8_t*>(p.q) + int64_t(o) * code_row_bytes(p.qtype, in);
  for (int r = 0; r < p.rows; ++r) {
    float s = 0.0f;
    for (int64_t k = lane; k < in; k += 32) {
      const int64_t gi = int64_t(o) * ng + k / p.group_size;
      const float w = p.scales[gi] * code_at(row, p.qtype, k) + (p.offsets != nullptr ? p.offsets[gi] : 0.0f);
      s += x_at(p.x, p.perm, p.input_scale, in, r, k) * w;
    }
    s = warp_sum(s);
    if (lane == 0) p.y[int64_t(r) * p.out + o] = p.bias != nullptr ? s + load_weight(p.bias, p.bias_dtype, o) : s;
  }
}

}  // namespace llmc_linear_q
