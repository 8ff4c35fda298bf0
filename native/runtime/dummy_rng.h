// The values of a dummy weight (llmc build --dummy-weights; docs/engine-format.md "Dummy weights"): element i of
// a weight with settings {kind, seed, std, value} is a pure function of (seed, i), so any thread, any chunking and
// any backend produce the same numbers. Header-only and free of the standard library so device code can include
// it too (compile with -DLLMC_DUMMY_HD=__host__ __device__ and use the same operations; a device fill must not
// let the compiler fuse `1 + t * k` into an FMA: use __fmul_rn / __fadd_rn there).
//
//   r    = splitmix64 output i of seed:  z = seed + (i + 1) * 0x9E3779B97F4A7C15, then the splitmix64 finalizer
//   t    = (sum of the four 16-bit parts of r) - 131070            an integer in [-131070, 131070], mean 0
//   k    = float(std * sqrt(3)) / 65536                              (exact scaling of a rounded float)
//   normal: x = float(t) * k          ~ N(0, std) (Irwin-Hall of 4 uniforms: bounded at 3.46 std, variance std^2)
//   ones:   x = 1 + float(t) * k      norms' gains: ones with a little noise
//   const:  x = value
// then rounded to the weight's dtype (round to nearest even).
#pragma once
#include <stdint.h>

#ifndef LLMC_DUMMY_HD
#define LLMC_DUMMY_HD
#endif

namespace llmc::dummy {

LLMC_DUMMY_HD inline uint64_t splitmix64(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// t of the formula above: an approximately normal integer with standard deviation 65536 / sqrt(3).
LLMC_DUMMY_HD inline int32_t centered_sum(uint64_t r) {
  return int32_t((r & 0xffffu) + ((r >> 16) & 0xffffu) + ((r >> 32) & 0xffffu) + (r >> 48)) - 131070;
}

// k of the formula: multiplies t into N(0, std).
LLMC_DUMMY_HD inline float scale_for_std(float std_dev) {
  return float(double(std_dev) * 1.7320508075688772) * (1.0f / 65536.0f);
}

}  // namespace llmc::dummy
