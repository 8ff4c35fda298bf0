// SIMD level detection and dtype helpers. The level is chosen once (CPU features, lowered by LLMC_SIMD) and read
// by every kernel's dispatch; tests may override it with set_simd_level.
//
// AVX-512 code exists for the quantized linear (linear_quant_avx512.cpp) only so far: at the avx512 level the other
// kernels run their AVX2 versions.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels.h"

namespace llmc::cpu {

size_t dtype_size(DType t) { return size_t(dtype_bits(t)) / 8; }

const char* simd_name(Simd s) {
  switch (s) {
    case Simd::avx2: return "avx2";
    case Simd::avx512: return "avx512";
    default: return "scalar";
  }
}

namespace {

// Highest level this build has kernels for and this CPU (and OS: libgcc checks XCR0) can run.
Simd supported_level() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
      return Simd::avx512;
    return Simd::avx2;
  }
#endif
  return Simd::scalar;
}

Simd initial_level() {
  Simd level = supported_level();
  if (const char* env = std::getenv("LLMC_SIMD")) {
    Simd asked = level;
    if (std::strcmp(env, "scalar") == 0) asked = Simd::scalar;
    else if (std::strcmp(env, "avx2") == 0) asked = Simd::avx2;
    else if (std::strcmp(env, "avx512") == 0) asked = Simd::avx512;
    if (asked < level) level = asked;  // the variable can only lower the level
  }
  return level;
}

std::atomic<int> g_level{-1};

}  // namespace

Simd simd_level() {
  int v = g_level.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(initial_level());
    g_level.store(v, std::memory_order_relaxed);
  }
  return static_cast<Simd>(v);
}

// Clamped to what the CPU supports, so a test asking for avx512 on an AVX2 machine runs AVX2 and never faults.
void set_simd_level(Simd s) {
  const Simd top = supported_level();
  g_level.store(static_cast<int>(s < top ? s : top), std::memory_order_relaxed);
}

}  // namespace llmc::cpu
