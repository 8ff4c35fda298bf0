// The CUDA kernel ABI: every kernel's name and its one parameter struct, shared by the device code (nvcc) and the
// host launchers (g++, no CUDA headers), so the two cannot drift.
//
// Rules:
//   - Every kernel is `extern "C" __global__ void NAME(const PARAMS p)`: one struct, passed by value
//     (cuLaunchKernel's kernelParams = { &params }).
//   - Structs hold only pointers, int32_t/int64_t/uint64_t and float, ordered so that neither compiler pads
//     differently; LLMC_ABI_SIZE pins each size in both compilations (a drift fails the build, not the run).
//   - LLMC_CUDA_KERNELS lists every kernel. The host looks each name up in the loaded fatbin at engine load and
//     names the first missing one; llmc_abi_v<N> carries LLMC_CUDA_ABI_VERSION, so a fatbin compiled from other
//     kernel sources is refused with the rebuild command instead of being launched with the wrong structs.
//   - Activations are f32 row-major [rows, width]. Weights are f32/f16/bf16, or i8/u4/f8e4m3 codes for linear_q
//     (dtype codes as llmc::DType), accumulation is always f32, and the f32 path never uses TF32.
#pragma once
#include <stdint.h>

#include "kv_dtype.generated.h"  // KV cache dtype codes kKv* and their element bytes (schema/kv-cache-dtypes.json)

#define LLMC_CUDA_ABI_VERSION 4  // v4: RopeParams.pad_ became ld (linear_rope rotates in place in a wider row)

#if defined(__cplusplus) && __cplusplus >= 201103L
#define LLMC_ABI_SIZE(T, n) static_assert(sizeof(T) == (n), "kernel ABI: sizeof(" #T ") changed; update both sides")
#else
#define LLMC_ABI_SIZE(T, n)
#endif

namespace llmc {
namespace kabi {

// Weight dtype codes (== llmc::DType, schema/ops.json; launch.cpp static_asserts the match). i8, u4 and f8e4m3 are
// the codes of the quantized linear (linear_quant.cu).
enum : int32_t { kF32 = 0, kF16 = 1, kBF16 = 2, kI8 = 3, kU4 = 4, kF8E4M3 = 5 };
// Activation kinds (== llmc::ActivationKind).
enum : int32_t { kSilu = 0, kGeluErf = 1, kGeluTanh = 2, kRelu = 3, kGeluBloom = 4, kIdentity = 5 };
// Rope styles (== llmc::RopeStyle).
enum : int32_t { kRopeNeox = 0, kRopeGptj = 1 };

// Threads per block the launchers use (kernels are written for exactly these).
enum : int32_t {
  kRowThreads = 256,        // norms, embedding, rope, split, select_rows, kv write: one block per row
  kEltThreads = 256,        // element-wise: grid-stride
  kAttnThreads = 128,       // prefill and decode attention: 4 warps
  kAttnPrefillRows = 32,    // query rows per prefill tile (8 per warp)
  kAttnKeyTile = 32,        // keys per shared-memory tile
  kAttnDecodeHeads = 8,     // query heads of one kv group handled by one decode block
  kGemvThreads = 128,       // 4 warps
  kGemvOutPerWarp = 4,      // output features per warp (x loads amortised over 4 weight rows)
  kGemvMaxRows = 8,         // GEMV kernels exist for 1..8 rows
  kGemmThreads = 256,
  kGemmBK = 16,
  kReduceThreads = 128,
  kSampleThreads = 1024,
  kSampleMaxSorted = 1024,  // top-k / nucleus candidates sorted exactly on device
};

struct AbiParams {  // llmc_abi_v4: writes LLMC_CUDA_ABI_VERSION to *out (when out is not null)
  int32_t* out;
};
LLMC_ABI_SIZE(AbiParams, 8);

// ---- embedding.cu ----------------------------------------------------------------------------------------------
struct EmbeddingParams {  // out[r, :] = table[ids[r], :] * scale                 grid: rows   block: kRowThreads
  const void* table;      // [vocab, width] dtype
  const int32_t* ids;     // [rows]
  float* out;             // [rows, width]
  int64_t width;
  int32_t rows;
  int32_t dtype;
  float scale;
  int32_t pad_;
};
LLMC_ABI_SIZE(EmbeddingParams, 48);

struct PosEmbeddingParams {  // out[r, :] = x[r, :] + table[positions[r] + offset, :]   grid: rows
  const float* x;            // [rows, width]
  const void* table;         // [positions, width] dtype
  const int32_t* positions;  // [rows]
  float* out;                // [rows, width]
  int64_t width;
  int32_t rows;
  int32_t dtype;
  int32_t offset;
  int32_t pad_;
};
LLMC_ABI_SIZE(PosEmbeddingParams, 56);

// ---- norm.cu ---------------------------------------------------------------------------------------------------
struct NormParams {     // llmc_rms_norm: out = x * rsqrt(mean(x^2) + eps) * (w + weight_offset)
  const float* x;       // llmc_layer_norm: out = (x - mean) * rsqrt(var + eps) * w + b (b may be null)
  const void* weight;   // [width] dtype                                          grid: rows   block: kRowThreads
  const void* bias;     // [width] dtype or null (layer_norm only)
  float* out;           // [rows, width]
  int64_t width;
  int32_t rows;
  int32_t dtype;
  float eps;
  float weight_offset;
};
LLMC_ABI_SIZE(NormParams, 56);

// ---- rope.cu ---------------------------------------------------------------------------------------------------
struct RopeParams {          // x, out: [rows, num_heads * head_dim]; pair i rotates by positions[r] * inv_freq[i]
  const float* x;            //                                                  grid: rows   block: kRowThreads
  const float* inv_freq;     // [rotary_dim / 2] f32
  const int32_t* positions;  // [rows]
  float* out;
  int32_t rows;
  int32_t num_heads;
  int32_t head_dim;
  int32_t rotary_dim;
  int32_t style;             // kRopeNeox | kRopeGptj
  int32_t ld;                // row stride of x and out in floats; 0 = num_heads * head_dim (linear_rope: the
                             // linear's out width, rotating its leading heads in place with x == out)
};
LLMC_ABI_SIZE(RopeParams, 56);

// ---- elementwise.cu --------------------------------------------------------------------------------------------
struct EltParams {   // llmc_add: a + b; llmc_mul: a * b; llmc_activation: act(a); llmc_gated_activation: act(a) * b
  const float* a;    // [n]                                               grid-stride, block: kEltThreads
  const float* b;    // [n] (null for llmc_activation)
  float* out;        // [n]
  int64_t n;
  int32_t kind;      // activation kind (activation, gated_activation)
  int32_t pad_;
};
LLMC_ABI_SIZE(EltParams, 40);

struct BiasParams {  // llmc_add_bias: y[r, j] += bias[j]  (after a cuBLASLt GEMM)   grid-stride
  float* y;          // [rows, width]
  const void* bias;  // [width] dtype
  int64_t rows;
  int32_t width;
  int32_t dtype;
};
LLMC_ABI_SIZE(BiasParams, 32);

// ---- rows.cu ---------------------------------------------------------------------------------------------------
enum : int32_t { kSplitMaxOutputs = 8 };
struct SplitParams {   // outs[i][r, :] = x[r, sum(widths[:i]) : + widths[i]]     grid: rows   block: kRowThreads
  const float* x;      // [rows, total]
  float* outs[kSplitMaxOutputs];
  int32_t widths[kSplitMaxOutputs];
  int32_t rows;
  int32_t count;       // 1..kSplitMaxOutputs (the launcher splits longer lists)
  int32_t total;       // row stride of x
  int32_t col0;        // first column of outs[0] in x
};
LLMC_ABI_SIZE(SplitParams, 120);

struct SelectRowsParams {  // out[i, :] = x[row_ids[i], :]                     grid: count  block: kRowThreads
  const float* x;
  const int32_t* row_ids;  // [count]
  float* out;              // [count, width]
  int64_t width;
  int32_t count;
  int32_t pad_;
};
LLMC_ABI_SIZE(SelectRowsParams, 40);

struct CopyParams {  // llmc_copy: dst[i] = src[i] for i < n16 16-byte words (bandwidth measurement)  grid-stride
  const void* src;
  void* dst;
  int64_t n16;
};
LLMC_ABI_SIZE(CopyParams, 24);

// ---- kv_cache.cu / attention -----------------------------------------------------------------------------------
// One layer of the paged KV cache (same layout as the CPU backend, llmc::cpu::PagedKvLayer; the host fills the
// offsets from llmc::cpu::kv_block_layout): block b starts at layer_base + b * block_stride bytes and holds k as
// [num_kv_heads, block_size, head_dim] elements of `dtype`, v at + v_offset, and for i8/f8e4m3 one f32 scale per
// (kv head, position): k scales [num_kv_heads, block_size] at + scale_offset, v scales right after them.
struct KvLayer {
  void* layer_base;
  int64_t block_stride;  // bytes
  int64_t v_offset;      // bytes
  int64_t scale_offset;  // bytes; 0 for unscaled dtypes
  int32_t block_size;
  int32_t num_kv_heads;
  int32_t head_dim;
  int32_t dtype;         // kKv*
};
LLMC_ABI_SIZE(KvLayer, 48);

struct KvWriteParams {          // writes k[r], v[r] at position positions[r] of sequence seq_of_token[r]
  const float* k;               // [rows, num_kv_heads * head_dim]          grid: rows   block: kRowThreads
  const float* v;
  const int32_t* positions;     // [rows]
  const int32_t* seq_of_token;  // [rows]; a negative entry skips the row
  const int32_t* block_tables;  // [num_seqs, max_blocks_per_seq]
  KvLayer kv;
  int32_t rows;
  int32_t max_blocks_per_seq;
};
LLMC_ABI_SIZE(KvWriteParams, 96);

// Prefill attention: one block per (query tile, head). A tile is up to kAttnPrefillRows consecutive tokens of one
// sequence: tiles[4 * i + {0, 1, 2}] = seq, first token row, row count. K/V come from the cache (written first).
// grid: (num_tiles, num_heads)   block: kAttnThreads   dynamic smem: attn_prefill_smem_bytes(HD)
struct AttnPrefillParams {
  const float* q;               // [rows, num_heads * head_dim]
  float* out;                   // [rows, num_heads * head_dim]
  const float* alibi_slopes;    // [num_heads] or null
  const int32_t* positions;     // [rows]
  const int32_t* block_tables;  // [num_seqs, max_blocks_per_seq]
  const int32_t* tiles;         // [num_tiles, 4]
  KvLayer kv;
  int32_t num_tiles;
  int32_t num_heads;
  int32_t num_kv_heads;
  int32_t head_dim;
  int32_t max_blocks_per_seq;
  int32_t sliding_window;       // 0 = none
  float scale;
  int32_t pad_;
};
LLMC_ABI_SIZE(AttnPrefillParams, 128);

// Dynamic shared memory (floats) of the attention kernels for padded head dim hd:
//   prefill: Q [32][hd+4] | K [32][hd+4] | V [32][hd] | P [4 warps][32][8]
//   decode:  Q [8][hd] | K [32][hd+4] | V [32][hd] | P [32][8] | rescale [8] | (m, l) [8][2]
constexpr int attn_prefill_smem_floats(int hd) {
  return kAttnPrefillRows * (hd + 4) + kAttnKeyTile * (hd + 4) + kAttnKeyTile * hd + 4 * kAttnKeyTile * 8;
}
constexpr int attn_decode_smem_floats(int hd) {
  return kAttnDecodeHeads * hd + kAttnKeyTile * (hd + 4) + kAttnKeyTile * hd + kAttnKeyTile * kAttnDecodeHeads +
         kAttnDecodeHeads + 2 * kAttnDecodeHeads;
}

// Decode attention: one query token per listed row (a sequence with exactly one token in the step), split-K over
// the keys: split s of a row covers keys [lo + s * split_size, ...). A block handles up to kAttnDecodeHeads query
// heads of one kv head (the K/V tile is loaded once for the group).
// grid: (num_kv_heads * chunks_per_group, num_rows, max_splits)   block: kAttnThreads   dynamic smem
// Rows with one split write out directly; others write part_o / part_ml and llmc_attn_decode_reduce combines them
// (grid: (num_heads, num_rows), block kReduceThreads). Blocks past a row's split count return at once, so the
// grid depends only on the engine and the batch size (CUDA-graph friendly).
struct AttnDecodeParams {
  const float* q;               // [rows, num_heads * head_dim]
  float* out;                   // [rows, num_heads * head_dim]
  const float* alibi_slopes;    // [num_heads] or null
  const int32_t* positions;     // [rows]
  const int32_t* seq_of_token;  // [rows]
  const int32_t* block_tables;  // [num_seqs, max_blocks_per_seq]
  const int32_t* rows;          // [num_rows] token rows to attend for
  float* part_o;                // [num_rows, num_heads, max_splits, head_dim]
  float* part_ml;               // [num_rows, num_heads, max_splits, 2] (running max, denominator)
  KvLayer kv;
  int32_t num_rows;
  int32_t num_heads;
  int32_t num_kv_heads;
  int32_t head_dim;
  int32_t max_blocks_per_seq;
  int32_t sliding_window;
  float scale;
  int32_t split_size;           // keys per split, a multiple of kAttnKeyTile
  int32_t max_splits;
  int32_t heads_per_block;      // min(group size, kAttnDecodeHeads)
  int32_t chunks_per_group;     // ceil(group size / heads_per_block)
  int32_t pad_;
};
LLMC_ABI_SIZE(AttnDecodeParams, 168);

// ---- linear_gemv.cu / linear_gemm.cu ---------------------------------------------------------------------------
// y[rows, out] = x[rows, in] . w[out, in]^T + bias[out]
// llmc_gemv_<dt>_r<R>: R = rows (1..8), in % (16 / sizeof(dt)) == 0; grid: ceil(out / (4 * kGemvOutPerWarp)),
//   block kGemvThreads. llmc_gemv_generic: any shape and dtype, one warp per output, grid: ceil(out / 4).
struct GemvParams {
  const float* x;     // [rows, in]
  const void* w;      // [out, in] dtype
  const void* bias;   // [out] dtype or null
  float* y;           // [rows, out]
  int32_t rows;
  int32_t in;
  int32_t out;
  int32_t dtype;      // llmc_gemv_generic only
};
LLMC_ABI_SIZE(GemvParams, 48);

// llmc_gemm_<dt>_<BM>x<BN>: tiled SIMT GEMM for rows > 8, f32 accumulation, no TF32.
// grid: (ceil(N / BN), ceil(M / BM), splits)   block kGemmThreads. With splits > 1, split z sums k in
// [z * k_per_split, ...) into workspace[z, M, N] and llmc_gemm_splitk_reduce adds the splits and the bias.
struct GemmParams {
  const float* x;      // [M, K]
  const void* w;       // [N, K] dtype
  const void* bias;    // [N] dtype or null (applied by the last stage)
  float* y;            // [M, N]
  float* workspace;    // [splits, M, N] when splits > 1
  int32_t M;
  int32_t N;
  int32_t K;
  int32_t splits;
  int32_t k_per_split; // multiple of kGemmBK
  int32_t dtype;       // bias dtype (llmc_gemm_splitk_reduce)
};
LLMC_ABI_SIZE(GemmParams, 64);

// ---- linear_quant.cu (op linear_q) -----------------------------------------------------------------------------
// y[rows, out] = x[rows, in] . W^T + bias,  W[o, i] = scales[o, i / group_size] * q[o, i] + offsets[o, i / group_size]
// q: [out, row bytes] codes of qtype (i8: in bytes, f8e4m3: in bytes, u4: ceil(in / 2) bytes, element 2j in the low
// nibble of byte j). perm / input_scale: column i multiplies x[perm[i]] * input_scale[i] (GPTQ act-order, AWQ).
// activation_bits 8 (every step, i8/u4 codes): x' (in qweight's column order, scaled) is quantized per row and group,
// xq = clamp(rint(x' / sx), -127, 127) with sx = xscale[r, g] = max |x'| over the group / 127 (1 when 0); prefill
// multiplies sx * xq in f32, the decode GEMV integer codes by xq in int32 (dp4a), both as the CPU.
// llmc_gemv_q_<i8|u4|f8>_r<R>: R = rows 1..8; in and group_size multiples of the codes in 16 bytes (16 i8/f8, 32 u4),
//   q 16-byte aligned, x too unless perm is set. xscale set (i8/u4, prepare 1 done): int8 activations from workspace.
//   grid: ceil(out / (4 * kGemvOutPerWarp)), block kGemvThreads.
// llmc_gemv_q_generic: any shape and qtype, rows 1..8 (or more), one warp per output, grid: ceil(out / 4), block 128.
// llmc_linear_q_prepare_x: one warp per (row, group), grid ceil(rows * groups / 4), block 128: prepare 0 writes
//   workspace[r, i] = x[r, perm[i]] * input_scale[i] (decode, before the GEMV) when workspace is set, and
//   xscale[r, g] (prefill with activation_bits 8) when xscale is set; prepare 1 / 2: decode with activation_bits 8
//   (see the field).
// llmc_gemm_q_<i8|u4|f8>_<BM>x<BM>: rows > 8, as llmc_gemm_* (splits, k_per_split, workspace; the splits are added
//   by llmc_gemm_splitk_reduce). grid: (ceil(out / BM), ceil(rows / BM), splits), block kGemmThreads.
struct LinearQParams {
  const float* x;        // [rows, in]
  const void* q;         // [out, row bytes] codes
  const float* scales;   // [out, in / group_size]
  const float* offsets;  // [out, in / group_size] or null (zero)
  const int32_t* perm;   // [in] or null (identity)
  const float* input_scale;  // [in] or null (1)
  float* xscale;         // [rows, in / group_size] int8-activation scales (activation_bits 8), or null
  const void* bias;      // [out] bias_dtype or null
  float* y;              // [rows, out]
  float* workspace;      // [splits, rows, out] when splits > 1 (GEMM); prepare_x's output (decode)
  int32_t rows;
  int32_t in;
  int32_t out;
  int32_t group_size;    // divides in
  int32_t qtype;         // kI8 | kU4 | kF8E4M3 (llmc_gemv_q_generic)
  int32_t bias_dtype;    // kF32 | kF16 | kBF16
  int32_t splits;        // GEMM only
  int32_t k_per_split;   // GEMM only: multiple of kGemmBK
  int32_t activation_bits;  // informational: the launcher sets xscale / prepare when 8 applies
  int32_t prepare;       // llmc_linear_q_prepare_x: 0 x[:, perm] * input_scale into workspace (when set) and the
                         // int8 scales into xscale (when set); 1 int8 activations for the decode GEMV: xq (int8
                         // [rows, in], u4: each 8 columns as their 4 even then 4 odd ones) into workspace, the scales
                         // into xscale; 2 x' = sx * xq (f32 [rows, in]) into workspace (generic GEMV)
};
LLMC_ABI_SIZE(LinearQParams, 120);

// ---- sampling.cu -----------------------------------------------------------------------------------------------
// llmc_argmax: ids[r] = argmax(logits[r, :]), lowest id on ties, NaN never wins (all-NaN rows give 0): the CPU
// sampler's greedy rule.   grid: rows   block kSampleThreads
struct ArgmaxParams {
  const float* logits;  // [rows, vocab]
  int32_t* ids;         // [rows]
  int32_t rows;
  int32_t vocab;
};
LLMC_ABI_SIZE(ArgmaxParams, 24);

// Per-row sampling settings for llmc_sample: temperature > 0 (0 = greedy), top_k >= 0 (0 = off), top_p in (0, 1].
// The uniform draw comes from Philox4x32-10 keyed by seed at counter (counter, row... see philox.h).
struct SampleRow {
  float temperature;
  int32_t top_k;
  float top_p;
  int32_t pad_;
  uint64_t seed;
  uint64_t counter;  // e.g. the index of the token being generated: the same (seed, counter) gives the same draw
};
LLMC_ABI_SIZE(SampleRow, 32);

struct SampleParams {            // temperature -> top-k -> top-p -> draw, HF's order; writes only ids
  const float* logits;           // [rows, vocab]
  const SampleRow* settings;     // [rows]
  int32_t* ids;                  // [rows]
  float* scratch;                // [rows, vocab] f32 work space
  int32_t rows;
  int32_t vocab;
};
LLMC_ABI_SIZE(SampleParams, 40);

}  // namespace kabi
}  // namespace llmc

// Every kernel: X(name, params struct). Host and emulator tables are generated from this list.
#define LLMC_CUDA_KERNELS(X)                         \
  X(llmc_abi_v4, AbiParams)                          \
  X(llmc_embedding, EmbeddingParams)                 \
  X(llmc_pos_embedding, PosEmbeddingParams)          \
  X(llmc_rms_norm, NormParams)                       \
  X(llmc_layer_norm, NormParams)                     \
  X(llmc_rope, RopeParams)                           \
  X(llmc_add, EltParams)                             \
  X(llmc_mul, EltParams)                             \
  X(llmc_activation, EltParams)                      \
  X(llmc_gated_activation, EltParams)                \
  X(llmc_add_bias, BiasParams)                       \
  X(llmc_split, SplitParams)                         \
  X(llmc_select_rows, SelectRowsParams)              \
  X(llmc_copy, CopyParams)                           \
  X(llmc_kv_write, KvWriteParams)                    \
  X(llmc_attn_prefill_hd32, AttnPrefillParams)       \
  X(llmc_attn_prefill_hd64, AttnPrefillParams)       \
  X(llmc_attn_prefill_hd128, AttnPrefillParams)      \
  X(llmc_attn_prefill_hd256, AttnPrefillParams)      \
  X(llmc_attn_decode_hd32, AttnDecodeParams)         \
  X(llmc_attn_decode_hd64, AttnDecodeParams)         \
  X(llmc_attn_decode_hd128, AttnDecodeParams)        \
  X(llmc_attn_decode_hd256, AttnDecodeParams)        \
  X(llmc_attn_decode_reduce, AttnDecodeParams)       \
  X(llmc_gemv_f32_r1, GemvParams)                    \
  X(llmc_gemv_f32_r2, GemvParams)                    \
  X(llmc_gemv_f32_r3, GemvParams)                    \
  X(llmc_gemv_f32_r4, GemvParams)                    \
  X(llmc_gemv_f32_r5, GemvParams)                    \
  X(llmc_gemv_f32_r6, GemvParams)                    \
  X(llmc_gemv_f32_r7, GemvParams)                    \
  X(llmc_gemv_f32_r8, GemvParams)                    \
  X(llmc_gemv_f16_r1, GemvParams)                    \
  X(llmc_gemv_f16_r2, GemvParams)                    \
  X(llmc_gemv_f16_r3, GemvParams)                    \
  X(llmc_gemv_f16_r4, GemvParams)                    \
  X(llmc_gemv_f16_r5, GemvParams)                    \
  X(llmc_gemv_f16_r6, GemvParams)                    \
  X(llmc_gemv_f16_r7, GemvParams)                    \
  X(llmc_gemv_f16_r8, GemvParams)                    \
  X(llmc_gemv_bf16_r1, GemvParams)                   \
  X(llmc_gemv_bf16_r2, GemvParams)                   \
  X(llmc_gemv_bf16_r3, GemvParams)                   \
  X(llmc_gemv_bf16_r4, GemvParams)                   \
  X(llmc_gemv_bf16_r5, GemvParams)                   \
  X(llmc_gemv_bf16_r6, GemvParams)                   \
  X(llmc_gemv_bf16_r7, GemvParams)                   \
  X(llmc_gemv_bf16_r8, GemvParams)                   \
  X(llmc_gemv_generic, GemvParams)                   \
  X(llmc_gemm_f32_128x128, GemmParams)               \
  X(llmc_gemm_f16_128x128, GemmParams)               \
  X(llmc_gemm_bf16_128x128, GemmParams)              \
  X(llmc_gemm_f32_64x64, GemmParams)                 \
  X(llmc_gemm_f16_64x64, GemmParams)                 \
  X(llmc_gemm_bf16_64x64, GemmParams)                \
  X(llmc_gemm_splitk_reduce, GemmParams)             \
  X(llmc_gemv_q_i8_r1, LinearQParams)              \
  X(llmc_gemv_q_i8_r2, LinearQParams)              \
  X(llmc_gemv_q_i8_r3, LinearQParams)              \
  X(llmc_gemv_q_i8_r4, LinearQParams)              \
  X(llmc_gemv_q_i8_r5, LinearQParams)              \
  X(llmc_gemv_q_i8_r6, LinearQParams)              \
  X(llmc_gemv_q_i8_r7, LinearQParams)              \
  X(llmc_gemv_q_i8_r8, LinearQParams)              \
  X(llmc_gemv_q_u4_r1, LinearQParams)              \
  X(llmc_gemv_q_u4_r2, LinearQParams)              \
  X(llmc_gemv_q_u4_r3, LinearQParams)              \
  X(llmc_gemv_q_u4_r4, LinearQParams)              \
  X(llmc_gemv_q_u4_r5, LinearQParams)              \
  X(llmc_gemv_q_u4_r6, LinearQParams)              \
  X(llmc_gemv_q_u4_r7, LinearQParams)              \
  X(llmc_gemv_q_u4_r8, LinearQParams)              \
  X(llmc_gemv_q_f8_r1, LinearQParams)              \
  X(llmc_gemv_q_f8_r2, LinearQParams)              \
  X(llmc_gemv_q_f8_r3, LinearQParams)              \
  X(llmc_gemv_q_f8_r4, LinearQParams)              \
  X(llmc_gemv_q_f8_r5, LinearQParams)              \
  X(llmc_gemv_q_f8_r6, LinearQParams)              \
  X(llmc_gemv_q_f8_r7, LinearQParams)              \
  X(llmc_gemv_q_f8_r8, LinearQParams)              \
  X(llmc_gemv_q_generic, LinearQParams)            \
  X(llmc_linear_q_prepare_x, LinearQParams)        \
  X(llmc_gemm_q_i8_128x128, LinearQParams)         \
  X(llmc_gemm_q_u4_128x128, LinearQParams)         \
  X(llmc_gemm_q_f8_128x128, LinearQParams)         \
  X(llmc_gemm_q_i8_64x64, LinearQParams)           \
  X(llmc_gemm_q_u4_64x64, LinearQParams)           \
  X(llmc_gemm_q_f8_64x64, LinearQParams)           \
  X(llmc_argmax, ArgmaxParams)                       \
  X(llmc_sample, SampleParams)
