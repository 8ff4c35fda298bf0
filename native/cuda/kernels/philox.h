// Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
// counter-based generator, so a draw depends only on (key, counter) and needs no state between steps. Shared by
// the device sampler and host code (tests check it against the published known-answer vectors).
#pragma once
#include <stdint.h>

#if defined(__CUDACC__) || defined(LLMC_CUDA_EMU)
#define LLMC_PHILOX_FN __host__ __device__ inline
#else
#define LLMC_PHILOX_FN inline
#endif

namespace llmc {
namespace philox {

// out = Philox4x32-10(counter, key).
LLMC_PHILOX_FN void philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c0;
    const uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c1 = uint32_t(p1);
    c3 = uint32_t(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

// A uniform double in [0, 1) with 53 random bits for (seed, counter): key = seed, counter = (counter, 0).
LLMC_PHILOX_FN double uniform(uint64_t seed, uint64_t counter) {
  const uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  const uint32_t ctr[4] = {uint32_t(counter), uint32_t(counter >> 32), 0u, 0u};
  uint32_t out[4];
  philox4x32_10(ctr, key, out);
  const uint64_t bits = (uint64_t(out[0]) << 32) | out[1];
  return double(bits >> 11) * (1.0 / 9007199254740992.0);  // 2^-53
}

}  // namespace philox
}  // namespace llmc
