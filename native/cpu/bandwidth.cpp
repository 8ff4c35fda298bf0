// measure_read_bandwidth: the roofline a decode GEMV is judged against. Every pool thread sums its own contiguous
// slice of a 512 MiB buffer (far larger than any cache) with independent vector adds, so the loop is bound by
// loads alone. Passes repeat for about `seconds`; the best pass is reported, as the least disturbed by the rest
// of the machine.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "avx2.h"
#include "kernels.h"

namespace llmc::cpu {
namespace {

constexpr size_t kBufferBytes = size_t(512) << 20;

LLMC_AVX2 float sum_avx2(const float* p, int64_t n) {
  // 8 accumulators: enough independent adds that the loop never waits on add latency.
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
    a4 = _mm256_add_ps(a4, _mm256_load_ps(p + i + 32));
    a5 = _mm256_add_ps(a5, _mm256_load_ps(p + i + 40));
    a6 = _mm256_add_ps(a6, _mm256_load_ps(p + i + 48));
    a7 = _mm256_add_ps(a7, _mm256_load_ps(p + i + 56));
  }
  float s = avx2::hsum(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                     _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))));
  for (; i < n; ++i) s += p[i];
  return s;
}

float sum_scalar(const float* p, int64_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  for (; i < n; ++i) s0 += p[i];
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
  std::vector<float> sink(pool.size() > 0 ? pool.size() : 1);
  double best = 0.0;
  const auto start = std::chrono::steady_clock::now();
  for (int pass = 0;; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(n, 1 << 16, [&](int64_t b, int64_t e, int thread) {
      sink[thread] += simd ? sum_avx2(buf + b, e - b) : sum_scalar(buf + b, e - b);
    });
    const auto t1 = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(t1 - t0).count();
    if (dt > 0 && double(kBufferBytes) / dt > best) best = double(kBufferBytes) / dt;
    if (pass >= 2 && std::chrono::duration<double>(t1 - start).count() >= seconds) break;
  }
  volatile float keep = 0;  // the sums must not be optimised away
  for (float v : sink) keep = keep + v;
  std::free(buf);
  return best / 1e9;
}

}  // namespace llmc::cpu
