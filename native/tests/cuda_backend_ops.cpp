// cuda_backend_ops: every CUDA kernel against the CPU backend's kernel (native/cpu, the reference) on realistic
// shapes with random non-zero data (fixed seed): embedding, norms, rope, element-wise, split/select_rows, linear
// (GEMV rows 1..8, tiled GEMM with split-K, cuBLASLt), linear_q (quantized i8/u4/f8e4m3 GEMV and GEMM:
// cuda_backend_ops_quant.cpp), KV write + prefill/decode attention (head dims 64/128 and
// others, GQA/MQA, ALiBi, sliding window, paged blocks scattered over the cache, prompts of 1..4096 tokens,
// split-K decode), argmax and top-k/top-p sampling (exact against a host replay of the same Philox draw).
//
//   cuda_backend_ops                   on the GPU (fatbin: --fatbin FILE, $LLMC_CUDA_FATBIN, or llmc.fatbin beside
//                                      this binary, which cmake -DLLMC_BUILD_FATBIN=ON builds)
//   cuda_backend_ops --perf            + GEMV GB/s per 7B shape vs the measured copy bandwidth (target >= 85 %),
//                                      the quantized GEMV's GB/s (i8 / u4 g128 / f8) and GEMM, decode-attention
//                                      GB/s, prefill attention and GEMM TFLOP/s
//   cuda_backend_ops --emulate         the same checks on smaller shapes, kernels run by the CPU emulator
//   cuda_backend_ops attention         only cases whose name contains "attention" (linear_q: the quantized ones)
// Without an NVIDIA driver (and without --emulate) it prints "no CUDA driver: skipped" and exits 77.
// Exit status: 0 all passed, 1 a case failed, 2 setup error, 77 skipped.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "../cpu/dtype.h"
#include "../cpu/kernels.h"
#include "cuda_ops_support.h"
#include "kernel_test_support.h"
#include "../cpu/thread_pool.h"
#include "../cuda/cuda_driver.h"
#include "../cuda/device.h"
#include "../cuda/emu/emu_driver.h"
#include "../cuda/kernels/philox.h"
#include "../cuda/launch.h"
#include "../runtime/errors.h"

using namespace llmc;
using llmc::cpu::DType;
using llmc::cuda::Device;
using llmc::cuda::DeviceBuffer;

using namespace llmc::test;

namespace {

// ------------------------------------------------------------------------------------------------ gathers

void test_gather() {
  if (!selected("gather")) return;
  std::printf("embedding / pos_embedding / split / select_rows\n");
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    for (int64_t width : {64, 100, 768}) {
      Scratch s;
      const int64_t vocab = 1000, rows = 37;
      const Weights table = make_weights(size_t(vocab * width), dt);
      std::vector<int32_t> ids(rows), pos(rows);
      for (auto& id : ids) id = int32_t(g_rng() % vocab);
      for (auto& p : pos) p = int32_t(g_rng() % (vocab - 2));
      const std::vector<float> x = random_vec(size_t(rows * width));
      const void* dtab = s.put_bytes(table.data(), table.bytes.size());
      const int32_t* dids = s.put(ids);
      const int32_t* dpos = s.put(pos);
      const float* dx = s.put(x);
      float* dy = s.floats(size_t(rows * width));
      std::vector<float> ref(size_t(rows * width));
      const float scale = width == 100 ? 10.0f : 1.0f;
      char name[128];
      std::snprintf(name, sizeof name, "gather embedding %s width=%lld scale=%g", dtype_name(dt), (long long)width, scale);
      cuda::ops::embedding(*g_dev, dids, int(rows), dtab, int(dt), width, scale, dy);
      cpu::embedding(*g_pool, ids.data(), rows, table.data(), dt, width, scale, ref.data());
      check(name, fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::elem, 0.0);
      std::snprintf(name, sizeof name, "gather pos_embedding %s width=%lld offset=2", dtype_name(dt), (long long)width);
      cuda::ops::pos_embedding(*g_dev, dx, dpos, int(rows), dtab, int(dt), width, 2, dy);
      cpu::pos_embedding(*g_pool, x.data(), pos.data(), rows, table.data(), dt, width, 2, ref.data());
      check(name, fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::elem, 0.0);
    }
  }
  for (const std::vector<int32_t>& widths :
       {std::vector<int32_t>{768, 256, 256}, std::vector<int32_t>{5, 3, 9, 1}, std::vector<int32_t>{4, 4, 4, 4, 4, 4, 4, 4, 4, 4}}) {
    Scratch s;
    const int rows = 77;
    const int total = std::accumulate(widths.begin(), widths.end(), 0);
    const std::vector<float> x = random_vec(size_t(rows) * total);
    std::vector<float*> douts;
    for (int32_t w : widths) douts.push_back(s.floats(size_t(rows) * w));
    cuda::ops::split(*g_dev, s.put(x), rows, widths.data(), int(widths.size()), douts.data());
    bool ok = true;
    for (size_t i = 0, col = 0; i < widths.size(); col += widths[i], ++i) {
      const std::vector<float> got = fetch(douts[i], size_t(rows) * widths[i]);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < widths[i]; ++c) ok &= got[size_t(r) * widths[i] + c] == x[size_t(r) * total + col + c];
    }
    expect("gather split into " + std::to_string(widths.size()) + " blocks, total width " + std::to_string(total), ok);
  }
  {
    Scratch s;
    const int64_t width = 768, rows = 20;
    const std::vector<float> x = random_vec(size_t(rows * width));
    const std::vector<int32_t> ids = {19, 3, 3, 0};
    float* dy = s.floats(4 * width);
    cuda::ops::select_rows(*g_dev, s.put(x), width, s.put(ids), 4, dy);
    const std::vector<float> got = fetch(dy, 4 * width);
    bool ok = true;
    for (int i = 0; i < 4; ++i) ok &= std::memcmp(&got[i * width], &x[ids[i] * width], width * sizeof(float)) == 0;
    expect("gather select_rows", ok);
  }
}

// ------------------------------------------------------------------------------------------------ norms, rope

void test_norms() {
  if (!selected("norm")) return;
  std::printf("rms_norm / layer_norm (vs the CPU scalar kernels)\n");
  std::vector<int64_t> widths = {64, 100, 768};
  if (!g_emulated) widths.push_back(4096);
  const std::vector<int64_t> row_counts = g_emulated ? std::vector<int64_t>{1, 7} : std::vector<int64_t>{1, 7, 64};
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    for (int64_t width : widths) {
      for (int64_t rows : row_counts) {
        Scratch s;
        std::vector<float> x = random_vec(size_t(rows * width), -3.0f, 3.0f);
        const Weights w = make_weights(size_t(width), dt, 0.5f, 1.5f);
        const Weights b = make_weights(size_t(width), dt);
        std::vector<float> ref(x.size());
        float* dy = s.floats(x.size());
        const void* dw = s.put_bytes(w.data(), w.bytes.size());
        const void* db = s.put_bytes(b.data(), b.bytes.size());
        char name[128];
        const float offset = width == 100 ? 1.0f : 0.0f;
        std::snprintf(name, sizeof name, "rms_norm %s rows=%lld width=%lld offset=%g", dtype_name(dt), (long long)rows,
                      (long long)width, offset);
        if (selected(name)) {
          cuda::ops::rms_norm(*g_dev, s.put(x), int(rows), width, dw, int(dt), 1e-6f, offset, dy);
          {
            ScalarReference sr;
            cpu::rms_norm(*g_pool, x.data(), rows, width, w.data(), dt, 1e-6f, offset, ref.data());
          }
          check(name, fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::rel, 1e-5);
        }
        for (auto& v : x) v += 2.0f;  // the mean matters for layer_norm
        for (bool bias : {false, true}) {
          std::snprintf(name, sizeof name, "layer_norm %s rows=%lld width=%lld%s", dtype_name(dt), (long long)rows,
                        (long long)width, bias ? " +bias" : "");
          if (!selected(name)) continue;
          cuda::ops::layer_norm(*g_dev, s.put(x), int(rows), width, dw, int(dt), bias ? db : nullptr, 1e-5f, dy);
          {
            ScalarReference sr;
            cpu::layer_norm(*g_pool, x.data(), rows, width, w.data(), dt, bias ? b.data() : nullptr, 1e-5f, ref.data());
          }
          check(name, fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::rel, 1e-5);
        }
      }
    }
  }
}

void test_rope() {
  if (!selected("rope")) return;
  std::printf("rope (vs the CPU scalar kernel)\n");
  struct Case {
    RopeStyle style;
    int32_t heads, head_dim, rotary_dim;
  };
  const Case cases[] = {{RopeStyle::neox, 12, 64, 64}, {RopeStyle::neox, 32, 128, 128}, {RopeStyle::neox, 8, 80, 40},
                        {RopeStyle::neox, 4, 64, 16},  {RopeStyle::gptj, 16, 64, 64},   {RopeStyle::gptj, 4, 16, 8},
                        {RopeStyle::gptj, 8, 128, 64}, {RopeStyle::neox, 2, 36, 36},    {RopeStyle::gptj, 2, 36, 20}};
  for (const Case& c : cases) {
    for (int64_t rows : {1, 7, 64}) {
      char name[128];
      std::snprintf(name, sizeof name, "rope %s rows=%lld heads=%d head_dim=%d rotary=%d", c.style == RopeStyle::neox ? "neox" : "gptj",
                    (long long)rows, c.heads, c.head_dim, c.rotary_dim);
      if (!selected(name)) continue;
      Scratch s;
      const int64_t width = int64_t(c.heads) * c.head_dim;
      const std::vector<float> x = random_vec(size_t(rows * width));
      std::vector<int32_t> pos(rows);
      for (auto& p : pos) p = int32_t(g_rng() % 4096);
      std::vector<float> inv_freq(c.rotary_dim / 2);
      for (int32_t i = 0; i < c.rotary_dim / 2; ++i) inv_freq[i] = float(1.0 / std::pow(10000.0, 2.0 * i / c.rotary_dim));
      std::vector<float> ref(x.size());
      float* dy = s.floats(x.size());
      cuda::ops::rope(*g_dev, s.put(x), int(rows), s.put(pos), c.heads, c.head_dim, c.rotary_dim, s.put(inv_freq), int(c.style), dy);
      {
        ScalarReference sr;
        cpu::rope(*g_pool, x.data(), rows, pos.data(), c.heads, c.head_dim, c.rotary_dim, inv_freq.data(), c.style, ref.data());
      }
      // cosf/sinf of angles up to ~4096 rad: the device's and the C library's differ by an ulp or two.
      check(name, fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::elem, 1e-5, 1e-5);
      // linear_rope's use: in place on the leading heads of wider rows (row stride ld; v's 24 columns stay).
      const int64_t ld = width + 24;
      std::vector<float> xw(size_t(rows * ld)), want(xw.size());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < ld; ++j) {
          xw[size_t(r * ld + j)] = j < width ? x[size_t(r * width + j)] : float(j) * 0.25f - float(r);
          want[size_t(r * ld + j)] = j < width ? ref[size_t(r * width + j)] : xw[size_t(r * ld + j)];
        }
      float* dxw = s.put(xw);
      cuda::ops::rope(*g_dev, dxw, int(rows), s.put(pos), c.heads, c.head_dim, c.rotary_dim, s.put(inv_freq), int(c.style), dxw, ld);
      check(std::string(name) + " in place, row stride " + std::to_string(ld), fetch(dxw, want.size()).data(), want.data(),
            want.size(), Mode::elem, 1e-5, 1e-5);
    }
  }
}

// ------------------------------------------------------------------------------------------------ element-wise

void test_elementwise() {
  if (!selected("elementwise")) return;
  std::printf("elementwise (vs the CPU scalar kernels; float4 path and a misaligned scalar path)\n");
  const char* act_names[] = {"silu", "gelu_erf", "gelu_tanh", "relu", "gelu_bloom", "identity"};
  std::vector<int64_t> sizes = {1, 7, 768 * 7 + 3, 4096};
  if (!g_emulated) sizes.push_back(100000);
  for (int64_t n : sizes) {
    for (int misalign : {0, 1}) {
      if (misalign && n < 100) continue;
      Scratch s;
      std::vector<float> a = random_vec(size_t(n), -10.0f, 10.0f), b = random_vec(size_t(n), -2.0f, 2.0f);
      const float probes[] = {1e-6f, -1e-6f, 0.5f, -0.5f, 3.0f, -3.0f, 9.5f, -9.5f, 20.0f, -20.0f, 90.0f, -90.0f, -5.3f};
      for (size_t i = 0; i < sizeof(probes) / sizeof(float) && i < size_t(n); ++i) a[i] = probes[i];
      // misalign: every device pointer one float past a 16-byte boundary.
      float* da = s.floats(size_t(n) + 1) + misalign;
      float* db = s.floats(size_t(n) + 1) + misalign;
      float* dy = s.floats(size_t(n) + 1) + misalign;
      g_dev->copy_to_device(da, a.data(), size_t(n) * 4);
      g_dev->copy_to_device(db, b.data(), size_t(n) * 4);
      std::vector<float> ref(static_cast<size_t>(n));
      ScalarReference sr;
      const std::string suffix = " n=" + std::to_string(n) + (misalign ? " misaligned" : "");
      cuda::ops::add(*g_dev, da, db, n, dy);
      cpu::add(*g_pool, a.data(), b.data(), n, ref.data());
      check("elementwise add" + suffix, fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::elem, 0.0);
      cuda::ops::mul(*g_dev, da, db, n, dy);
      cpu::mul(*g_pool, a.data(), b.data(), n, ref.data());
      check("elementwise mul" + suffix, fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::elem, 0.0);
      for (int k = 0; k <= int(ActivationKind::identity); ++k) {
        const auto kind = ActivationKind(k);
        cuda::ops::activation(*g_dev, da, n, k, dy);
        cpu::activation(*g_pool, a.data(), n, kind, ref.data());
        check(std::string("elementwise activation ") + act_names[k] + suffix, fetch(dy, ref.size()).data(), ref.data(), ref.size(),
              Mode::elem, 4e-6, 3e-7);
        cuda::ops::gated_activation(*g_dev, da, db, n, k, dy);
        cpu::gated_activation(*g_pool, a.data(), b.data(), n, kind, ref.data());
        check(std::string("elementwise gated ") + act_names[k] + suffix, fetch(dy, ref.size()).data(), ref.data(), ref.size(),
              Mode::elem, 4e-6, 6e-7);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ linear

void test_linear(cuda::CublasLt* lt, float* ws, int64_t ws_floats) {
  if (!selected("linear")) return;
  std::printf("linear (GEMV rows 1..8, tiled GEMM with split-K%s; vs the CPU scalar kernel)\n", lt ? ", cuBLASLt" : "");
  struct Case {
    int out, in;
    std::vector<int> rows;
    bool bias;
  };
  std::vector<Case> cases = {
      {37, 13, {1, 5, 11}, true},        {100, 84, {2, 9, 31}, true},     {96, 1030, {4, 10}, false},
      {256, 256, {1, 2, 3, 4, 5, 6, 7, 8, 9, 64, 130}, true}, {64, 1024, {3, 17}, false},  {3, 1000, {1, 20}, true},
      {1024, 1024, {1, 8, 33}, false},
  };
  if (!g_emulated) {
    cases.push_back({4096, 4096, {1, 2, 4, 8, 16, 64, 300}, false});
    cases.push_back({12288, 4096, {1, 8, 32}, false});
    cases.push_back({4096, 11008, {1, 8}, false});
    cases.push_back({32000, 4096, {1, 3}, false});
    cases.push_back({768, 2048, {1, 7, 512}, true});
  }
  cuda::ops::LinearContext own{nullptr, ws, ws_floats, 128};
  cuda::ops::LinearContext with_lt{lt, ws, ws_floats, 128};
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    for (const Case& c : cases) {
      const Weights w = make_weights(size_t(c.out) * c.in, dt, -0.5f, 0.5f);
      const Weights b = make_weights(size_t(c.out), dt);
      Scratch s;
      const void* dw = s.put_bytes(w.data(), w.bytes.size());
      const void* db = s.put_bytes(b.data(), b.bytes.size());
      for (int rows : c.rows) {
        char name[128];
        std::snprintf(name, sizeof name, "linear %s rows=%d %dx%d%s", dtype_name(dt), rows, c.out, c.in, c.bias ? " +bias" : "");
        if (!selected(name)) continue;
        const std::vector<float> x = random_vec(size_t(rows) * c.in);
        std::vector<float> ref(size_t(rows) * c.out);
        {
          ScalarReference sr;
          cpu::linear(*g_pool, x.data(), rows, c.in, w.data(), dt, c.out, c.bias ? b.data() : nullptr, ref.data());
        }
        const float* dx = s.put(x);
        float* dy = s.floats(ref.size());
        cuda::ops::linear(*g_dev, own, dx, rows, c.in, dw, int(dt), c.out, c.bias ? db : nullptr, dy);
        check(name, fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::rel, 2e-5);
        if (rows <= 8 && c.in % 4 == 0 && c.in > 4) {  // the generic GEMV: x one float off alignment
          float* dxm = s.floats(x.size() + 1) + 1;
          g_dev->copy_to_device(dxm, x.data(), x.size() * 4);
          cuda::ops::linear(*g_dev, own, dxm, rows, c.in, dw, int(dt), c.out, c.bias ? db : nullptr, dy);
          check(std::string(name) + " (unaligned x: generic GEMV)", fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::rel, 2e-5);
        }
        if (lt != nullptr && dt == DType::f32 && rows >= 128) {
          cuda::ops::linear(*g_dev, with_lt, dx, rows, c.in, dw, int(dt), c.out, c.bias ? db : nullptr, dy);
          check(std::string(name) + " (cuBLASLt)", fetch(dy, ref.size()).data(), ref.data(), ref.size(), Mode::rel, 2e-5);
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ attention

struct AttnCase {
  std::string label;
  int32_t heads, kv_heads, head_dim, block_size, window;
  bool alibi;
  std::vector<int32_t> prefix;  // tokens already in the cache, per sequence
  std::vector<int32_t> step;    // new tokens in the step, per sequence
  int32_t split_size;           // decode split-K chunk (keys)
};

void run_attention_case(const AttnCase& c, cpu::KvDType kvt) {
  const std::string name = "attention " + c.label + (kvt == cpu::KvDType::f32 ? "" : std::string(" kv ") + cpu::kv_dtype_name(kvt));
  if (!selected(name)) return;
  Scratch s;
  const int32_t hd = c.head_dim, kvw = c.kv_heads * hd, qw = c.heads * hd;
  const int32_t seqs = int32_t(c.prefix.size());
  int32_t max_len = 0;
  for (int32_t q = 0; q < seqs; ++q) max_len = std::max(max_len, c.prefix[q] + c.step[q]);
  const int32_t max_blocks = (max_len + c.block_size - 1) / c.block_size;
  const int32_t num_blocks = seqs * max_blocks + 3;
  std::vector<int32_t> perm(num_blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), g_rng);
  std::vector<int32_t> tables(size_t(seqs) * max_blocks);
  for (size_t i = 0; i < tables.size(); ++i) tables[i] = perm[i];
  const cpu::KvBlockLayout layout = cpu::kv_block_layout(kvt, c.kv_heads, c.block_size, hd);
  const int64_t block_stride = layout.block_bytes;
  std::vector<float> slopes(c.heads);
  for (int32_t h = 0; h < c.heads; ++h) slopes[h] = -std::pow(2.0f, -8.0f * float(h + 1) / float(c.heads));

  // The cache: prefix k/v written by the CPU kernel (a step of prefix tokens), then copied to the device.
  std::vector<uint8_t> cache(size_t(num_blocks) * block_stride, 0);
  cpu::AttentionArgs a{};
  a.kv = cpu::PagedKvLayer{cache.data(), block_stride, c.block_size, c.kv_heads, hd, kvt};
  a.num_heads = c.heads;
  a.num_kv_heads = c.kv_heads;
  a.head_dim = hd;
  a.scale = 1.0f / std::sqrt(float(hd));
  a.sliding_window = c.window;
  a.alibi_slopes = c.alibi ? slopes.data() : nullptr;
  a.block_tables = tables.data();
  a.max_blocks_per_seq = max_blocks;
  {
    std::vector<int32_t> pos, seq;
    for (int32_t q = 0; q < seqs; ++q)
      for (int32_t p = 0; p < c.prefix[q]; ++p) {
        seq.push_back(q);
        pos.push_back(p);
      }
    if (!pos.empty()) {
      const int64_t rows = int64_t(pos.size());
      const std::vector<float> q = random_vec(size_t(rows) * qw), k = random_vec(size_t(rows) * kvw), v = random_vec(size_t(rows) * kvw);
      std::vector<float> o(size_t(rows) * qw);
      cpu::AttentionArgs pa = a;
      pa.q = q.data();
      pa.k = k.data();
      pa.v = v.data();
      pa.rows = rows;
      pa.positions = pos.data();
      pa.seq_of_token = seq.data();
      pa.out = o.data();
      cpu::attention(*g_pool, pa);
    }
  }
  uint8_t* dcache = static_cast<uint8_t*>(s.put_bytes(cache.data(), cache.size()));

  // The step.
  std::vector<int32_t> pos, seq;
  for (int32_t q = 0; q < seqs; ++q)
    for (int32_t p = 0; p < c.step[q]; ++p) {
      seq.push_back(q);
      pos.push_back(c.prefix[q] + p);
    }
  const int rows = int(pos.size());
  const std::vector<float> q = random_vec(size_t(rows) * qw, -2.0f, 2.0f), k = random_vec(size_t(rows) * kvw),
                           v = random_vec(size_t(rows) * kvw);
  std::vector<float> ref(size_t(rows) * qw);
  a.q = q.data();
  a.k = k.data();
  a.v = v.data();
  a.rows = rows;
  a.positions = pos.data();
  a.seq_of_token = seq.data();
  a.out = ref.data();
  {
    ScalarReference sr;
    cpu::attention(*g_pool, a);
  }

  std::vector<int32_t> tiles(4 * size_t(rows / 32 + seqs + 1)), decode_rows(static_cast<size_t>(rows));
  int32_t nt = 0, nd = 0;
  cuda::ops::plan_attention(seq.data(), pos.data(), rows, tiles.data(), &nt, decode_rows.data(), &nd);
  cuda::ops::StepArrays sa;
  sa.positions = s.put(pos);
  sa.seq_of_token = s.put(seq);
  sa.block_tables = s.put(tables);
  sa.max_blocks_per_seq = max_blocks;
  sa.decode_rows = s.put(decode_rows);
  sa.num_decode_rows = nd;
  sa.tiles = s.put(tiles);
  sa.num_tiles = nt;
  cuda::ops::DecodeSplits ds;
  ds.split_size = c.split_size;
  ds.max_splits = (max_len + c.split_size - 1) / c.split_size;
  const size_t slots = size_t(std::max(nd, 1)) * c.heads * ds.max_splits;
  ds.part_o = s.floats(slots * hd);
  ds.part_ml = s.floats(slots * 2);
  cuda::ops::AttentionCall call{};
  call.q = s.put(q);
  call.k = s.put(k);
  call.v = s.put(v);
  float* dout = s.floats(ref.size());
  call.out = dout;
  call.rows = rows;
  call.kv = kabi::KvLayer{dcache, block_stride, layout.v_offset, layout.scale_offset, c.block_size, c.kv_heads, hd, int32_t(kvt)};
  call.num_heads = c.heads;
  call.num_kv_heads = c.kv_heads;
  call.head_dim = hd;
  call.scale = a.scale;
  call.sliding_window = c.window;
  call.alibi_slopes = c.alibi ? s.put(slopes) : nullptr;
  cuda::ops::attention(*g_dev, call, sa, ds);
  const std::vector<float> got = fetch(dout, ref.size());
  char detail[96];
  std::snprintf(detail, sizeof detail, " [%d decode rows, %d tiles, %d splits max]", nd, nt, ds.max_splits);
  check(name + detail, got.data(), ref.data(), ref.size(), Mode::rel, 1e-5);
  const std::vector<uint8_t> gcache = fetch(dcache, cache.size());
  expect(name + " cache contents", std::memcmp(gcache.data(), cache.data(), cache.size()) == 0);
}

void test_attention() {
  if (!selected("attention")) return;
  std::printf("attention (KV write + prefill tiles + split-K decode over scattered paged blocks; vs the CPU kernel)\n");
  std::vector<AttnCase> cases = {
      {"MHA hd64 prefill 70", 4, 4, 64, 16, 0, false, {0}, {70}, 256},
      {"MHA hd64 prefill 1", 4, 4, 64, 16, 0, false, {0}, {1}, 256},
      {"GQA 8/2 hd128 decode x3 (split-K 64)", 8, 2, 128, 16, 0, false, {100, 37, 250}, {1, 1, 1}, 64},
      {"GQA 8/2 hd128 mixed step", 8, 2, 128, 16, 0, false, {60, 0, 17}, {5, 40, 1}, 64},
      {"MQA 8/1 hd64 window 16 prefill 64", 8, 1, 64, 16, 16, false, {0}, {64}, 256},
      {"GQA 4/2 hd64 window 16 decode (split-K 32)", 4, 2, 64, 16, 16, false, {40, 9}, {1, 3}, 32},
      {"ALiBi 4 heads hd64 prefill+decode", 4, 4, 64, 16, 0, true, {23, 5}, {1, 7}, 32},
      {"ALiBi 6 heads hd128 window 8", 6, 6, 128, 8, 8, true, {30}, {9}, 256},
      {"block 7 hd36 GQA 6/3", 6, 3, 36, 7, 0, false, {19, 3}, {12, 2}, 256},
      {"block 5 hd80 MHA decode 1 key", 4, 4, 80, 5, 0, false, {0}, {1}, 256},
      {"MQA 12/1 hd256 (gemma-like) prefill 33 + decode", 12, 1, 256, 16, 0, false, {0, 50}, {33, 1}, 32},
      {"falcon MQA 10/1 hd64 decode (group of 10: 2 head chunks)", 10, 1, 64, 16, 0, true, {45}, {1}, 32},
      {"hd16 GQA 4/2 (golden fixture size)", 4, 2, 16, 16, 0, false, {10, 0}, {1, 12}, 256},
      {"MHA hd64 prompts 1..130 x 8 seqs", 2, 2, 64, 16, 0, false, {0, 0, 0, 0, 0, 0, 0, 0}, {1, 2, 31, 32, 33, 64, 100, 130}, 256},
      {"GQA 4/1 hd128 prefill 300 after 200", 4, 1, 128, 16, 0, false, {200}, {300}, 256},
      {"GQA 8/2 hd128 decode ctx 1000 x4 (split-K 256)", 8, 2, 128, 16, 0, false, {999, 10, 500, 777}, {1, 1, 1, 1}, 256},
  };
  if (!g_emulated) {
    cases.push_back({"llama-7b MHA 32 hd128 prefill 512", 32, 32, 128, 16, 0, false, {0}, {512}, 256});
    cases.push_back({"llama-7b MHA 32 hd128 prefill 4096", 32, 32, 128, 16, 0, false, {0}, {4096}, 256});
    cases.push_back({"llama3 GQA 32/8 hd128 prefill 2048 chunk after 2048", 32, 8, 128, 16, 0, false, {2048}, {2048}, 256});
    cases.push_back({"GQA 32/8 hd128 decode ctx 4000 x8 (split-K 256)", 32, 8, 128, 16, 0, false,
                     {3999, 100, 2048, 1, 4000, 777, 3000, 64}, {1, 1, 1, 1, 1, 1, 1, 1}, 256});
    cases.push_back({"mistral window 4096 GQA 32/8 prefill 1000 + decode", 32, 8, 128, 16, 512, false, {0, 3000}, {1000, 1}, 256});
    cases.push_back({"bloom ALiBi 32 hd128 prefill 1024", 32, 32, 128, 16, 0, true, {0}, {1024}, 256});
  }
  for (const AttnCase& c : cases) run_attention_case(c, cpu::KvDType::f32);
  // 16-bit and quantized caches: the same bytes stored by both backends (the write kernel's quantizer is the CPU's),
  // then the same widened values read by both attention kernels.
  const size_t kv_cases[] = {0, 2, 3, 6, 8, 10, 11};
  for (cpu::KvDType t : {cpu::KvDType::f16, cpu::KvDType::bf16, cpu::KvDType::i8, cpu::KvDType::f8e4m3})
    for (size_t i : kv_cases) run_attention_case(cases[i], t);
}

// ------------------------------------------------------------------------------------------------ sampling

bool higher(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

// The CPU sampler's rules (native/runtime/sampler.cpp) with a given uniform u. *boundary: the draw landed within
// 1e-9 (relative) of a cumulative-sum boundary, where summation order may legitimately pick the neighbour.
int32_t host_sample(const float* logits, int vocab, const kabi::SampleRow& st, double u, bool* boundary) {
  *boundary = false;
  int32_t best = 0;
  float bv = -INFINITY;
  bool found = false;
  for (int i = 0; i < vocab; ++i)
    if (logits[i] > bv || (!found && logits[i] == bv)) {
      best = i;
      bv = logits[i];
      found = true;
    }
  if (st.temperature == 0.0f) return best;
  std::vector<std::pair<float, int32_t>> cand;
  const float inv_t = 1.0f / st.temperature;
  for (int i = 0; i < vocab; ++i) {
    const float x = logits[i] * inv_t;
    if (std::isfinite(x)) cand.emplace_back(x, i);
  }
  if (cand.empty()) return best;
  // Like the CPU sampler: candidates stay in id order unless top-k or top-p sorts them.
  size_t n = cand.size();
  double mx = -INFINITY;
  for (const auto& c : cand) mx = std::max(mx, double(c.first));
  if ((st.top_k > 0 && size_t(st.top_k) < n) || st.top_p < 1.0f) std::sort(cand.begin(), cand.end(), higher);
  if (st.top_k > 0 && size_t(st.top_k) < n) n = size_t(st.top_k);
  double z = 0;
  for (size_t i = 0; i < n; ++i) z += std::exp(double(cand[i].first) - mx);
  if (st.top_p < 1.0f) {
    double mass = 0;
    size_t keep = 0;
    while (keep < n && mass < double(st.top_p) * z) {
      mass += std::exp(double(cand[keep].first) - mx);
      ++keep;
    }
    n = std::max<size_t>(keep, 1);
    z = 0;
    for (size_t i = 0; i < n; ++i) z += std::exp(double(cand[i].first) - mx);
  }
  const double target = u * z;
  double cum = 0;
  for (size_t i = 0; i < n; ++i) {
    cum += std::exp(double(cand[i].first) - mx);
    if (std::fabs(cum - target) <= 1e-9 * z) *boundary = true;
    if (cum > target) return cand[i].second;
  }
  return cand[n - 1].second;
}

void test_sampling() {
  if (!selected("sampling")) return;
  std::printf("sampling (argmax: the CPU greedy rule; llmc_sample: exact replay of the Philox draw on the host)\n");
  const int vocab = g_emulated ? 3000 : 32000;
  {
    Scratch s;
    const int rows = 6;
    std::vector<float> logits = random_vec(size_t(rows) * vocab, -5.0f, 5.0f);
    logits[size_t(1) * vocab + 17] = logits[size_t(1) * vocab + 900] = 50.0f;  // tie: lower id wins
    for (int i = 0; i < vocab; ++i) logits[size_t(2) * vocab + i] = NAN;       // all NaN -> 0
    for (int i = 0; i < vocab; ++i) logits[size_t(3) * vocab + i] = -INFINITY; // all -inf -> 0
    logits[size_t(4) * vocab + 5] = NAN;                                        // NaN never wins
    logits[size_t(4) * vocab + 6] = 99.0f;
    logits[size_t(5) * vocab + vocab - 1] = 1e30f;                              // last id
    int32_t* dids = static_cast<int32_t*>(s.alloc(rows * 4));
    cuda::ops::argmax(*g_dev, s.put(logits), rows, vocab, dids);
    const std::vector<int32_t> ids = fetch(dids, rows);
    bool ok = true;
    std::string detail;
    for (int r = 0; r < rows; ++r) {
      bool b;
      const int32_t want = host_sample(&logits[size_t(r) * vocab], vocab, kabi::SampleRow{0, 0, 1, 0, 0, 0}, 0, &b);
      ok &= ids[r] == want;
      detail += std::to_string(ids[r]) + (ids[r] == want ? " " : "(want " + std::to_string(want) + ") ");
    }
    expect("sampling argmax vocab=" + std::to_string(vocab) + " (ties, NaN, -inf rows)", ok, detail);
  }
  struct Setting {
    const char* label;
    float t;
    int k;
    float p;
    float spread;  // logits uniform in [-spread, spread]
  };
  const Setting settings[] = {
      {"temperature 0.7", 0.7f, 0, 1.0f, 4.0f},           {"top-k 50", 1.0f, 50, 1.0f, 4.0f},
      {"top-p 0.9 (peaked)", 0.8f, 0, 0.9f, 12.0f},       {"top-k 40 + top-p 0.95", 1.3f, 40, 0.95f, 4.0f},
      {"top-k 1 (greedy)", 1.0f, 1, 1.0f, 4.0f},          {"top-k 1000", 1.0f, 1000, 1.0f, 4.0f},
      {"top-p 0.9 wide nucleus (> 1024 tokens)", 1.0f, 0, 0.9f, 0.05f}, {"top-k > vocab", 1.0f, 1 << 20, 1.0f, 4.0f},
  };
  for (const Setting& st : settings) {
    Scratch s;
    const int rows = g_emulated ? 3 : 16;
    std::vector<float> logits = random_vec(size_t(rows) * vocab, -st.spread, st.spread);
    logits[7] = INFINITY;  // row 0: +inf is not finite -> never a candidate (like the CPU sampler)
    std::vector<kabi::SampleRow> rs(rows);
    for (int r = 0; r < rows; ++r) rs[r] = kabi::SampleRow{st.t, st.k, st.p, 0, 1000u + uint64_t(r), uint64_t(r * 7 + 3)};
    int32_t* dids = static_cast<int32_t*>(s.alloc(rows * 4));
    cuda::ops::sample(*g_dev, s.put(logits), rows, vocab, s.put(rs), s.floats(size_t(rows) * vocab), dids);
    const std::vector<int32_t> ids = fetch(dids, rows);
    int exact = 0, boundary = 0;
    bool in_nucleus = true;
    for (int r = 0; r < rows; ++r) {
      bool b = false;
      const double u = philox::uniform(rs[r].seed, rs[r].counter);
      const int32_t want = host_sample(&logits[size_t(r) * vocab], vocab, rs[r], u, &b);
      if (ids[r] == want) ++exact;
      else if (b) ++boundary;
      // For the wide nucleus the device walks ids in order: only membership can match.
      std::vector<std::pair<float, int32_t>> c;
      for (int i = 0; i < vocab; ++i)
        if (std::isfinite(logits[size_t(r) * vocab + i])) c.emplace_back(logits[size_t(r) * vocab + i] / st.t, i);
      std::sort(c.begin(), c.end(), higher);
      size_t n = c.size();
      if (st.k > 0 && size_t(st.k) < n) n = size_t(st.k);
      double z = 0, mass = 0;
      for (size_t i = 0; i < n; ++i) z += std::exp(double(c[i].first) - c[0].first);
      size_t keep = 0;
      while (keep < n && mass < double(st.p) * z) mass += std::exp(double(c[keep++].first) - c[0].first);
      bool member = false;
      for (size_t i = 0; i < std::max<size_t>(keep, 1); ++i) member |= c[i].second == ids[r];
      in_nucleus &= member;
    }
    const bool wide = std::strstr(st.label, "wide") != nullptr;
    char detail[96];
    std::snprintf(detail, sizeof detail, "%d/%d exact, %d at a sum boundary", exact, rows, boundary);
    expect(std::string("sampling ") + st.label + " vocab=" + std::to_string(vocab),
           wide ? in_nucleus : (exact + boundary == rows && in_nucleus), detail);
  }
}

// ------------------------------------------------------------------------------------------------ --perf

void run_perf(cuda::CublasLt* lt, float* ws, int64_t ws_floats) {
  const cuda::DeviceInfo& di = g_dev->info();
  std::printf("\nperf on %s (%s, %d SMs)\n", di.name.c_str(), di.arch().c_str(), di.sms);
  Timer timer;
  // Device bandwidth: a 1 GiB device-to-device copy kernel, bytes read + written.
  double copy_gbs = 0;
  {
    Scratch s;
    const size_t bytes = size_t(1) << 30;
    void* a = s.alloc(bytes);
    void* b = s.alloc(bytes);
    g_dev->memset_async(a, 0, bytes);
    const double ms = timer.median_ms(10, [&](int) { cuda::ops::copy(*g_dev, a, b, int64_t(bytes)); });
    copy_gbs = 2.0 * double(bytes) / (ms * 1e-3) / 1e9;
    std::printf("copy kernel: %.0f GB/s (read + write; the reference for MBU below)\n", copy_gbs);
  }
  // GEMV: every weight byte once per call. Weights rotate over copies totalling >= 1 GiB so L2 (50 MB) holds none.
  struct Shape {
    const char* what;
    int out, in;
  };
  const Shape shapes[] = {{"qkv 7B", 12288, 4096}, {"o 7B", 4096, 4096}, {"gate_up 7B", 22016, 4096},
                          {"down 7B", 4096, 11008}, {"lm_head 7B", 32000, 4096}};
  std::printf("\nGEMV (weights read once per call, cold in L2): GB/s of weights and %% of the copy bandwidth (target >= 85 %%)\n");
  std::printf("%-12s %-5s %-12s %5s %10s %9s %7s\n", "matrix", "dtype", "out x in", "rows", "time", "GB/s", "% copy");
  cuda::ops::LinearContext own{nullptr, ws, ws_floats, 128};
  for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
    for (const Shape& sh : shapes) {
      Scratch s;
      const size_t wbytes = size_t(sh.out) * sh.in * cpu::dtype_size(dt);
      const int copies = int(std::max<size_t>(2, (size_t(1) << 30) / wbytes + 1));
      std::vector<void*> w;
      for (int i = 0; i < copies; ++i) {
        w.push_back(s.alloc(wbytes));
        g_dev->memset_async(w.back(), 0x11, wbytes);
      }
      float* x = s.floats(size_t(8) * sh.in);
      float* y = s.floats(size_t(8) * sh.out);
      g_dev->memset_async(x, 0, size_t(8) * sh.in * 4);
      for (int rows : {1, 2, 4, 8}) {
        const double ms = timer.median_ms(30, [&](int i) {
          cuda::ops::linear(*g_dev, own, x, rows, sh.in, w[i % copies], int(dt), sh.out, nullptr, y);
        });
        const double gbs = double(wbytes) / (ms * 1e-3) / 1e9;
        std::printf("%-12s %-5s %5dx%-6d %5d %8.1fus %9.0f %6.1f%%\n", sh.what, dtype_name(dt), sh.out, sh.in, rows, ms * 1e3, gbs,
                    100 * gbs / copy_gbs);
      }
    }
  }
  perf_linear_q(ws, ws_floats, copy_gbs);
  // Decode attention: KV bytes read per call.
  std::printf("\ndecode attention, llama-2-7b heads (32 x 128): GB/s of the K+V bytes (and scales) read, per KV dtype\n");
  for (cpu::KvDType kvt : {cpu::KvDType::f32, cpu::KvDType::f16, cpu::KvDType::i8, cpu::KvDType::f8e4m3})
  for (int batch : {1, 8, 32}) {
    for (int ctx : {512, 2048, 4096}) {
      Scratch s;
      const int heads = 32, hd = 128, bs = 16;
      const int blocks_per_seq = (ctx + bs - 1) / bs;
      const cpu::KvBlockLayout lay = cpu::kv_block_layout(kvt, heads, bs, hd);
      const int64_t stride = lay.block_bytes;
      void* cache = s.alloc(size_t(batch) * blocks_per_seq * stride);
      g_dev->memset_async(cache, 0, size_t(batch) * blocks_per_seq * stride);
      std::vector<int32_t> tables(size_t(batch) * blocks_per_seq), pos(batch), seq(batch), rows(batch);
      std::iota(tables.begin(), tables.end(), 0);
      for (int b = 0; b < batch; ++b) {
        pos[b] = ctx - 1;
        seq[b] = b;
        rows[b] = b;
      }
      cuda::ops::StepArrays sa;
      sa.positions = s.put(pos);
      sa.seq_of_token = s.put(seq);
      sa.block_tables = s.put(tables);
      sa.max_blocks_per_seq = blocks_per_seq;
      sa.decode_rows = s.put(rows);
      sa.num_decode_rows = batch;
      cuda::ops::DecodeSplits ds;
      ds.split_size = 256;
      ds.max_splits = (4096 + 255) / 256;
      ds.part_o = s.floats(size_t(batch) * heads * ds.max_splits * hd);
      ds.part_ml = s.floats(size_t(batch) * heads * ds.max_splits * 2);
      cuda::ops::AttentionCall call{};
      call.q = s.floats(size_t(batch) * heads * hd);
      call.k = s.floats(size_t(batch) * heads * hd);
      call.v = s.floats(size_t(batch) * heads * hd);
      g_dev->memset_async(const_cast<float*>(call.q), 0, size_t(batch) * heads * hd * 4);
      g_dev->memset_async(const_cast<float*>(call.k), 0, size_t(batch) * heads * hd * 4);
      g_dev->memset_async(const_cast<float*>(call.v), 0, size_t(batch) * heads * hd * 4);
      call.out = s.floats(size_t(batch) * heads * hd);
      call.rows = batch;
      call.kv = kabi::KvLayer{cache, stride, lay.v_offset, lay.scale_offset, bs, heads, hd, int32_t(kvt)};
      call.num_heads = heads;
      call.num_kv_heads = heads;
      call.head_dim = hd;
      call.scale = 0.088f;
      const double ms = timer.median_ms(20, [&](int) { cuda::ops::attention(*g_dev, call, sa, ds); });
      const double bytes = double(batch) * ctx * stride / bs;
      std::printf("kv %-6s batch %2d ctx %4d: %8.1f us  %7.0f GB/s  %5.1f%% of copy\n", cpu::kv_dtype_name(kvt), batch, ctx, ms * 1e3, bytes / (ms * 1e-3) / 1e9,
                  100 * bytes / (ms * 1e-3) / 1e9 / copy_gbs);
    }
  }
  // Prefill attention and GEMM throughput (f32 SIMT: the reference is the GPU's f32 FMA rate, not tensor cores).
  std::printf("\nprefill attention (MHA 32 x 128, causal) and GEMM (M = prompt tokens)\n");
  for (int T : {512, 2048, 4096}) {
    Scratch s;
    const int heads = 32, hd = 128, bs = 16, nb = (T + bs - 1) / bs;
    const cpu::KvBlockLayout lay = cpu::kv_block_layout(cpu::KvDType::f32, heads, bs, hd);
    const int64_t stride = lay.block_bytes;
    void* cache = s.alloc(size_t(nb) * stride);
    std::vector<int32_t> tables(nb), pos(T), seq(T, 0);
    std::iota(tables.begin(), tables.end(), 0);
    std::iota(pos.begin(), pos.end(), 0);
    std::vector<int32_t> tiles(4 * size_t(T / 32 + 2)), drows(T);
    int32_t nt = 0, nd = 0;
    cuda::ops::plan_attention(seq.data(), pos.data(), T, tiles.data(), &nt, drows.data(), &nd);
    cuda::ops::StepArrays sa;
    sa.positions = s.put(pos);
    sa.seq_of_token = s.put(seq);
    sa.block_tables = s.put(tables);
    sa.max_blocks_per_seq = nb;
    sa.tiles = s.put(tiles);
    sa.num_tiles = nt;
    cuda::ops::AttentionCall call{};
    float* qkv = s.floats(size_t(T) * heads * hd);
    g_dev->memset_async(qkv, 0, size_t(T) * heads * hd * 4);
    call.q = call.k = call.v = qkv;
    call.out = s.floats(size_t(T) * heads * hd);
    call.rows = T;
    call.kv = kabi::KvLayer{cache, stride, lay.v_offset, lay.scale_offset, bs, heads, hd, 0};
    call.num_heads = call.num_kv_heads = heads;
    call.head_dim = hd;
    call.scale = 0.088f;
    const double ms = timer.median_ms(5, [&](int) { cuda::ops::attention(*g_dev, call, sa, cuda::ops::DecodeSplits{}); });
    const double flops = 4.0 * heads * hd * (double(T) * (T + 1) / 2);
    std::printf("attention prefill %4d tokens: %8.2f ms  %6.1f TFLOP/s\n", T, ms, flops / (ms * 1e-3) / 1e12);
    for (DType dt : {DType::f16, DType::f32}) {
      const int N = 4096, K = 4096;
      void* w = s.alloc(size_t(N) * K * cpu::dtype_size(dt));
      g_dev->memset_async(w, 0, size_t(N) * K * cpu::dtype_size(dt));
      float* y = s.floats(size_t(T) * N);
      cuda::ops::LinearContext ctx{dt == DType::f32 ? lt : nullptr, ws, ws_floats, 128};
      const double gms = timer.median_ms(5, [&](int) { cuda::ops::linear(*g_dev, ctx, qkv, T, K, w, int(dt), N, nullptr, y); });
      std::printf("GEMM %s %4d x 4096 x 4096%s: %8.2f ms  %6.1f TFLOP/s\n", dtype_name(dt), T,
                  (dt == DType::f32 && lt) ? " (cuBLASLt)" : "", gms, 2.0 * T * N * K / (gms * 1e-3) / 1e12);
    }
  }
}

std::string exe_dir(const char* argv0) {
  std::string p = argv0;
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

}  // namespace

int main(int argc, char** argv) {
  bool perf = false, emulate = false;
  std::string fatbin;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--perf") == 0) perf = true;
    else if (std::strcmp(argv[i], "--emulate") == 0) emulate = true;
    else if (std::strcmp(argv[i], "--fatbin") == 0 && i + 1 < argc) fatbin = argv[++i];
    else g_filter = argv[i];
  }
  if (emulate) cuda::install_driver(llmc_emu::driver());
  std::string why;
  const cuda::DriverApi* api = cuda::load_driver(&why);
  if (api == nullptr) {
    std::printf("cuda_backend_ops: no CUDA driver: skipped (%s)\n", why.c_str());
    return 77;
  }
  g_emulated = api->emulated;
  if (g_emulated && perf) {
    std::printf("cuda_backend_ops: --perf needs a GPU (the emulator's timings mean nothing)\n");
    return 2;
  }
  try {
    Device dev(*api, 0);
    g_dev = &dev;
    std::vector<uint8_t> image;
    if (!g_emulated) {
      if (fatbin.empty() && std::getenv("LLMC_CUDA_FATBIN") != nullptr) fatbin = std::getenv("LLMC_CUDA_FATBIN");
      if (fatbin.empty()) fatbin = exe_dir(argv[0]) + "/llmc.fatbin";
      std::ifstream f(fatbin, std::ios::binary);
      if (!f) {
        std::printf("cuda_backend_ops: no fatbin at %s: build it with `cmake -S native -B native/build -DLLMC_BUILD_FATBIN=ON && "
                    "cmake --build native/build`, or pass --fatbin FILE\n", fatbin.c_str());
        return 2;
      }
      image.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    dev.load_kernels(image, g_emulated ? "the emulated kernels" : fatbin, "cmake --build native/build --target llmc_fatbin");
    cuda::ops::configure(dev, cuda::ops::kMaxHeadDim);
    std::string lt_why;
    std::unique_ptr<cuda::CublasLt> lt = cuda::CublasLt::open(dev, &lt_why);
    DeviceBuffer ws;
    const int64_t ws_floats = int64_t(8) << 20;
    ws.allocate(dev, size_t(ws_floats) * 4, "GEMM split-K workspace");
    cpu::ThreadPool pool(0);
    g_pool = &pool;
    const cuda::DeviceInfo& di = dev.info();
    std::printf("cuda_backend_ops on %s (%s, %d SMs, kernels: %s, cuBLASLt: %s)%s\n", di.name.c_str(), di.arch().c_str(), di.sms,
                dev.code_path().c_str(), lt ? lt->library().c_str() : lt_why.c_str(),
                g_emulated ? " -- emulated on the CPU: small shapes, no timings" : "");
    test_gather();
    test_norms();
    test_rope();
    test_elementwise();
    test_linear(lt.get(), ws.get<float>(), ws_floats);
    test_linear_q(ws.get<float>(), ws_floats);
    test_attention();
    test_sampling();
    std::printf("\n%d cases, %d failed\n", g_cases, g_failures);
    if (perf) run_perf(lt.get(), ws.get<float>(), ws_floats);
  } catch (const runtime::Error& e) {
    std::printf("cuda_backend_ops: error: %s\n", e.what());
    return 2;
  }
  return g_failures == 0 ? 0 : 1;
}
