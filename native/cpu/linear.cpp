// linear: y[rows, out] = x[rows, in] . w[out, in]^T + bias[out].
//
// Both x and w are row-major along `in`, so every output is a dot product of two contiguous rows. The AVX2
// kernel computes a tile of NT tokens x NR weight rows at a time with 8-wide FMAs, keeping the NT*NR partial sums
// in registers and finishing them with horizontal adds (3x4 for prefill: 12 accumulators + 3 x + 1 w = 16 ymm).
// Threads split the output features (weight rows), so each thread streams its own contiguous slice of w once.
//
// Decode (rows <= kGemvMaxRows) is bound by memory bandwidth. Each thread reads its slice as kStreams long
// sequential streams (see gemv_range), in the weights' stored dtype, widened in registers; each group of kStreams
// rows meets every token tile while it is in L1/L2, so w is read from memory once whatever the row count.
//
// Prefill is bound by arithmetic. Tokens are cut into blocks of kTB (the x block stays in L2), weight rows into
// blocks of kMB and the reduction into blocks of kc <= kKcMax. Each weight block is packed (widened to f32 if
// stored as f16/bf16) into a contiguous buffer that stays in L1 while every 3-token tile of the token block passes
// over it; packing also removes the power-of-two row strides (in = 2048, 4096) that map a block's rows onto the
// same L1 sets. Partial sums over k blocks collect in a small contiguous [kTB, kMB] buffer, not in y.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "avx2.h"
#include "dtype.h"
#include "kernels.h"
#include "linear_paths.h"
#include "rope_epilogue.h"

namespace llmc::cpu {
namespace {

constexpr int64_t kGemvMaxRows = 8;    // up to here the weight stream dominates: decode path
constexpr int64_t kStreams = 8;        // decode: weight rows read concurrently, each from its own sub-range
constexpr int64_t kMB = 8;             // prefill weight rows per block
constexpr int64_t kKcMax = 768;        // prefill reduction block (floats): a [kMB, kc] f32 block is <= 24 KiB
constexpr int64_t kTB = 48;            // prefill tokens per block (multiple of the 3-token tile)
constexpr int64_t kMinMacsPerChunk = 1 << 15;  // below this a thread hand-off costs more than it saves

// ------------------------------------------------------------------------------------------------ scalar

template <class Load>
void linear_scalar(const float* x, int64_t rows, int64_t in, const void* w, int64_t out, const void* bias, DType wt,
                   int64_t j0, int64_t j1, float* y, Load load) {
  for (int64_t t = 0; t < rows; ++t) {
    const float* xt = x + t * in;  // [in]
    for (int64_t j = j0; j < j1; ++j) {
      float s = 0.0f;
      for (int64_t k = 0; k < in; ++k) s += xt[k] * load(w, j * in + k);
      if (bias) s += load_weight(bias, wt, j);
      y[t * out + j] = s;
    }
  }
}

void linear_scalar_range(const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out,
                         const void* bias, int64_t j0, int64_t j1, float* y) {
  switch (wt) {
    case DType::f16:
      linear_scalar(x, rows, in, w, out, bias, wt, j0, j1, y,
                    [](const void* p, int64_t i) { return f16_to_f32(static_cast<const uint16_t*>(p)[i]); });
      break;
    case DType::bf16:
      linear_scalar(x, rows, in, w, out, bias, wt, j0, j1, y,
                    [](const void* p, int64_t i) { return bf16_to_f32(static_cast<const uint16_t*>(p)[i]); });
      break;
    default:
      linear_scalar(x, rows, in, w, out, bias, wt, j0, j1, y,
                    [](const void* p, int64_t i) { return static_cast<const float*>(p)[i]; });
  }
}

// ------------------------------------------------------------------------------------------------ AVX2

using avx2::BF16;
using avx2::F16;
using avx2::F32;

inline float load1(F32, const float* p) { return *p; }
inline float load1(F16, const uint16_t* p) { return f16_to_f32(*p); }
inline float load1(BF16, const uint16_t* p) { return bf16_to_f32(*p); }

// y[t * ldy + r * ys] (+)= x[t, 0:n] . w[r, 0:n] for t < NT, r < NR.   x: [NT, ldx]   w: [NR, ldw]
// Registers: NT*NR accumulators + NT x vectors + 1 weight vector (<= 16 for 3x4). Small tiles unroll k twice so
// at least 8 independent FMA chains hide the FMA latency.
template <class W, int NT, int NR>
LLMC_AVX2 inline void dot_tile(const float* x, int64_t ldx, const typename W::T* w, int64_t ldw, int64_t n, float* y,
                               int64_t ldy, int64_t ys, bool accumulate) {
  constexpr int KU = NT * NR <= 4 ? 2 : 1;
  __m256 acc[KU][NT][NR];
  for (int u = 0; u < KU; ++u)
    for (int t = 0; t < NT; ++t)
      for (int r = 0; r < NR; ++r) acc[u][t][r] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 * KU <= n; k += 8 * KU) {
    for (int u = 0; u < KU; ++u) {
      __m256 xv[NT];
      for (int t = 0; t < NT; ++t) xv[t] = _mm256_loadu_ps(x + t * ldx + k + 8 * u);
      for (int r = 0; r < NR; ++r) {
        const __m256 wv = avx2::load8(W{}, w + r * ldw + k + 8 * u);
        for (int t = 0; t < NT; ++t) acc[u][t][r] = _mm256_fmadd_ps(xv[t], wv, acc[u][t][r]);
      }
    }
  }
  for (; k + 8 <= n; k += 8) {
    __m256 xv[NT];
    for (int t = 0; t < NT; ++t) xv[t] = _mm256_loadu_ps(x + t * ldx + k);
    for (int r = 0; r < NR; ++r) {
      const __m256 wv = avx2::load8(W{}, w + r * ldw + k);
      for (int t = 0; t < NT; ++t) acc[0][t][r] = _mm256_fmadd_ps(xv[t], wv, acc[0][t][r]);
    }
  }
  if (KU == 2)
    for (int t = 0; t < NT; ++t)
      for (int r = 0; r < NR; ++r) acc[0][t][r] = _mm256_add_ps(acc[0][t][r], acc[KU - 1][t][r]);

  alignas(16) float s[NT][NR];
  for (int t = 0; t < NT; ++t) {
    if constexpr (NR % 4 == 0) {
      for (int r = 0; r < NR; r += 4)
        _mm_store_ps(&s[t][r], avx2::hsum4(acc[0][t][r], acc[0][t][r + 1], acc[0][t][r + 2], acc[0][t][r + 3]));
    } else {
      for (int r = 0; r < NR; ++r) s[t][r] = avx2::hsum(acc[0][t][r]);
    }
  }
  for (; k < n; ++k)  // in % 8 leftovers (no real model has them; kept for correctness)
    for (int t = 0; t < NT; ++t)
      for (int r = 0; r < NR; ++r) s[t][r] += x[t * ldx + k] * load1(W{}, w + r * ldw + k);
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < NR; ++r) y[t * ldy + r * ys] = accumulate ? y[t * ldy + r * ys] + s[t][r] : s[t][r];
}

// One token tile (nt = 1..3 tokens) against NR weight rows.
template <class W, int NR>
LLMC_AVX2 inline void dot_tile_nt(int nt, const float* x, int64_t ldx, const typename W::T* w, int64_t ldw,
                                  int64_t n, float* y, int64_t ldy, int64_t ys, bool accumulate) {
  if (nt == 3) dot_tile<W, 3, NR>(x, ldx, w, ldw, n, y, ldy, ys, accumulate);
  else if (nt == 2) dot_tile<W, 2, NR>(x, ldx, w, ldw, n, y, ldy, ys, accumulate);
  else dot_tile<W, 1, NR>(x, ldx, w, ldw, n, y, ldy, ys, accumulate);
}

// All tokens against weight rows [0, m) of a block; w: [m, ldw], results into y[t * ldy + r * ys].
// A lone token takes 8 rows at a time: 8 independent weight streams keep more memory requests in flight, which
// is what a rows=1 GEMV is limited by.
template <class W>
LLMC_AVX2 void tokens_x_rows(const float* x, int64_t rows, int64_t ldx, const typename W::T* w, int64_t ldw,
                             int64_t m, int64_t n, float* y, int64_t ldy, int64_t ys, bool accumulate) {
  for (int64_t t = 0; t < rows; t += 3) {
    const int nt = static_cast<int>(std::min<int64_t>(3, rows - t));
    int64_t r = 0;
    if (nt == 1)
      for (; r + 8 <= m; r += 8)
        dot_tile<W, 1, 8>(x + t * ldx, ldx, w + r * ldw, ldw, n, y + t * ldy + r * ys, ldy, ys, accumulate);
    for (; r + 4 <= m; r += 4)
      dot_tile_nt<W, 4>(nt, x + t * ldx, ldx, w + r * ldw, ldw, n, y + t * ldy + r * ys, ldy, ys, accumulate);
    for (; r < m; ++r)
      dot_tile_nt<W, 1>(nt, x + t * ldx, ldx, w + r * ldw, ldw, n, y + t * ldy + r * ys, ldy, ys, accumulate);
  }
}

// Decode: the thread's weight rows [j0, j1) are cut into kStreams sub-ranges of L rows, and group i takes row i of
// each (rows j0 + s*L + i: a constant stride of L rows). Each of the kStreams weight streams then walks its own
// sub-range front to back, as long sequential streams the hardware prefetchers follow; a group of kStreams adjacent
// rows instead would give streams of one short row each (1.5 KiB for a 768-wide f16 row) and about half the
// bandwidth. The group's rows stay in L1/L2 while every token tile passes over them. Leftover rows go last.
template <class W>
LLMC_AVX2 void gemv_range(const float* x, int64_t rows, int64_t in, const typename W::T* w, int64_t out, int64_t j0,
                          int64_t j1, float* y) {
  const int64_t L = (j1 - j0) / kStreams;
  for (int64_t i = 0; i < L; ++i)
    tokens_x_rows<W>(x, rows, in, w + (j0 + i) * in, L * in, kStreams, in, y + j0 + i, out, L, false);
  for (int64_t j = j0 + kStreams * L; j < j1; j += kStreams)
    tokens_x_rows<W>(x, rows, in, w + j * in, in, std::min(kStreams, j1 - j), in, y + j, out, 1, false);
}

// Packs rows [0, m) x columns [0, n) of a weight block (row stride ldw) into a contiguous f32 dst[m, n].
template <class W>
LLMC_AVX2 void widen_block(const typename W::T* w, int64_t ldw, int64_t m, int64_t n, float* dst) {
  for (int64_t r = 0; r < m; ++r) {
    const typename W::T* src = w + r * ldw;
    float* d = dst + r * n;
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(d + k, avx2::load8(W{}, src + k));
    for (; k < n; ++k) d[k] = load1(W{}, src + k);
  }
}

// Prefill: see the file comment. kc is `in` split into near-equal blocks of at most kKcMax, multiple of 8.
// Loop order: token block (x block stays in L2) > weight row block > k block (weights in L1), with the partial
// sums of the [kTB, kMB] output block kept in a contiguous buffer: writing y directly would stride by `out`
// floats per token, and for a 32000-wide output those rows all fall into the same L1 sets.
template <class W>
LLMC_AVX2 void gemm_range(const float* x, int64_t rows, int64_t in, const typename W::T* w, int64_t out, int64_t j0,
                          int64_t j1, float* y) {
  const int64_t kblocks = (in + kKcMax - 1) / kKcMax;
  const int64_t kc = ((in + kblocks - 1) / kblocks + 7) / 8 * 8;
  thread_local std::vector<float> packed;  // [kMB, kc] f32 copy of a weight block
  if (packed.size() < size_t(kMB * kc)) packed.resize(kMB * kc);
  alignas(32) float acc[kTB * kMB];  // [kTB, kMB] partial sums of one output block
  for (int64_t t0 = 0; t0 < rows; t0 += kTB) {
    const int64_t tb = std::min(kTB, rows - t0);
    const float* xb = x + t0 * in;  // [tb, in]
    for (int64_t jb = j0; jb < j1; jb += kMB) {
      const int64_t m = std::min(kMB, j1 - jb);
      for (int64_t k0 = 0; k0 < in; k0 += kc) {
        const int64_t n = std::min(kc, in - k0);
        widen_block<W>(w + jb * in + k0, in, m, n, packed.data());
        tokens_x_rows<F32>(xb + k0, tb, in, packed.data(), n, m, n, acc, kMB, 1, k0 > 0);
      }
      for (int64_t t = 0; t < tb; ++t) std::memcpy(y + (t0 + t) * out + jb, acc + t * kMB, size_t(m) * sizeof(float));
    }
  }
}

template <class W>
LLMC_AVX2 void linear_avx2_typed(const float* x, int64_t rows, int64_t in, const void* w, int64_t out, int64_t j0,
                                 int64_t j1, float* y) {
  const auto* wt = static_cast<const typename W::T*>(w);
  if (rows <= kGemvMaxRows) gemv_range<W>(x, rows, in, wt, out, j0, j1, y);
  else gemm_range<W>(x, rows, in, wt, out, j0, j1, y);
}

LLMC_AVX2 void linear_avx2_range(const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out,
                                 const void* bias, int64_t j0, int64_t j1, float* y) {
  switch (wt) {
    case DType::f16: linear_avx2_typed<F16>(x, rows, in, w, out, j0, j1, y); break;
    case DType::bf16: linear_avx2_typed<BF16>(x, rows, in, w, out, j0, j1, y); break;
    default: linear_avx2_typed<F32>(x, rows, in, w, out, j0, j1, y);
  }
  if (!bias) return;
  for (int64_t t = 0; t < rows; ++t) {
    float* yt = y + t * out;  // [out]
    int64_t j = j0;
    for (; j + 8 <= j1; j += 8)
      _mm256_storeu_ps(yt + j, _mm256_add_ps(_mm256_loadu_ps(yt + j), avx2::load8(bias, wt, j)));
    for (; j < j1; ++j) yt[j] += load_weight(bias, wt, j);
  }
}

}  // namespace

namespace {

// Whether bf16 weights take the bf16-activation paths (vdpbf16ps, AMX) in prefill: off unless
// LLMC_BF16_ACTIVATIONS=1 (or set_bf16_activations), because rounding the activations makes a prefill row differ
// from the same token decoded alone (decode keeps f32) and from the same prompt in a batch of another size, by
// about 1e-2 of the logits (docs/cpu-kernels.md).
std::atomic<int> g_bf16_activations{-1};

bool bf16_activations_allowed() {
  int v = g_bf16_activations.load(std::memory_order_relaxed);
  if (v < 0) {
    const char* e = std::getenv("LLMC_BF16_ACTIVATIONS");
    v = e && std::strcmp(e, "1") == 0 ? 1 : 0;
    g_bf16_activations.store(v, std::memory_order_relaxed);
  }
  return v == 1;
}

enum class Path { scalar, avx2, gemm_avx512_f32, gemm_avx512_bf16, gemm_amx_bf16 };

Path choose_path(int64_t rows, DType wt) {
  const Simd level = simd_level();
  if (level < Simd::avx2) return Path::scalar;
  // Decode, 1-8 rows: AVX2's 8-stream GEMV reads each weight once for all rows and is at the bandwidth. An AVX-512
  // version (all tokens x 2-4 rows a tile) was level with it on Sapphire Rapids and 1.3-1.5x slower end to end at
  // 8 sequences on Zen 4 (512-bit ops as two halves; docs/perf.md), so it was removed.
  if (level < Simd::avx512 || rows <= kGemvMaxRows) return Path::avx2;
  if (wt == DType::bf16 && bf16_activations_allowed()) {
    if (level >= Simd::amx) return Path::gemm_amx_bf16;
    if (level >= Simd::avx512_bf16) return Path::gemm_avx512_bf16;
  }
  return Path::gemm_avx512_f32;
}

const char* path_name(Path p, DType wt) {
  switch (p) {
    case Path::scalar: return "scalar";
    case Path::avx2: return "avx2";
    case Path::gemm_avx512_f32:
      return wt == DType::f32 ? "avx512 f32 fma" : wt == DType::f16 ? "avx512 f32 fma (f16 widened)" : "avx512 f32 fma (bf16 widened)";
    case Path::gemm_avx512_bf16: return "avx512_bf16 vdpbf16ps";
    case Path::gemm_amx_bf16: return "amx bf16 tiles";
  }
  return "?";
}

}  // namespace

void set_bf16_activations(bool on) { g_bf16_activations.store(on ? 1 : 0, std::memory_order_relaxed); }
bool bf16_activations() { return bf16_activations_allowed(); }

const char* linear_path_name(int64_t rows, DType wt) { return path_name(choose_path(rows, wt), wt); }

namespace {

void add_bias(const void* bias, DType wt, int64_t rows, int64_t out, int64_t j0, int64_t j1, float* y) {
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t j = j0; j < j1; ++j) y[t * out + j] += load_weight(bias, wt, j);
}

}  // namespace

namespace {

// linear_rope's epilogue: heads [0, num_heads) of each output row rotate, with table[rows, rope_table_floats].
struct RopeEpilogue {
  int32_t num_heads, head_dim, rotary_dim;
  RopeStyle style;
  const float* table;
  bool simd;
  // Rotates the heads inside output columns [j0, j1) of rows [0, rows) of y[rows, out], in place. j0 and j1 are
  // multiples of head_dim (linear_impl aligns its chunks to heads) or j1 = out.
  void apply(float* y, int64_t rows, int64_t out, int64_t j0, int64_t j1) const {
    const int64_t c1 = std::min<int64_t>(j1, int64_t(num_heads) * head_dim);
    if (j0 >= c1) return;
    const int32_t h0 = int32_t(j0 / head_dim), h1 = int32_t(c1 / head_dim);
    const int64_t tw = rope_table_floats(rotary_dim);
    for (int64_t t = 0; t < rows; ++t)
      rope_heads_inplace(y + t * out + int64_t(h0) * head_dim, table + t * tw, h1 - h0, head_dim, rotary_dim, style, simd);
  }
};

int64_t gcd64(int64_t a, int64_t b) { return b == 0 ? a : gcd64(b, a % b); }

// act: the activation of linear_act, or null; rope: linear_rope's epilogue, or null. Never both.
void linear_impl(ThreadPool& pool, const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out,
                 const void* bias, const ActivationKind* act, const RopeEpilogue* rope, float* y) {
  if (rows <= 0 || out <= 0) return;
  if (in <= 0) {  // an empty reduction: y is the bias
    for (int64_t t = 0; t < rows; ++t)
      for (int64_t j = 0; j < out; ++j) y[t * out + j] = bias ? load_weight(bias, wt, j) : 0.0f;
    if (act) activation_span(y, rows * out, *act, y);
    if (rope) rope->apply(y, rows, out, 0, out);
    return;
  }
  const Path path = choose_path(rows, wt);
  note_kernel_path(rows <= kGemvMaxRows ? KernelOp::linear_decode : KernelOp::linear_prefill, path_name(path, wt));
  // Chunks are whole blocks (kMB rows, or a packed panel of the AVX-512 / AMX GEMMs), and at least
  // kMinMacsPerChunk of work each.
  int64_t block = path >= Path::gemm_avx512_f32 ? linear_path::kPanel : kMB;
  // linear_rope: chunks hold whole heads, so each thread rotates the heads it computed (lcm of block and head_dim).
  if (rope) block = block / gcd64(block, rope->head_dim) * rope->head_dim;
  const int64_t macs_per_row = std::max<int64_t>(1, rows * in);
  int64_t grain = (kMinMacsPerChunk + macs_per_row - 1) / macs_per_row;
  grain = std::max<int64_t>(block, (grain + block - 1) / block * block);
  pool.parallel_for(out, grain, [&](int64_t j0, int64_t j1, int) {
    switch (path) {
      case Path::scalar: linear_scalar_range(x, rows, in, w, wt, out, bias, j0, j1, y); break;
      case Path::avx2: linear_avx2_range(x, rows, in, w, wt, out, bias, j0, j1, y); break;
      case Path::gemm_avx512_f32: linear_path::gemm_avx512_f32(x, rows, in, w, wt, out, j0, j1, y); break;
      case Path::gemm_avx512_bf16: linear_path::gemm_avx512_bf16(x, rows, in, w, out, j0, j1, y); break;
      case Path::gemm_amx_bf16: linear_path::gemm_amx_bf16(x, rows, in, w, out, j0, j1, y); break;
    }
    if (bias && path >= Path::gemm_avx512_f32) add_bias(bias, wt, rows, out, j0, j1, y);  // the others add it themselves
    // Epilogue of linear_act: this thread's block of outputs, just written (in L1/L2 for decode-sized steps),
    // instead of a second parallel pass over all of y.
    if (act)
      for (int64_t t = 0; t < rows; ++t) activation_span(y + t * out + j0, j1 - j0, *act, y + t * out + j0);
    // Epilogue of linear_rope: the q/k heads of this block, in place.
    if (rope) rope->apply(y, rows, out, j0, j1);
  });
}

}  // namespace

void linear(ThreadPool& pool, const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out,
            const void* bias, float* y) {
  linear_impl(pool, x, rows, in, w, wt, out, bias, nullptr, nullptr, y);
}

void linear_act(ThreadPool& pool, const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out,
                const void* bias, ActivationKind kind, float* y) {
  linear_impl(pool, x, rows, in, w, wt, out, bias, &kind, nullptr, y);
}

void linear_rope(ThreadPool& pool, const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out,
                 const void* bias, const int32_t* positions, int32_t num_heads, int32_t head_dim, int32_t rotary_dim,
                 const float* inv_freq, RopeStyle style, float* y) {
  if (rows <= 0 || out <= 0) return;
  // cos/sin of every row, once for q and k together ([rows, 3 * rotary_dim], this thread's scratch).
  thread_local std::vector<float> table;
  const int64_t tw = rope_table_floats(rotary_dim);
  if (table.size() < size_t(rows * tw)) table.resize(size_t(rows * tw));
  float* tab = table.data();
  if (rows <= kGemvMaxRows) rope_fill_table(positions, 0, rows, inv_freq, rotary_dim, style, tab);
  else pool.parallel_for(rows, 16, [&](int64_t r0, int64_t r1, int) { rope_fill_table(positions, r0, r1, inv_freq, rotary_dim, style, tab); });
  const bool simd = simd_level() >= Simd::avx2;
  note_kernel_path(KernelOp::rope, simd ? "avx2 (linear_rope epilogue)" : "scalar (linear_rope epilogue)");
  const RopeEpilogue rope{num_heads, head_dim, rotary_dim, style, tab, simd};
  linear_impl(pool, x, rows, in, w, wt, out, bias, nullptr, &rope, y);
}

}  // namespace llmc::cpu
