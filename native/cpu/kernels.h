// CPU kernels: the reference backend. Every kernel has a scalar version (the reference) and SIMD versions chosen
// once at run time (AMX / AVX512-BF16 / AVX-512 / AVX2+FMA+F16C / scalar); native/tests/backend_ops.cpp checks each SIMD version
// against the scalar one. Activations are f32; weights are f32, f16 or bf16 and are widened to f32 in registers
// (fp32 accumulation). All matrices are row-major. No kernel works in place unless it says so.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "kv_dtype.h"
#include "llmc/ops.generated.h"
#include "thread_pool.h"

namespace llmc::cpu {

// Weight dtypes come from the schema (ops.generated.h): f32, f16, bf16 for float weights; i8, u4, f8e4m3 codes
// and i32 indices for the quantized ops.
using DType = ::llmc::DType;
using ::llmc::dtype_from_name;
// Bytes of one element of a dtype of 8 bits or more (u4 packs two per byte: use dtype_matrix_bytes).
size_t dtype_size(DType t);

// Kernel levels, each a superset of the one before (the order matters: kernels test `simd_level() >= Simd::avx512`).
//   avx2:        AVX2 + FMA + F16C
//   avx512:      AVX-512 F/BW/VL/DQ (zmm FMA)
//   avx512_bf16: avx512 + AVX512_BF16 (vdpbf16ps: bf16 pairs into f32 sums)
//   amx:         avx512_bf16 + AMX-TILE/AMX-BF16 (16x16 tile products), OS tile state and the Linux permission
// VNNI, AVX512-FP16 and AMX-INT8 are features, not levels: see cpu_features() (cpu_features.h).
enum class Simd : int32_t { scalar = 0, avx2 = 1, avx512 = 2, avx512_bf16 = 3, amx = 4 };
// Best level this CPU supports, lowered by the environment variable LLMC_SIMD=scalar|avx2|avx512|avx512_bf16|amx
// if set (a higher level than the CPU has is ignored; an unknown name is reported once on stderr and ignored).
Simd simd_level();
// The best level the CPU (and OS) supports, whatever LLMC_SIMD says.
Simd cpu_simd_level();
const char* simd_name(Simd s);
bool simd_from_name(const char* s, Simd* out);
// Tests force a level to compare against the scalar reference (clamped to what the CPU supports).
void set_simd_level(Simd s);

// Which code path each kind of kernel took last (process-wide; the kernels record it on every call, a relaxed
// store of a string literal). `llmc bench` and `llmc inspect --runtime` print it.
enum class KernelOp : int32_t { linear_decode, linear_prefill, norm, rope, attention, elementwise, gather, count };
void note_kernel_path(KernelOp op, const char* path);  // path: a string literal, e.g. "avx512-bf16 gemm"
// {"linear_decode": "avx2 gemv", ..., "simd": "amx", "cpu_features": "avx2 fma ..."}; ops not run yet: null.
std::string kernel_paths_json();
// What each kind of kernel would run now for weights of dtype wt (decode: 1..8 rows, prefill: more), same keys.
std::string planned_kernel_paths_json(DType wt);
// bf16 weights in prefill may round the activations to bf16 and use vdpbf16ps / AMX tiles: off by default,
// LLMC_BF16_ACTIVATIONS=1 turns it on (docs/cpu-kernels.md); tests switch it with set_bf16_activations.
void set_bf16_activations(bool on);
bool bf16_activations();
// The path linear takes for `rows` tokens and weights of dtype wt at the current level.
const char* linear_path_name(int64_t rows, DType wt);

// y[rows, out] = x[rows, in] . w[out, in]^T + bias[out]. bias may be null; it has w's dtype.
// rows is small (1..8) in decode: a GEMV streaming w once; large in prefill: tiled so each weight row is read
// once per tile of tokens. Parallel over output features.
void linear(ThreadPool& pool, const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out,
            const void* bias, float* y);

// A weight-only quantized weight (op linear_q): W[o, i] = scales[o, i / group_size] * q[o, i] + offsets[...].
struct QuantWeight {
  const void* q = nullptr;          // [out, in] codes: i8, u4 (two per byte, low nibble first), f8e4m3
  DType qt = DType::i8;
  const float* scales = nullptr;    // [out, in / group_size]
  const float* offsets = nullptr;   // [out, in / group_size], or null (all zero)
  const int32_t* perm = nullptr;    // [in]: column i multiplies x[perm[i]]; null = identity
  const float* input_scale = nullptr;  // [in]: column i multiplies x[perm[i]] * input_scale[i] (AWQ); null = 1
  int64_t group_size = 0;           // divides in; even for u4
  int32_t activation_bits = 0;      // 8: prefill quantizes x to int8 per row and group (linear_q_act8 below)
};

// y[rows, out] = x[rows, in] . W^T + bias[out] (bias of float dtype bt, may be null). The codes are widened in
// registers (never a dequantized copy of W in memory); f32 accumulation. Parallel over output features.
void linear_q(ThreadPool& pool, const float* x, int64_t rows, int64_t in, const QuantWeight& w, int64_t out,
              const void* bias, DType bt, float* y);

// y[rows, width] = table[ids[r]] * scale.
void embedding(ThreadPool& pool, const int32_t* ids, int64_t rows, const void* table, DType tt, int64_t width,
               float scale, float* y);

// y[r] = x[r] + table[positions[r] + offset].
void pos_embedding(ThreadPool& pool, const float* x, const int32_t* positions, int64_t rows, const void* table,
                   DType tt, int64_t width, int32_t offset, float* y);

// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * (w + weight_offset). Sums in f32 (double not needed at these widths).
void rms_norm(ThreadPool& pool, const float* x, int64_t rows, int64_t width, const void* w, DType wt, float eps,
              float weight_offset, float* y);

// y[r] = (x[r] - mean) / sqrt(var + eps) * w + b (biased variance). b may be null; it has w's dtype.
void layer_norm(ThreadPool& pool, const float* x, int64_t rows, int64_t width, const void* w, DType wt,
                const void* b, float eps, float* y);

// Rotary embedding of x[rows, num_heads*head_dim] (copied to y; elements past rotary_dim pass through).
// neox: element i pairs with i + rotary_dim/2; gptj: 2i with 2i+1. Pair i rotates by positions[r] * inv_freq[i]:
//   (a, b) -> (a cos - b sin, b cos + a sin). Angles are computed in f32 as HF does (pos * inv_freq in f32).
void rope(ThreadPool& pool, const float* x, int64_t rows, const int32_t* positions, int32_t num_heads,
          int32_t head_dim, int32_t rotary_dim, const float* inv_freq, RopeStyle style, float* y);

// Residual add fused with the norm after it: sum[r] = a[r] + b[r] (written), y[r] = norm(sum[r]). Row by row, so
// the norm reads a sum row from L1 just after writing it. Same results as add followed by the unfused norm.
void add_rms_norm(ThreadPool& pool, const float* a, const float* b, int64_t rows, int64_t width, const void* w, DType wt,
                  float eps, float weight_offset, float* sum, float* y);
void add_layer_norm(ThreadPool& pool, const float* a, const float* b, int64_t rows, int64_t width, const void* w,
                    DType wt, const void* bias, float eps, float* sum, float* y);

// linear followed by an element-wise activation, applied by each thread to the outputs it has just computed:
// y = act(x . w^T + bias).
void linear_act(ThreadPool& pool, const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out,
                const void* bias, ActivationKind kind, float* y);

// linear with rope in the epilogue: y = x . w^T + bias, then heads [0, num_heads) of each row of y (columns
// [0, num_heads*head_dim): q's heads then k's of a fused qkv projection) rotate as rope does, by positions[r]
// (same pairing, cos/sin and arithmetic: the same results as linear then rope, at every level). Each thread
// rotates the whole heads of the block of outputs it has just computed.
void linear_rope(ThreadPool& pool, const float* x, int64_t rows, int64_t in, const void* w, DType wt, int64_t out,
                 const void* bias, const int32_t* positions, int32_t num_heads, int32_t head_dim, int32_t rotary_dim,
                 const float* inv_freq, RopeStyle style, float* y);

// y[i] = act(x[i]) for i < n on the calling thread (the epilogue of linear_act). y may be x.
void activation_span(const float* x, int64_t n, ActivationKind kind, float* y);

void add(ThreadPool& pool, const float* a, const float* b, int64_t n, float* y);
void mul(ThreadPool& pool, const float* a, const float* b, int64_t n, float* y);
void activation(ThreadPool& pool, const float* x, int64_t n, ActivationKind kind, float* y);
// y = act(gate) * up
void gated_activation(ThreadPool& pool, const float* gate, const float* up, int64_t n, ActivationKind kind, float* y);

// Copies column blocks of x[rows, sum(widths)] into outs[i][rows, widths[i]].
void split(ThreadPool& pool, const float* x, int64_t rows, const int32_t* widths, int32_t count, float* const* outs);

// y[i] = x[row_ids[i]] for i < count.
void select_rows(const float* x, int64_t width, const int32_t* row_ids, int64_t count, float* y);

// Paged KV cache of one layer: blocks of block_size tokens, each laid out as kv_dtype.h's kv_block_layout says
// (k [num_kv_heads, block_size, head_dim] of the storage dtype, v at v_offset, per-row f32 scales for i8/f8e4m3).
// Block b of this layer starts at layer_base + b * block_stride bytes.
struct PagedKvLayer {
  uint8_t* layer_base;
  int64_t block_stride;   // bytes (kv_block_layout(...).block_bytes)
  int32_t block_size;
  int32_t num_kv_heads;
  int32_t head_dim;
  KvDType dtype = KvDType::f32;
};

// One step's tokens: token r belongs to sequence seq_of_token[r] and sits at positions[r].
// block_tables + seq * max_blocks_per_seq lists that sequence's physical blocks in order.
struct AttentionArgs {
  const float* q;  // [rows, num_heads*head_dim]
  const float* k;  // [rows, num_kv_heads*head_dim]
  const float* v;  // [rows, num_kv_heads*head_dim]
  int64_t rows;
  const int32_t* positions;
  const int32_t* seq_of_token;
  const int32_t* block_tables;
  int32_t max_blocks_per_seq;
  PagedKvLayer kv;
  int32_t num_heads;
  int32_t num_kv_heads;
  int32_t head_dim;
  float scale;
  int32_t sliding_window;      // 0 = none; else keys j with pos - window < j <= pos
  const float* alibi_slopes;   // null = none; else score += slopes[h] * key_position
  float* out;                  // [rows, num_heads*head_dim]
};

// Writes every token's k and v into the cache at its position, then computes causal attention for every token
// over its own sequence's keys (those at positions <= its own: tokens of the same step included). Online softmax
// in f32; K/V rows of a 16-bit or quantized cache are widened to f32 one block run at a time.
void attention(ThreadPool& pool, const AttentionArgs& args);

// Streams a large buffer with all pool threads and returns GB/s (1e9 bytes / s) of reads.
double measure_read_bandwidth(ThreadPool& pool, double seconds);

}  // namespace llmc::cpu
