// Host launchers: one function per op family that picks the kernel variant and computes grid, block and shared
// memory (kernels/*.cu hold the device code, kernels/kernel_abi.h the parameter structs). Used by the CUDA backend
// and by native/tests/cuda_backend_ops.cpp. All pointers are device pointers; `rows` may be 0 (nothing launched).
#pragma once
#include <cstdint>

#include "cublaslt.h"
#include "device.h"

namespace llmc::cuda::ops {

// Kernel set-up that depends on the device: raises the attention kernels' shared-memory limits. Call once after
// Device::load_kernels. Throws UNSUPPORTED when head_dim needs more shared memory than the GPU has.
void configure(Device& dev, int max_head_dim);

// Largest head_dim the attention kernels take.
constexpr int kMaxHeadDim = 256;

void embedding(Device& dev, const int32_t* ids, int rows, const void* table, int dtype, int64_t width, float scale,
               float* out);
void pos_embedding(Device& dev, const float* x, const int32_t* positions, int rows, const void* table, int dtype,
                   int64_t width, int32_t offset, float* out);
void rms_norm(Device& dev, const float* x, int rows, int64_t width, const void* w, int dtype, float eps, float offset,
              float* out);
void layer_norm(Device& dev, const float* x, int rows, int64_t width, const void* w, int dtype, const void* b, float eps,
                float* out);
// ld: row stride of x and out (0: num_heads * head_dim); linear_rope passes its out width with x == out.
void rope(Device& dev, const float* x, int rows, const int32_t* positions, int num_heads, int head_dim, int rotary_dim,
          const float* inv_freq, int style, float* out, int64_t ld = 0);
void add(Device& dev, const float* a, const float* b, int64_t n, float* out);
void mul(Device& dev, const float* a, const float* b, int64_t n, float* out);
void activation(Device& dev, const float* x, int64_t n, int kind, float* out);
void gated_activation(Device& dev, const float* gate, const float* up, int64_t n, int kind, float* out);
void split(Device& dev, const float* x, int rows, const int32_t* widths, int count, float* const* outs);
void select_rows(Device& dev, const float* x, int64_t width, const int32_t* row_ids, int count, float* out);
void copy(Device& dev, const void* src, void* dst, int64_t bytes);  // bytes % 16 == 0

// linear: y[rows, out] = x[rows, in] . w[out, in]^T + bias.
//   rows <= 8: GEMV (vectorised when in and the pointers allow, else the generic kernel);
//   rows > 8:  cuBLASLt for f32 weights when available and not capturing, else the tiled GEMM, with split-K when
//              the output has fewer tiles than the GPU has multiprocessors (workspace permitting).
struct LinearContext {
  CublasLt* lt = nullptr;           // optional
  float* workspace = nullptr;       // split-K partial sums
  int64_t workspace_floats = 0;
  int cublaslt_min_rows = 128;      // below this the own GEMM (with split-K) is used even for f32
};
void linear(Device& dev, const LinearContext& ctx, const float* x, int rows, int in, const void* w, int dtype, int out,
            const void* bias, float* y);

// linear_q: y[rows, out] = x[rows, in] . W^T + bias, W[o, i] = scales[o, i / group_size] * q[o, i] + offsets[...]
// (op linear_q, kernels/linear_quant.cu). rows <= 8: the dequant-fused GEMV when in, group_size and the pointers
// allow 16-byte code vectors (with perm / input_scale on x prepared in ctx.workspace), else the generic kernel;
// rows > 8: the dequantizing tiled GEMM, split-K as linear (activation_bits 8: int8 scales at the workspace's start).
// activation_bits 8 (i8/u4 codes) quantizes x per row and group in every step as the CPU does: decode puts xq and
// its scales (or x' for the generic kernel) into ctx.workspace, which must hold rows x in floats.
struct QuantWeight {
  const void* q = nullptr;          // [out, row bytes] codes (u4: ceil(in / 2) bytes per row)
  int qtype = 0;                    // llmc::DType: i8, u4 or f8e4m3
  const float* scales = nullptr;    // [out, in / group_size]
  const float* offsets = nullptr;   // or null
  const int32_t* perm = nullptr;    // [in] or null
  const float* input_scale = nullptr;  // [in] or null: column i multiplies x[perm[i]] * input_scale[i] (AWQ)
  int group_size = 0;               // divides in
  int activation_bits = 0;          // 8 (i8/u4 codes): x quantized to int8 per row and group, decode and prefill
};
void linear_q(Device& dev, const LinearContext& ctx, const float* x, int rows, int in, const QuantWeight& w, int out,
              const void* bias, int bias_dtype, float* y);
// Which kernel linear_q launches for these arguments (tests and --perf name the path they measure). Decode with perm
// gathers x into ctx.workspace first when it holds rows x in floats.
const char* linear_q_kernel(const LinearContext& ctx, const float* x, int rows, int in, const QuantWeight& w);

// The step's layout on the device, shared by every attention node.
struct StepArrays {
  const int32_t* positions = nullptr;     // [T]
  const int32_t* seq_of_token = nullptr;  // [T]
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq]
  int32_t max_blocks_per_seq = 0;
  const int32_t* decode_rows = nullptr;   // [num_decode_rows] tokens of sequences with one token in the step
  int32_t num_decode_rows = 0;
  const int32_t* tiles = nullptr;         // [num_tiles, 4] prefill query tiles (seq, first row, count, 0)
  int32_t num_tiles = 0;
};

struct DecodeSplits {
  int32_t split_size = 256;  // keys per split (multiple of 32)
  int32_t max_splits = 1;    // ceil(max_seq_len / split_size)
  float* part_o = nullptr;   // [max rows, num_heads, max_splits, head_dim]
  float* part_ml = nullptr;  // [max rows, num_heads, max_splits, 2]
};

struct AttentionCall {
  const float* q;
  const float* k;
  const float* v;
  float* out;
  int rows;                   // T
  llmc::kabi::KvLayer kv;
  int num_heads, num_kv_heads, head_dim;
  float scale;
  int sliding_window;
  const float* alibi_slopes;  // or null
};

// Writes the step's k/v into the cache, then decode attention for decode rows (split-K + merge) and prefill
// attention for the tiles.
void attention(Device& dev, const AttentionCall& a, const StepArrays& s, const DecodeSplits& d);

// Sampling on device: ids[r] for each logits row.
void argmax(Device& dev, const float* logits, int rows, int vocab, int32_t* ids);
void sample(Device& dev, const float* logits, int rows, int vocab, const llmc::kabi::SampleRow* settings, float* scratch,
            int32_t* ids);

// Prefill tiles for a step: for each sequence with >= 2 tokens (contiguous, ascending positions), tiles of up to
// kAttnPrefillRows rows, longest-running (latest positions) first. Sequences with one token go to decode_rows.
// Writes into the caller's arrays (capacity: tiles 4 * (T / 32 + num_seqs), decode_rows T).
void plan_attention(const int32_t* seq_of_token, const int32_t* positions, int num_tokens, int32_t* tiles,
                    int32_t* num_tiles, int32_t* decode_rows, int32_t* num_decode_rows);

}  // namespace llmc::cuda::ops
