// Measured arithmetic peaks of the instruction sets the linear kernels use, for backend_ops --perf: each figure is
// independent chains of one instruction on every thread for about 30 ms (best of 3 runs), so it is what this
// machine sustains with nothing but that instruction, under whatever else shares the cores.
//   avx2 fma: 10 chains of vfmadd ymm (16 flops each)     avx512 fma: 10 chains of vfmadd zmm (32 flops)
//   vdpbf16ps: 10 chains on zmm (64 flops each)           amx: 4 tiles of tdpbf16ps (16 x 16 x 32 x 2 = 16384 flops)
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "../cpu/avx512.h"
#include "../cpu/kernels.h"

namespace llmc::test {

__attribute__((target("avx2,fma"), noinline)) inline float chains_avx2(int64_t n) {
  __m256 a[10];
  for (int i = 0; i < 10; ++i) a[i] = _mm256_set1_ps(float(i));
  const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < 10; ++j) a[j] = _mm256_fmadd_ps(a[j], b, c);
  __m256 s = a[0];
  for (int i = 1; i < 10; ++i) s = _mm256_add_ps(s, a[i]);
  return _mm256_cvtss_f32(s);
}

LLMC_AVX512 __attribute__((noinline)) inline float chains_avx512(int64_t n) {
  __m512 a[10];
  for (int i = 0; i < 10; ++i) a[i] = _mm512_set1_ps(float(i));
  const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < 10; ++j) a[j] = _mm512_fmadd_ps(a[j], b, c);
  __m512 s = a[0];
  for (int i = 1; i < 10; ++i) s = _mm512_add_ps(s, a[i]);
  return _mm512_cvtss_f32(s);
}

LLMC_AVX512_BF16 __attribute__((noinline)) inline float chains_bf16(int64_t n) {
  __m512 a[10];
  for (int i = 0; i < 10; ++i) a[i] = _mm512_set1_ps(float(i));
  const __m512bh b = (__m512bh)_mm512_set1_epi32(0x3f803f80), c = (__m512bh)_mm512_set1_epi32(0x33d633d6);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < 10; ++j) a[j] = _mm512_dpbf16_ps(a[j], b, c);
  __m512 s = a[0];
  for (int i = 1; i < 10; ++i) s = _mm512_add_ps(s, a[i]);
  return _mm512_cvtss_f32(s);
}

LLMC_AMX __attribute__((noinline)) inline float chains_amx(int64_t n) {
  struct alignas(64) {
    uint8_t palette, start;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
  } cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
  alignas(64) static thread_local uint16_t src[16 * 32];
  alignas(64) static thread_local float dst[256];
  for (auto& v : src) v = 0x3c00;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, src, 64);
  _tile_loadd(5, src, 64);
  _tile_loadd(6, src, 64);
  _tile_loadd(7, src, 64);
  for (int64_t i = 0; i < n; ++i) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, dst, 64);
  _tile_release();
  return dst[0];
}

struct Peak {
  const char* name;  // instruction set, as the perf tables name it
  cpu::Simd level;   // the lowest SIMD level that has it
  double gflops;     // all threads together
};

// Peaks of every instruction set the CPU has (levels above cpu_simd_level() are left out), `threads` threads.
inline std::vector<Peak> measure_peaks(int threads) {
  struct Kind {
    const char* name;
    cpu::Simd level;
    float (*fn)(int64_t);
    double flops_per_iter;
    int64_t iters;  // about 30 ms at full speed
  };
  const Kind kinds[] = {
      {"avx2 fma", cpu::Simd::avx2, chains_avx2, 10 * 16.0, 2000000},
      {"avx512 fma", cpu::Simd::avx512, chains_avx512, 10 * 32.0, 1500000},
      {"avx512_bf16 vdpbf16ps", cpu::Simd::avx512_bf16, chains_bf16, 10 * 64.0, 1000000},
      {"amx tdpbf16ps", cpu::Simd::amx, chains_amx, 4 * 16384.0, 100000},
  };
  std::vector<Peak> peaks;
  std::atomic<float> sink{0};
  for (const Kind& k : kinds) {
    if (k.level > cpu::cpu_simd_level()) continue;
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> ts;
      for (int t = 0; t < threads; ++t) ts.emplace_back([&] { sink = sink + k.fn(k.iters); });
      for (auto& t : ts) t.join();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, threads * k.iters * k.flops_per_iter / s / 1e9);
    }
    peaks.push_back({k.name, k.level, best});
  }
  return peaks;
}

}  // namespace llmc::test
