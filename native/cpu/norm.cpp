// rms_norm and layer_norm over the rows of x[rows, width]. One row is a few KiB, so rows are the unit of work
// (parallel only when there are enough of them). Statistics are summed in f32; layer_norm takes two passes
// (mean, then the mean of squared deviations), which avoids the cancellation of E[x^2] - mean^2.
//
// Rounding follows HF: rms_norm is (x * rsqrt(mean(x^2) + eps)) * (w + offset), and layer_norm normalises first
// and then applies w and b.
#include <cmath>

#include "avx2.h"
#include "dtype.h"
#include "kernels.h"

namespace llmc::cpu {
namespace {

constexpr int64_t kElemsPerChunk = 1 << 14;  // rows per thread hand-off: at least this many elements

int64_t row_grain(int64_t width) { return width >= kElemsPerChunk ? 1 : kElemsPerChunk / (width > 0 ? width : 1); }

// ------------------------------------------------------------------------------------------------ scalar

void rms_norm_row_scalar(const float* x, int64_t width, const void* w, DType wt, float eps, float offset, float* y) {
  float ss = 0.0f;
  for (int64_t i = 0; i < width; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / float(width) + eps);
  for (int64_t i = 0; i < width; ++i) y[i] = (x[i] * inv) * (load_weight(w, wt, i) + offset);
}

void layer_norm_row_scalar(const float* x, int64_t width, const void* w, DType wt, const void* b, float eps,
                           float* y) {
  float sum = 0.0f;
  for (int64_t i = 0; i < width; ++i) sum += x[i];
  const float mean = sum / float(width);
  float ss = 0.0f;
  for (int64_t i = 0; i < width; ++i) ss += (x[i] - mean) * (x[i] - mean);
  const float inv = 1.0f / std::sqrt(ss / float(width) + eps);
  for (int64_t i = 0; i < width; ++i) {
    const float v = (x[i] - mean) * inv * load_weight(w, wt, i);
    y[i] = b ? v + load_weight(b, wt, i) : v;
  }
}

// ------------------------------------------------------------------------------------------------ AVX2

LLMC_AVX2 void rms_norm_row_avx2(const float* x, int64_t width, const void* w, DType wt, float eps, float offset,
                                 float* y) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= width; i += 32) {
    const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    const __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
    a0 = _mm256_fmadd_ps(v0, v0, a0);
    a1 = _mm256_fmadd_ps(v1, v1, a1);
    a2 = _mm256_fmadd_ps(v2, v2, a2);
    a3 = _mm256_fmadd_ps(v3, v3, a3);
  }
  for (; i + 8 <= width; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    a0 = _mm256_fmadd_ps(v, v, a0);
  }
  float ss = avx2::hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < width; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / float(width) + eps);
  const __m256 vinv = _mm256_set1_ps(inv), voff = _mm256_set1_ps(offset);
  i = 0;
  for (; i + 8 <= width; i += 8) {
    const __m256 scale = _mm256_add_ps(avx2::load8(w, wt, i), voff);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv), scale));
  }
  for (; i < width; ++i) y[i] = (x[i] * inv) * (load_weight(w, wt, i) + offset);
}

LLMC_AVX2 void layer_norm_row_avx2(const float* x, int64_t width, const void* w, DType wt, const void* b, float eps,
                                   float* y) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 16 <= width; i += 16) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
  }
  for (; i + 8 <= width; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
  float sum = avx2::hsum(_mm256_add_ps(a0, a1));
  for (; i < width; ++i) sum += x[i];
  const float mean = sum / float(width);
  const __m256 vmean = _mm256_set1_ps(mean);
  a0 = _mm256_setzero_ps();
  a1 = a0;
  i = 0;
  for (; i + 16 <= width; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vmean);
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vmean);
    a0 = _mm256_fmadd_ps(d0, d0, a0);
    a1 = _mm256_fmadd_ps(d1, d1, a1);
  }
  for (; i + 8 <= width; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vmean);
    a0 = _mm256_fmadd_ps(d, d, a0);
  }
  float ss = avx2::hsum(_mm256_add_ps(a0, a1));
  for (; i < width; ++i) ss += (x[i] - mean) * (x[i] - mean);
  const float inv = 1.0f / std::sqrt(ss / float(width) + eps);
  const __m256 vinv = _mm256_set1_ps(inv);
  i = 0;
  for (; i + 8 <= width; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmean), vinv), avx2::load8(w, wt, i));
    if (b) v = _mm256_add_ps(v, avx2::load8(b, wt, i));
    _mm256_storeu_ps(y + i, v);
  }
  for (; i < width; ++i) {
    const float v = (x[i] - mean) * inv * load_weight(w, wt, i);
    y[i] = b ? v + load_weight(b, wt, i) : v;
  }
}

// sum = a + b over one row (exact in any order, so the fused norms match add + norm bit for bit).
LLMC_AVX2 void add_row_avx2(const float* a, const float* b, int64_t width, float* s) {
  int64_t i = 0;
  for (; i + 8 <= width; i += 8) _mm256_storeu_ps(s + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < width; ++i) s[i] = a[i] + b[i];
}

void add_row(bool simd, const float* a, const float* b, int64_t width, float* s) {
  if (simd) return add_row_avx2(a, b, width, s);
  for (int64_t i = 0; i < width; ++i) s[i] = a[i] + b[i];
}

}  // namespace

void add_rms_norm(ThreadPool& pool, const float* a, const float* b, int64_t rows, int64_t width, const void* w, DType wt,
                  float eps, float weight_offset, float* sum, float* y) {
  if (rows <= 0 || width <= 0) return;
  const bool simd = simd_level() >= Simd::avx2;
  note_kernel_path(KernelOp::norm, simd ? "avx2" : "scalar");
  pool.parallel_for(rows, row_grain(width), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      float* s = sum + r * width;  // [width], still in L1 when the norm reads it
      add_row(simd, a + r * width, b + r * width, width, s);
      if (simd) rms_norm_row_avx2(s, width, w, wt, eps, weight_offset, y + r * width);
      else rms_norm_row_scalar(s, width, w, wt, eps, weight_offset, y + r * width);
    }
  });
}

void add_layer_norm(ThreadPool& pool, const float* a, const float* b, int64_t rows, int64_t width, const void* w,
                    DType wt, const void* bias, float eps, float* sum, float* y) {
  if (rows <= 0 || width <= 0) return;
  const bool simd = simd_level() >= Simd::avx2;
  note_kernel_path(KernelOp::norm, simd ? "avx2" : "scalar");
  pool.parallel_for(rows, row_grain(width), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      float* s = sum + r * width;
      add_row(simd, a + r * width, b + r * width, width, s);
      if (simd) layer_norm_row_avx2(s, width, w, wt, bias, eps, y + r * width);
      else layer_norm_row_scalar(s, width, w, wt, bias, eps, y + r * width);
    }
  });
}

void rms_norm(ThreadPool& pool, const float* x, int64_t rows, int64_t width, const void* w, DType wt, float eps,
              float weight_offset, float* y) {
  if (rows <= 0 || width <= 0) return;
  const bool simd = simd_level() >= Simd::avx2;
  note_kernel_path(KernelOp::norm, simd ? "avx2" : "scalar");
  pool.parallel_for(rows, row_grain(width), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      if (simd) rms_norm_row_avx2(x + r * width, width, w, wt, eps, weight_offset, y + r * width);
      else rms_norm_row_scalar(x + r * width, width, w, wt, eps, weight_offset, y + r * width);
    }
  });
}

void layer_norm(ThreadPool& pool, const float* x, int64_t rows, int64_t width, const void* w, DType wt,
                const void* b, float eps, float* y) {
  if (rows <= 0 || width <= 0) return;
  const bool simd = simd_level() >= Simd::avx2;
  note_kernel_path(KernelOp::norm, simd ? "avx2" : "scalar");
  pool.parallel_for(rows, row_grain(width), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      if (simd) layer_norm_row_avx2(x + r * width, width, w, wt, b, eps, y + r * width);
      else layer_norm_row_scalar(x + r * width, width, w, wt, b, eps, y + r * width);
    }
  });
}

}  // namespace llmc::cpu
