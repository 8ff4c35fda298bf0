// measure_read_bandwidth: the roofline a decode GEMV is judged against. Every pool thread sums its own contiguous
// slice of a 16 MiB window as 8 interleaved sequential streams (one stream per core leaves DRAM bandwidth unused:
// the GEMV, which reads 8 weight rows at once, would beat it), with independent vector adds so the loop is bound by
// loads alone. Windows move through a 512 MiB buffer, so a window was last touched 496 MiB of reads ago and is not
// in any cache. Passes repeat for about `seconds`; the best pass is reported, as the least disturbed by the rest of
// the machine (short passes matter on shared virtual machines, whose throughput varies from one millisecond to the
// next).
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "avx2.h"
#include "kernels.h"

namespace llmc::cpu {
namespace {

constexpr size_t kBufferBytes = size_t(512) << 20;
constexpr int kWindows = 32;  // 16 MiB per pass
constexpr int kStreams = 8;

// Sums p[0, n) read as kStreams equal sub-ranges in lockstep. n is a multiple of kStreams * 16.
LLMC_AVX2 float sum_avx2(const float* p, int64_t n) {
  const int64_t len = n / kStreams;
  __m256 a[kStreams][2];
  for (int s = 0; s < kStreams; ++s) a[s][0] = a[s][1] = _mm256_setzero_ps();
  for (int64_t i = 0; i < len; i += 16)
    for (int s = 0; s < kStreams; ++s) {
      a[s][0] = _mm256_add_ps(a[s][0], _mm256_load_ps(p + s * len + i));
      a[s][1] = _mm256_add_ps(a[s][1], _mm256_load_ps(p + s * len + i + 8));
    }
  __m256 t = _mm256_setzero_ps();
  for (int s = 0; s < kStreams; ++s) t = _mm256_add_ps(t, _mm256_add_ps(a[s][0], a[s][1]));
  return avx2::hsum(t);
}

float sum_scalar(const float* p, int64_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int64_t i = 0; i < n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  return s0 + s1 + s2 + s3;
}

}  // namespace

double measure_read_bandwidth(ThreadPool& pool, double seconds) {
  const int64_t n = int64_t(kBufferBytes / sizeof(float));
  float* buf = static_cast<float*>(std::aligned_alloc(4096, kBufferBytes));
  if (!buf) return 0.0;
  // Touch every page (and give it a value) in parallel, so page faults are not timed and pages spread over threads.
  pool.parallel_for(n, 1 << 16, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) buf[i] = float(i & 7);
  });
  const bool simd = simd_level() >= Simd::avx2;
  const int64_t window = n / kWindows;
  const int64_t grain = kStreams * 16 * 64;  // chunk boundaries stay multiples of the streams' step
  std::vector<float> sink(size_t(pool.size()), 0.0f);
  double best = 0.0;
  const auto start = std::chrono::steady_clock::now();
  for (int pass = 0;; ++pass) {
    const float* base = buf + (pass % kWindows) * window;
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(window, grain, [&](int64_t b, int64_t e, int thread) {
      const int64_t len = (e - b) / grain * grain;  // the last chunk may be ragged: its tail is not timed
      sink[thread] += simd ? sum_avx2(base + b, len) : sum_scalar(base + b, len);
    });
    const auto t1 = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(t1 - t0).count();
    const double bytes = double(window) * sizeof(float);
    if (dt > 0 && bytes / dt > best) best = bytes / dt;
    if (pass >= 2 * kWindows && std::chrono::duration<double>(t1 - start).count() >= seconds) break;
  }
  volatile float keep = 0;  // the sums must not be optimised away
  for (float v : sink) keep = keep + v;
  std::free(buf);
  return best / 1e9;
}

}  // namespace llmc::cpu
