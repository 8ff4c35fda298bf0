#include "launch.h"

#include <algorithm>
#include <vector>

#include "../runtime/errors.h"
#include "llmc/ops.generated.h"

namespace llmc::cuda::ops {

using namespace llmc::kabi;
using runtime::fail;

namespace {

template <class T>
T ceil_div(T a, T b) {
  return (a + b - 1) / b;
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Blocks for a grid-stride element-wise kernel: enough to fill the GPU, no more than the work needs.
unsigned elt_blocks(const Device& dev, int64_t n, int64_t per_thread = 4) {
  const int64_t need = ceil_div<int64_t>(std::max<int64_t>(n, 1), int64_t(kEltThreads) * per_thread);
  return unsigned(std::min<int64_t>(need, int64_t(std::max(dev.info().sms, 1)) * 16));
}

// Attention kernels come in padded head dims 32, 64, 128, 256.
int hd_variant(int head_dim) {
  if (head_dim <= 32) return 32;
  if (head_dim <= 64) return 64;
  if (head_dim <= 128) return 128;
  return 256;
}

K prefill_kernel(int hdv) {
  switch (hdv) {
    case 32: return K::llmc_attn_prefill_hd32;
    case 64: return K::llmc_attn_prefill_hd64;
    case 128: return K::llmc_attn_prefill_hd128;
    default: return K::llmc_attn_prefill_hd256;
  }
}

K decode_kernel(int hdv) {
  switch (hdv) {
    case 32: return K::llmc_attn_decode_hd32;
    case 64: return K::llmc_attn_decode_hd64;
    case 128: return K::llmc_attn_decode_hd128;
    default: return K::llmc_attn_decode_hd256;
  }
}

int weight_elems_per_16b(int dtype) { return dtype == kF32 ? 4 : 8; }

static_assert(kF32 == int(llmc::DType::f32) && kF16 == int(llmc::DType::f16) && kBF16 == int(llmc::DType::bf16) &&
                  kI8 == int(llmc::DType::i8) && kU4 == int(llmc::DType::u4) && kF8E4M3 == int(llmc::DType::f8e4m3),
              "kernel_abi.h dtype codes must be llmc::DType's");

// Split-K for a GEMM of rows x out x in with BM x BM tiles: splits while the output has fewer tiles than the GPU has
// multiprocessors (and the workspace holds the partials); k_per_split a multiple of kGemmBK.
void gemm_splits(const Device& dev, const LinearContext& ctx, int rows, int in, int out, int tile, int* splits,
                 int* k_per_split) {
  const int64_t tiles = int64_t(ceil_div(out, tile)) * ceil_div(rows, tile);
  const int sms = std::max(dev.info().sms, 1);
  int n = 1;
  if (tiles < sms && in >= 512 && ctx.workspace != nullptr) {
    n = int(std::min<int64_t>({ceil_div<int64_t>(2 * sms, tiles), in / 256, 16}));
    while (n > 1 && int64_t(n) * rows * out > ctx.workspace_floats) --n;
  }
  *k_per_split = ceil_div(ceil_div(in, n), int(kGemmBK)) * int(kGemmBK);
  *splits = ceil_div(in, *k_per_split);
}

// Codes in one 16-byte vector of a quantized weight row.
int codes_per_16b(int qtype) { return qtype == kU4 ? 32 : 16; }

bool linear_q_fast_gemv(const float* x, int in, const QuantWeight& w) {
  const int c = codes_per_16b(w.qtype);
  return in % c == 0 && w.group_size % c == 0 && aligned16(w.q) && (w.perm != nullptr || aligned16(x));
}

int qtype_index(int qtype) {  // kernel families are listed i8, u4, f8
  switch (qtype) {
    case kI8: return 0;
    case kU4: return 1;
    case kF8E4M3: return 2;
    default:
      fail(LLMC_ERR_INTERNAL, "linear_q: weight dtype " + std::to_string(qtype) + " is not a quantized code (i8, u4, f8e4m3)");
  }
}

}  // namespace

void configure(Device& dev, int max_head_dim) {
  if (max_head_dim > kMaxHeadDim) {
    fail(LLMC_ERR_UNSUPPORTED, "the CUDA backend's attention kernels take head_dim up to " + std::to_string(kMaxHeadDim) +
                                   ", this engine has " + std::to_string(max_head_dim) + "; use --backend cpu");
  }
  for (int hdv : {32, 64, 128, 256}) {
    if (hdv > hd_variant(std::max(max_head_dim, 1))) break;
    dev.set_max_dynamic_smem(prefill_kernel(hdv), attn_prefill_smem_floats(hdv) * 4, "prefill attention, head_dim " + std::to_string(hdv));
    dev.set_max_dynamic_smem(decode_kernel(hdv), attn_decode_smem_floats(hdv) * 4, "decode attention, head_dim " + std::to_string(hdv));
  }
}

void embedding(Device& dev, const int32_t* ids, int rows, const void* table, int dtype, int64_t width, float scale,
               float* out) {
  if (rows <= 0) return;
  dev.launch<K::llmc_embedding>({unsigned(rows)}, kRowThreads, 0, EmbeddingParams{table, ids, out, width, rows, dtype, scale, 0});
}

void pos_embedding(Device& dev, const float* x, const int32_t* positions, int rows, const void* table, int dtype,
                   int64_t width, int32_t offset, float* out) {
  if (rows <= 0) return;
  dev.launch<K::llmc_pos_embedding>({unsigned(rows)}, kRowThreads, 0,
                                    PosEmbeddingParams{x, table, positions, out, width, rows, dtype, offset, 0});
}

void rms_norm(Device& dev, const float* x, int rows, int64_t width, const void* w, int dtype, float eps, float offset,
              float* out) {
  if (rows <= 0) return;
  dev.launch<K::llmc_rms_norm>({unsigned(rows)}, kRowThreads, 0, NormParams{x, w, nullptr, out, width, rows, dtype, eps, offset});
}

void layer_norm(Device& dev, const float* x, int rows, int64_t width, const void* w, int dtype, const void* b, float eps,
                float* out) {
  if (rows <= 0) return;
  dev.launch<K::llmc_layer_norm>({unsigned(rows)}, kRowThreads, 0, NormParams{x, w, b, out, width, rows, dtype, eps, 0.0f});
}

void rope(Device& dev, const float* x, int rows, const int32_t* positions, int num_heads, int head_dim, int rotary_dim,
          const float* inv_freq, int style, float* out, int64_t ld) {
  if (rows <= 0) return;
  if (rotary_dim > 512 || rotary_dim % 2 != 0 || rotary_dim > head_dim) {
    fail(LLMC_ERR_UNSUPPORTED, "rope: rotary_dim " + std::to_string(rotary_dim) + " (head_dim " + std::to_string(head_dim) +
                                   ") is outside what the CUDA kernel takes (even, <= head_dim, <= 512)");
  }
  dev.launch<K::llmc_rope>({unsigned(rows)}, kRowThreads, 0,
                           RopeParams{x, inv_freq, positions, out, rows, num_heads, head_dim, rotary_dim, style, int32_t(ld)});
}

void add(Device& dev, const float* a, const float* b, int64_t n, float* out) {
  if (n <= 0) return;
  dev.launch<K::llmc_add>({elt_blocks(dev, n)}, kEltThreads, 0, EltParams{a, b, out, n, 0, 0});
}

void mul(Device& dev, const float* a, const float* b, int64_t n, float* out) {
  if (n <= 0) return;
  dev.launch<K::llmc_mul>({elt_blocks(dev, n)}, kEltThreads, 0, EltParams{a, b, out, n, 0, 0});
}

void activation(Device& dev, const float* x, int64_t n, int kind, float* out) {
  if (n <= 0) return;
  dev.launch<K::llmc_activation>({elt_blocks(dev, n)}, kEltThreads, 0, EltParams{x, nullptr, out, n, kind, 0});
}

void gated_activation(Device& dev, const float* gate, const float* up, int64_t n, int kind, float* out) {
  if (n <= 0) return;
  dev.launch<K::llmc_gated_activation>({elt_blocks(dev, n)}, kEltThreads, 0, EltParams{gate, up, out, n, kind, 0});
}

void split(Device& dev, const float* x, int rows, const int32_t* widths, int count, float* const* outs) {
  if (rows <= 0) return;
  int total = 0;
  for (int i = 0; i < count; ++i) total += widths[i];
  int col = 0;
  for (int first = 0; first < count; first += kSplitMaxOutputs) {
    SplitParams p{};
    p.x = x;
    p.rows = rows;
    p.count = std::min<int>(kSplitMaxOutputs, count - first);
    p.total = total;
    p.col0 = col;
    for (int i = 0; i < p.count; ++i) {
      p.outs[i] = outs[first + i];
      p.widths[i] = widths[first + i];
      col += widths[first + i];
    }
    dev.launch<K::llmc_split>({unsigned(rows)}, kRowThreads, 0, p);
  }
}

void select_rows(Device& dev, const float* x, int64_t width, const int32_t* row_ids, int count, float* out) {
  if (count <= 0) return;
  dev.launch<K::llmc_select_rows>({unsigned(count)}, kRowThreads, 0, SelectRowsParams{x, row_ids, out, width, count, 0});
}

void copy(Device& dev, const void* src, void* dst, int64_t bytes) {
  const int64_t n16 = bytes / 16;
  if (n16 <= 0) return;
  dev.launch<K::llmc_copy>({elt_blocks(dev, n16, 8)}, kEltThreads, 0, CopyParams{src, dst, n16});
}

void linear(Device& dev, const LinearContext& ctx, const float* x, int rows, int in, const void* w, int dtype, int out,
            const void* bias, float* y) {
  if (rows <= 0 || out <= 0) return;
  GemvParams gp{x, w, bias, y, rows, in, out, dtype};
  if (rows <= kGemvMaxRows) {
    if (in % weight_elems_per_16b(dtype) == 0 && aligned16(x) && aligned16(w)) {
      const K k = K(int(K::llmc_gemv_f32_r1) + dtype * kGemvMaxRows + (rows - 1));
      dev.launch_any(k, {unsigned(ceil_div(out, kGemvOutPerWarp * (kGemvThreads / 32)))}, kGemvThreads, 0, gp);
    } else {
      dev.launch<K::llmc_gemv_generic>({unsigned(ceil_div(out, 4))}, 128, 0, gp);
    }
    return;
  }
  if (ctx.lt != nullptr && dtype == kF32 && rows >= ctx.cublaslt_min_rows && !dev.capturing()) {
    if (ctx.lt->sgemm_xwT(rows, out, in, x, static_cast<const float*>(w), y)) {
      if (bias != nullptr) {
        dev.launch<K::llmc_add_bias>({elt_blocks(dev, int64_t(rows) * out)}, kEltThreads, 0,
                                     BiasParams{y, bias, int64_t(rows), out, dtype});
      }
      return;
    }
  }
  const int tile = rows >= 128 ? 128 : 64;
  int splits = 1, k_per_split = 0;
  gemm_splits(dev, ctx, rows, in, out, tile, &splits, &k_per_split);
  GemmParams p{x, w, bias, y, ctx.workspace, rows, out, in, splits, k_per_split, dtype};
  const K k = K(int(tile == 128 ? K::llmc_gemm_f32_128x128 : K::llmc_gemm_f32_64x64) + dtype);
  dev.launch_any(k, {unsigned(ceil_div(out, tile)), unsigned(ceil_div(rows, tile)), unsigned(splits)}, kGemmThreads, 0, p);
  if (splits > 1) {
    dev.launch<K::llmc_gemm_splitk_reduce>({elt_blocks(dev, int64_t(rows) * out, 1)}, kEltThreads, 0, p);
  }
}

// Decode with perm or input_scale: x[:, perm] * input_scale goes to the workspace first (when it has room).
static bool linear_q_prepare_first(const LinearContext& ctx, int rows, int in, const QuantWeight& w) {
  return (w.perm != nullptr || w.input_scale != nullptr) && ctx.workspace != nullptr && int64_t(rows) * in <= ctx.workspace_floats;
}

// int8 activations (activation_bits 8, i8/u4 codes) apply to every step, decode and prefill, as on the CPU.
static bool linear_q_act8(const QuantWeight& w) { return w.activation_bits == 8 && (w.qtype == kI8 || w.qtype == kU4); }

// Decode with int8 activations: the integer GEMV reads xq, never x, so only the codes' shape and alignment matter.
static bool linear_q_act8_fast(int in, const QuantWeight& w) {
  const int c = codes_per_16b(w.qtype);
  return in % c == 0 && w.group_size % c == 0 && aligned16(w.q);
}

const char* linear_q_kernel(const LinearContext& ctx, const float* x, int rows, int in, const QuantWeight& w) {
  if (rows > kGemvMaxRows) return linear_q_act8(w) ? "tiled GEMM, int8 activations" : "tiled GEMM";
  if (linear_q_act8(w)) return linear_q_act8_fast(in, w) ? "GEMV, int8 activations" : "generic GEMV, int8 activations";
  const bool fast = linear_q_fast_gemv(x, in, w);
  if (fast && linear_q_prepare_first(ctx, rows, in, w)) return "GEMV on prepared x";
  if (fast && w.input_scale == nullptr) return w.perm != nullptr ? "GEMV gathering x" : "GEMV";
  return "generic GEMV";
}

void linear_q(Device& dev, const LinearContext& ctx, const float* x, int rows, int in, const QuantWeight& w, int out,
              const void* bias, int bias_dtype, float* y) {
  if (rows <= 0 || out <= 0) return;
  const int qi = qtype_index(w.qtype);
  if (w.group_size <= 0 || in % w.group_size != 0) {
    fail(LLMC_ERR_INTERNAL, "linear_q: group_size " + std::to_string(w.group_size) + " does not divide in " + std::to_string(in));
  }
  const int64_t groups = in / w.group_size;
  LinearQParams p{x, w.q, w.scales, w.offsets, w.perm, w.input_scale, nullptr, bias, y, ctx.workspace, rows, in, out,
                  w.group_size, w.qtype, bias_dtype, 1, in, w.activation_bits, 0};
  const unsigned prep_blocks = unsigned(ceil_div<int64_t>(int64_t(rows) * groups, 4));  // a warp per (row, group)
  if (rows <= kGemvMaxRows && linear_q_act8(w)) {
    // llmc_linear_q_prepare_x quantizes x (perm and input_scale applied) into the workspace: xq as int8 [rows, in]
    // (rounded up to 256 bytes) and the scales [rows, groups] for the integer GEMV (prepare 1), or x' = sx * xq as
    // f32 [rows, in] for the generic kernel (prepare 2).
    const bool fast = linear_q_act8_fast(in, w);
    const int64_t xq_floats = (int64_t(rows) * in + 255) / 256 * 64;
    const int64_t need = fast ? xq_floats + int64_t(rows) * groups : int64_t(rows) * in;
    if (ctx.workspace == nullptr || need > ctx.workspace_floats) {
      fail(LLMC_ERR_LIMIT, "linear_q with int8 activations needs " + std::to_string(need) + " floats of workspace for " +
                               std::to_string(rows) + " decode rows, the CUDA backend has " + std::to_string(ctx.workspace_floats) +
                               "; rebuild without --int8-activations");
    }
    p.workspace = ctx.workspace;
    p.xscale = fast ? ctx.workspace + xq_floats : nullptr;
    p.prepare = fast ? 1 : 2;
    dev.launch<K::llmc_linear_q_prepare_x>({prep_blocks}, 128, 0, p);
    p.perm = nullptr;
    p.input_scale = nullptr;
    if (fast) {
      const K k = K(int(K::llmc_gemv_q_i8_r1) + qi * kGemvMaxRows + (rows - 1));
      dev.launch_any(k, {unsigned(ceil_div(out, kGemvOutPerWarp * (kGemvThreads / 32)))}, kGemvThreads, 0, p);
    } else {
      p.x = ctx.workspace;
      dev.launch<K::llmc_gemv_q_generic>({unsigned(ceil_div(out, 4))}, 128, 0, p);
    }
    return;
  }
  if (rows <= kGemvMaxRows) {
    const bool fast = linear_q_fast_gemv(x, in, w);
    if (fast && linear_q_prepare_first(ctx, rows, in, w)) {  // x[:, perm] * input_scale once, then vector loads
      dev.launch<K::llmc_linear_q_prepare_x>({prep_blocks}, 128, 0, p);
      p.x = ctx.workspace;
      p.perm = nullptr;
      p.input_scale = nullptr;
    }
    if (fast && p.input_scale == nullptr) {
      const K k = K(int(K::llmc_gemv_q_i8_r1) + qi * kGemvMaxRows + (rows - 1));
      dev.launch_any(k, {unsigned(ceil_div(out, kGemvOutPerWarp * (kGemvThreads / 32)))}, kGemvThreads, 0, p);
    } else {
      dev.launch<K::llmc_gemv_q_generic>({unsigned(ceil_div(out, 4))}, 128, 0, p);
    }
    return;
  }
  LinearContext split = ctx;  // what is left of the workspace for split-K partials
  if (linear_q_act8(w)) {
    const int64_t n = (int64_t(rows) * groups + 63) / 64 * 64;
    if (ctx.workspace == nullptr || n > ctx.workspace_floats) {
      fail(LLMC_ERR_LIMIT, "linear_q with int8 activations needs " + std::to_string(n) + " floats of GEMM workspace for " +
                               std::to_string(rows) + " rows, the CUDA backend has " + std::to_string(ctx.workspace_floats) +
                               "; rebuild with a smaller --max-num-tokens");
    }
    p.xscale = ctx.workspace;
    p.workspace = nullptr;
    dev.launch<K::llmc_linear_q_prepare_x>({prep_blocks}, 128, 0, p);
    split.workspace = ctx.workspace + n;
    split.workspace_floats = ctx.workspace_floats - n;
    p.workspace = split.workspace_floats > 0 ? split.workspace : nullptr;
    if (p.workspace == nullptr) split.workspace = nullptr;
  }
  const int tile = rows >= 128 ? 128 : 64;
  gemm_splits(dev, split, rows, in, out, tile, &p.splits, &p.k_per_split);
  const K k = K(int(tile == 128 ? K::llmc_gemm_q_i8_128x128 : K::llmc_gemm_q_i8_64x64) + qi);
  dev.launch_any(k, {unsigned(ceil_div(out, tile)), unsigned(ceil_div(rows, tile)), unsigned(p.splits)}, kGemmThreads, 0, p);
  if (p.splits > 1) {
    const GemmParams r{nullptr, nullptr, bias, y, p.workspace, rows, out, in, p.splits, p.k_per_split, bias_dtype};
    dev.launch<K::llmc_gemm_splitk_reduce>({elt_blocks(dev, int64_t(rows) * out, 1)}, kEltThreads, 0, r);
  }
}

void attention(Device& dev, const AttentionCall& a, const StepArrays& s, const DecodeSplits& d) {
  if (a.rows <= 0) return;
  dev.launch<K::llmc_kv_write>({unsigned(a.rows)}, kRowThreads, 0,
                               KvWriteParams{a.k, a.v, s.positions, s.seq_of_token, s.block_tables, a.kv, a.rows,
                                             s.max_blocks_per_seq});
  const int hdv = hd_variant(a.head_dim);
  if (s.num_decode_rows > 0) {
    const int group = a.num_heads / a.num_kv_heads;
    const int per_block = std::min(group, int(kAttnDecodeHeads));
    const int chunks = ceil_div(group, per_block);
    AttnDecodeParams p{};
    p.q = a.q;
    p.out = a.out;
    p.alibi_slopes = a.alibi_slopes;
    p.positions = s.positions;
    p.seq_of_token = s.seq_of_token;
    p.block_tables = s.block_tables;
    p.rows = s.decode_rows;
    p.part_o = d.part_o;
    p.part_ml = d.part_ml;
    p.kv = a.kv;
    p.num_rows = s.num_decode_rows;
    p.num_heads = a.num_heads;
    p.num_kv_heads = a.num_kv_heads;
    p.head_dim = a.head_dim;
    p.max_blocks_per_seq = s.max_blocks_per_seq;
    p.sliding_window = a.sliding_window;
    p.scale = a.scale;
    p.split_size = d.split_size;
    p.max_splits = d.max_splits;
    p.heads_per_block = per_block;
    p.chunks_per_group = chunks;
    dev.launch_any(decode_kernel(hdv), {unsigned(a.num_kv_heads * chunks), unsigned(s.num_decode_rows), unsigned(d.max_splits)},
                   kAttnThreads, unsigned(attn_decode_smem_floats(hdv) * 4), p);
    if (d.max_splits > 1) {
      dev.launch<K::llmc_attn_decode_reduce>({unsigned(a.num_heads), unsigned(s.num_decode_rows)}, kReduceThreads, 0, p);
    }
  }
  if (s.num_tiles > 0) {
    AttnPrefillParams p{};
    p.q = a.q;
    p.out = a.out;
    p.alibi_slopes = a.alibi_slopes;
    p.positions = s.positions;
    p.block_tables = s.block_tables;
    p.tiles = s.tiles;
    p.kv = a.kv;
    p.num_tiles = s.num_tiles;
    p.num_heads = a.num_heads;
    p.num_kv_heads = a.num_kv_heads;
    p.head_dim = a.head_dim;
    p.max_blocks_per_seq = s.max_blocks_per_seq;
    p.sliding_window = a.sliding_window;
    p.scale = a.scale;
    dev.launch_any(prefill_kernel(hdv), {unsigned(s.num_tiles), unsigned(a.num_heads)}, kAttnThreads,
                   unsigned(attn_prefill_smem_floats(hdv) * 4), p);
  }
}

void argmax(Device& dev, const float* logits, int rows, int vocab, int32_t* ids) {
  if (rows <= 0) return;
  dev.launch<K::llmc_argmax>({unsigned(rows)}, kSampleThreads, 0, ArgmaxParams{logits, ids, rows, vocab});
}

void sample(Device& dev, const float* logits, int rows, int vocab, const SampleRow* settings, float* scratch, int32_t* ids) {
  if (rows <= 0) return;
  dev.launch<K::llmc_sample>({unsigned(rows)}, kSampleThreads, 0, SampleParams{logits, settings, ids, scratch, rows, vocab});
}

void plan_attention(const int32_t* seq_of_token, const int32_t* positions, int num_tokens, int32_t* tiles,
                    int32_t* num_tiles, int32_t* decode_rows, int32_t* num_decode_rows) {
  struct Tile {
    int32_t last_pos, seq, row0, count;
  };
  std::vector<Tile> list;
  int nd = 0;
  for (int t = 0; t < num_tokens;) {
    int e = t + 1;
    while (e < num_tokens && seq_of_token[e] == seq_of_token[t]) ++e;
    if (e - t == 1) {
      decode_rows[nd++] = t;
    } else {
      for (int r = t; r < e; r += kAttnPrefillRows) {
        const int c = std::min<int>(kAttnPrefillRows, e - r);
        list.push_back(Tile{positions[r + c - 1], seq_of_token[t], r, c});
      }
    }
    t = e;
  }
  std::stable_sort(list.begin(), list.end(), [](const Tile& a, const Tile& b) { return a.last_pos > b.last_pos; });
  for (size_t i = 0; i < list.size(); ++i) {
    tiles[4 * i] = list[i].seq;
    tiles[4 * i + 1] = list[i].row0;
    tiles[4 * i + 2] = list[i].count;
    tiles[4 * i + 3] = 0;
  }
  *num_tiles = int32_t(list.size());
  *num_decode_rows = nd;
}

}  // namespace llmc::cuda::ops
