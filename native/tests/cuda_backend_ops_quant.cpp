// cuda_backend_ops, linear_q: every quantized-linear kernel (native/cuda/kernels/linear_quant.cu) against the CPU
// kernel cpu::linear_q with the scalar reference (the op's definition: each weight dequantized, then a dot product).
// Codes i8 / u4 / f8e4m3, rows 1..8 (every GEMV kernel), 33, 100 (tiled GEMM, split-K), realistic (in 128..4096 on
// the emulator, 7B shapes on a GPU) and odd shapes (group sizes the vector path cannot take, rows whose bytes are
// not 16-byte multiples, x off alignment), group sizes 32 / 64 / 128 / per-channel, with and without offsets, bias
// (f32 / f16 / bf16), perm (GPTQ act-order), input_scale (AWQ) and int8 activations (activation_bits 8: decode rows
// 1..8 through the integer GEMV and the generic kernel, prefill through the GEMM, all against the CPU's int8 rule).
// Each case also checks that the launcher took the path it names.
// --perf: GB/s of the quantized GEMV (codes + scales + offsets read once per call) per 7B matrix.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "../cpu/dtype.h"
#include "../cpu/kernels.h"
#include "../cuda/launch.h"
#include "cuda_ops_support.h"
#include "kernel_test_support.h"

namespace llmc::test {
namespace {

using cpu::DType;

// A quantized weight on the host, as an engine holds it.
struct HostQuant {
  DType qt;
  int out, in, group_size;
  std::vector<uint8_t> q;              // [out, row bytes]
  std::vector<float> scales, offsets;  // [out, in / group_size]; offsets empty = none
  std::vector<int32_t> perm;           // [in] or empty
  std::vector<float> input_scale;      // [in] or empty
  int activation_bits = 0;
};

// Random codes over the whole range (f8e4m3: every value but the two NaN codes), scales of realistic size for the
// code type (weights of magnitude ~0.1), zero points as the quantizers store them (offsets = -scale * z).
HostQuant make_quant(DType qt, int out, int in, int gs, bool offsets, bool perm, bool input_scale, bool act8) {
  HostQuant h{qt, out, in, gs, {}, {}, {}, {}, {}, act8 ? 8 : 0};
  if (input_scale) h.input_scale = random_vec(size_t(in), 0.25f, 4.0f);  // AWQ scales: per input channel, around 1
  const size_t rb = size_t(dtype_matrix_bytes(qt, 1, uint64_t(in)));
  h.q.resize(size_t(out) * rb);
  for (auto& b : h.q) {
    b = uint8_t(g_rng() & 0xff);
    if (qt == DType::f8e4m3 && (b & 0x7f) == 0x7f) b = uint8_t(b ^ 0x01);  // NaN -> 448 / -448... not NaN
  }
  const float unit = qt == DType::i8 ? 1.0f / 127 : qt == DType::u4 ? 1.0f / 8 : 1.0f / 448;
  const size_t ng = size_t(in / gs);
  h.scales = random_vec(size_t(out) * ng, 0.02f * unit, 0.2f * unit);
  if (offsets) {
    h.offsets.resize(h.scales.size());
    for (size_t i = 0; i < h.offsets.size(); ++i) {
      const float z = qt == DType::u4 ? float(g_rng() % 16) : float(int(g_rng() % 9) - 4);
      h.offsets[i] = -h.scales[i] * (z == 0.0f ? 0.5f : z);
    }
  }
  if (perm) {
    h.perm.resize(size_t(in));
    std::iota(h.perm.begin(), h.perm.end(), 0);
    std::shuffle(h.perm.begin(), h.perm.end(), g_rng);
  }
  return h;
}

cpu::QuantWeight host_view(const HostQuant& h) {
  cpu::QuantWeight w;
  w.q = h.q.data();
  w.qt = h.qt;
  w.scales = h.scales.data();
  w.offsets = h.offsets.empty() ? nullptr : h.offsets.data();
  w.perm = h.perm.empty() ? nullptr : h.perm.data();
  w.input_scale = h.input_scale.empty() ? nullptr : h.input_scale.data();
  w.group_size = h.group_size;
  w.activation_bits = h.activation_bits;
  return w;
}

cuda::ops::QuantWeight device_copy(Scratch& s, const HostQuant& h) {
  cuda::ops::QuantWeight w;
  w.q = s.put(h.q);
  w.qtype = int(h.qt);
  w.scales = s.put(h.scales);
  w.offsets = h.offsets.empty() ? nullptr : s.put(h.offsets);
  w.perm = h.perm.empty() ? nullptr : s.put(h.perm);
  w.input_scale = h.input_scale.empty() ? nullptr : s.put(h.input_scale);
  w.group_size = h.group_size;
  w.activation_bits = h.activation_bits;
  return w;
}

struct QCase {
  int out, in, gs;  // gs 0 = per channel (in)
  bool offsets, perm;
  int bias;         // -1 none, else the bias dtype
  std::vector<int> rows;
  const char* expect_gemv;  // the decode path the launcher must take: "GEMV" or "generic GEMV"
  bool input_scale = false;
  bool act8 = false;        // activation_bits 8
};

const char* qname(DType t) { return t == DType::i8 ? "i8" : t == DType::u4 ? "u4" : "f8e4m3"; }

void run_case(DType qt, const QCase& c, float* ws, int64_t ws_floats) {
  const int gs = c.gs > 0 ? c.gs : c.in;
  char base[160];
  std::snprintf(base, sizeof base, "linear_q %s %dx%d g%s%s%s%s%s%s", qname(qt), c.out, c.in,
                c.gs > 0 ? std::to_string(gs).c_str() : "=in", c.offsets ? " +offsets" : "",
                c.bias >= 0 ? (std::string(" +bias ") + dtype_name(DType(c.bias))).c_str() : "", c.perm ? " +perm" : "",
                c.input_scale ? " +input_scale" : "", c.act8 ? " +int8-act" : "");
  bool any = false;
  for (int rows : c.rows) {
    char name[200];
    std::snprintf(name, sizeof name, "%s rows=%d", base, rows);
    any = any || selected(name);
  }
  if (!any) return;
  const HostQuant h = make_quant(qt, c.out, c.in, gs, c.offsets, c.perm, c.input_scale, c.act8);
  const DType bt = c.bias >= 0 ? DType(c.bias) : DType::f32;
  const Weights bias = make_weights(size_t(c.out), bt);
  Scratch s;
  const cuda::ops::QuantWeight dw = device_copy(s, h);
  const void* db = c.bias >= 0 ? s.put_bytes(bias.data(), bias.bytes.size()) : nullptr;
  const cuda::ops::LinearContext ctx{nullptr, ws, ws_floats, 128};
  const cpu::QuantWeight hw = host_view(h);
  for (int rows : c.rows) {
    char name[200];
    std::snprintf(name, sizeof name, "%s rows=%d", base, rows);
    if (!selected(name)) continue;
    const std::vector<float> x = random_vec(size_t(rows) * c.in);
    std::vector<float> ref(size_t(rows) * c.out);
    {
      // Both backends quantize activations in every step (activation_bits 8), decode rows included.
      ScalarReference sr;
      cpu::linear_q(*g_pool, x.data(), rows, c.in, hw, c.out, c.bias >= 0 ? bias.data() : nullptr, bt, ref.data());
    }
    const float* dx = s.put(x);
    float* dy = s.floats(ref.size());
    const std::string path = cuda::ops::linear_q_kernel(ctx, dx, rows, c.in, dw);
    const bool act8 = c.act8 && qt != DType::f8e4m3;  // int8 activations apply to i8 and u4 codes
    std::string want = rows > kabi::kGemvMaxRows ? (act8 ? "tiled GEMM, int8 activations" : "tiled GEMM") : c.expect_gemv;
    if (rows <= kabi::kGemvMaxRows && act8) want += ", int8 activations";  // perm and input_scale in the same pass
    else if (want == "GEMV" && (c.perm || c.input_scale)) want = "GEMV on prepared x";
    cuda::ops::linear_q(*g_dev, ctx, dx, rows, c.in, dw, c.out, db, int(bt), dy);
    // f32 sums of in products in another order (per 16/32-code vector scaled once, split-K partials): a few ulps
    // of the largest output.
    check(std::string(name) + " (" + path + ")", fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::rel, 2e-5);
    if (path != want) expect(std::string(name) + " takes the " + want + " path", false, "took " + path);
    if (path == "GEMV on prepared x") {  // no workspace: the GEMV gathers x itself (perm) or the generic kernel runs
      const cuda::ops::LinearContext bare{nullptr, nullptr, 0, 128};
      const std::string p2 = cuda::ops::linear_q_kernel(bare, dx, rows, c.in, dw);
      cuda::ops::linear_q(*g_dev, bare, dx, rows, c.in, dw, c.out, db, int(bt), dy);
      check(std::string(name) + " (" + p2 + ")", fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::rel, 2e-5);
    }
    // x one float off alignment: the generic kernel (f32), the same integer GEMV (int8 activations: it reads xq)
    if (rows <= kabi::kGemvMaxRows && (path == "GEMV" || path == "GEMV, int8 activations")) {
      float* dxm = s.floats(x.size() + 1) + 1;
      g_dev->copy_to_device(dxm, x.data(), x.size() * 4);
      const std::string p2 = cuda::ops::linear_q_kernel(ctx, dxm, rows, c.in, dw);
      cuda::ops::linear_q(*g_dev, ctx, dxm, rows, c.in, dw, c.out, db, int(bt), dy);
      check(std::string(name) + " (unaligned x: " + p2 + ")", fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::rel, 2e-5);
    }
  }
}

}  // namespace

void test_linear_q(float* ws, int64_t ws_floats) {
  if (!selected("linear_q")) return;
  std::printf("linear_q (quantized GEMV rows 1..8, generic GEMV, dequantizing tiled GEMM with split-K; vs cpu::linear_q scalar)\n");
  const int f32 = int(DType::f32), f16 = int(DType::f16), bf16 = int(DType::bf16);
  std::vector<QCase> cases = {
      // every GEMV kernel (rows 1..8), small groups, offsets and a bias
      {40, 256, 32, true, false, f16, {1, 2, 3, 4, 5, 6, 7, 8}, "GEMV"},
      // decode + prefill on realistic widths: g128 with zero points and act-order perm (GPTQ-like), per-channel
      {96, 4096, 128, true, true, bf16, {1, 3, 8, 33}, "GEMV"},
      {130, 2048, 0, false, false, f32, {1, 8, 100}, "GEMV"},
      {64, 1024, 64, false, false, -1, {3, 33}, "GEMV"},
      {64, 4096, 32, true, false, f16, {100, 130}, "GEMV"},  // 64x64 and 128x128 tiles, split-K over 4096
      {100, 128, 32, true, false, f32, {1, 100}, "GEMV"},
      // odd: group size below a code vector, rows of a width that is no multiple of 16 bytes, out not a multiple
      // of the 16 rows a block owns
      {37, 200, 40, true, true, f32, {1, 3, 33}, "generic GEMV"},
      {21, 136, 8, false, false, f16, {2, 8, 33}, "generic GEMV"},
      {77, 260, 0, true, false, -1, {1, 100}, "generic GEMV"},
      // AWQ input_scale (with and without perm) and int8 activations (decode: every GEMV row count, offsets, bias,
      // perm, input_scale, per-channel, a group size the integer GEMV cannot take; prefill)
      {96, 1024, 64, true, false, f16, {1, 8, 33}, "GEMV", true, false},
      {64, 2048, 128, true, true, -1, {3, 100}, "GEMV", true, true},
      {80, 512, 32, false, false, f32, {1, 2, 3, 4, 5, 6, 7, 8, 9, 130}, "GEMV", false, true},
      {48, 256, 64, true, false, bf16, {1, 2, 3, 4, 5, 6, 7, 8}, "GEMV", false, true},
      {66, 1024, 0, false, true, f16, {1, 5, 33}, "GEMV", false, true},
      {37, 200, 40, true, true, f32, {1, 3, 8, 33}, "generic GEMV", true, true},
  };
  if (!g_emulated) {  // 7B shapes on the GPU
    cases.push_back({4096, 4096, 128, true, true, f16, {1, 2, 4, 8, 33, 100, 512}, "GEMV"});
    cases.push_back({11008, 4096, 128, true, false, -1, {1, 8, 100}, "GEMV"});
    cases.push_back({4096, 11008, 0, false, false, -1, {1, 3, 8, 33, 300}, "GEMV"});
    cases.push_back({12288, 4096, 64, false, false, f32, {1, 8, 64}, "GEMV"});
    cases.push_back({32000, 4096, 32, true, false, -1, {1, 3}, "GEMV"});
    cases.push_back({11008, 4096, 128, true, true, -1, {1, 4, 8, 100}, "GEMV", false, true});  // int8 activations
  }
  for (DType qt : {DType::i8, DType::u4, DType::f8e4m3}) {
    for (const QCase& c : cases) {
      // u4 needs even groups (the schema's rule) and the vector path 32-code groups.
      if (qt == DType::u4 && c.gs > 0 && c.gs % 2 != 0) continue;
      QCase k = c;
      const int gs = c.gs > 0 ? c.gs : c.in;
      const int cpv = qt == DType::u4 ? 32 : 16;
      if (std::string(c.expect_gemv) == "GEMV" && (c.in % cpv != 0 || gs % cpv != 0)) k.expect_gemv = "generic GEMV";
      run_case(qt, k, ws, ws_floats);
    }
  }
}

void perf_linear_q(float* ws, int64_t ws_floats, double copy_gbs) {
  struct Shape {
    const char* what;
    int out, in;
  };
  const Shape shapes[] = {{"qkv 7B", 12288, 4096}, {"o 7B", 4096, 4096}, {"gate_up 7B", 22016, 4096},
                          {"down 7B", 4096, 11008}, {"lm_head 7B", 32000, 4096}};
  struct Scheme {
    DType qt;
    int gs;  // 0 = per channel
    bool offsets, perm;
    const char* label;
    int activation_bits = 0;  // 8: int8 activations (x quantized first, integer GEMV)
  };
  const Scheme schemes[] = {{DType::i8, 0, false, false, "i8 per-ch"},
                            {DType::u4, 128, true, false, "u4 g128+z"},
                            {DType::u4, 128, true, true, "u4 g128+z+perm"},  // GPTQ act-order: x permuted first
                            {DType::f8e4m3, 0, false, false, "f8 per-ch"},
                            {DType::i8, 0, false, false, "i8 per-ch a8", 8},
                            {DType::u4, 128, true, false, "u4 g128+z a8", 8}};
  std::printf("\nquantized GEMV (linear_q, rows 1..8; codes + scales + offsets read once per call, cold in L2): GB/s and %% of the copy "
              "bandwidth (target >= 80 %%)\n");
  std::printf("%-12s %-15s %-12s %5s %10s %9s %7s\n", "matrix", "scheme", "out x in", "rows", "time", "GB/s", "% copy");
  Timer timer;
  const cuda::ops::LinearContext ctx{nullptr, ws, ws_floats, 128};
  for (const Scheme& sc : schemes) {
    for (const Shape& sh : shapes) {
      Scratch s;
      const int gs = sc.gs > 0 ? sc.gs : sh.in;
      const size_t qbytes = size_t(dtype_matrix_bytes(sc.qt, uint64_t(sh.out), uint64_t(sh.in)));
      const size_t sbytes = size_t(sh.out) * (sh.in / gs) * 4;
      const size_t bytes = qbytes + sbytes * (sc.offsets ? 2 : 1);
      const int copies = int(std::max<size_t>(2, (size_t(1) << 30) / bytes + 1));
      std::vector<cuda::ops::QuantWeight> w(static_cast<size_t>(copies));
      for (auto& q : w) {
        void* codes = s.alloc(qbytes);
        g_dev->memset_async(codes, 0x11, qbytes);
        float* scales = s.floats(sbytes / 4);
        g_dev->memset_async(scales, 0, sbytes);
        float* offsets = nullptr;
        if (sc.offsets) {
          offsets = s.floats(sbytes / 4);
          g_dev->memset_async(offsets, 0, sbytes);
        }
        q = cuda::ops::QuantWeight{codes, int(sc.qt), scales, offsets, nullptr, nullptr, gs, sc.activation_bits};
      }
      if (sc.perm) {
        std::vector<int32_t> perm(size_t(sh.in));
        std::iota(perm.begin(), perm.end(), 0);
        std::shuffle(perm.begin(), perm.end(), g_rng);
        const int32_t* dperm = s.put(perm);
        for (auto& q : w) q.perm = dperm;
      }
      float* x = s.floats(size_t(8) * sh.in);
      float* y = s.floats(size_t(8) * sh.out);
      g_dev->memset_async(x, 0, size_t(8) * sh.in * 4);
      for (int rows : {1, 2, 4, 8}) {
        const double ms = timer.median_ms(30, [&](int i) {
          cuda::ops::linear_q(*g_dev, ctx, x, rows, sh.in, w[size_t(i % copies)], sh.out, nullptr, 0, y);
        });
        const double gbs = double(bytes) / (ms * 1e-3) / 1e9;
        std::printf("%-12s %-15s %5dx%-6d %5d %8.1fus %9.0f %6.1f%%\n", sh.what, sc.label, sh.out, sh.in, rows, ms * 1e3, gbs,
                    100 * gbs / copy_gbs);
      }
    }
  }
  // Prefill: the dequantizing GEMM (f32 SIMT; tensor cores are later work).
  std::printf("\nquantized GEMM (linear_q prefill, 4096 x 4096, u4 g128 + zero points)\n");
  for (int T : {128, 512, 2048}) {
    Scratch s;
    const int N = 4096, K = 4096, gs = 128;
    const size_t qbytes = size_t(dtype_matrix_bytes(DType::u4, N, K)), sn = size_t(N) * (K / gs);
    void* codes = s.alloc(qbytes);
    g_dev->memset_async(codes, 0x11, qbytes);
    float* scales = s.floats(sn);
    float* offsets = s.floats(sn);
    g_dev->memset_async(scales, 0, sn * 4);
    g_dev->memset_async(offsets, 0, sn * 4);
    const cuda::ops::QuantWeight w{codes, int(DType::u4), scales, offsets, nullptr, nullptr, gs, 0};
    float* x = s.floats(size_t(T) * K);
    float* y = s.floats(size_t(T) * N);
    g_dev->memset_async(x, 0, size_t(T) * K * 4);
    const double ms = timer.median_ms(5, [&](int) { cuda::ops::linear_q(*g_dev, ctx, x, T, K, w, N, nullptr, 0, y); });
    std::printf("GEMM u4 %4d x 4096 x 4096: %8.2f ms  %6.1f TFLOP/s\n", T, ms, 2.0 * T * N * K / (ms * 1e-3) / 1e12);
  }
}

}  // namespace llmc::test
