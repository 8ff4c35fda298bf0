// Row movement: embedding (gather table rows by token id), pos_embedding (add a gathered row), split (column
// blocks of a fused projection into separate matrices) and select_rows (rows wanted by the LM head).
// All are memory copies with at most one multiply-add per element; the only SIMD work is widening 16-bit table
// rows to f32. Ids and positions are trusted: the runtime validates them against the table size.
#include <cstring>

#include "avx2.h"
#include "dtype.h"
#include "kernels.h"

namespace llmc::cpu {
namespace {

constexpr int64_t kElemsPerChunk = 1 << 14;

int64_t row_grain(int64_t width) { return width >= kElemsPerChunk ? 1 : kElemsPerChunk / (width > 0 ? width : 1); }

const void* table_row(const void* table, DType tt, int64_t row, int64_t width) {
  return static_cast<const char*>(table) + row * width * int64_t(dtype_size(tt));
}

// ------------------------------------------------------------------------------------------------ scalar

// y = row * scale (+ base, if base is not null)
void scale_row_scalar(const void* row, DType tt, int64_t width, float scale, const float* base, float* y) {
  for (int64_t i = 0; i < width; ++i) {
    const float v = load_weight(row, tt, i) * scale;
    y[i] = base ? base[i] + v : v;
  }
}

// ------------------------------------------------------------------------------------------------ AVX2

LLMC_AVX2 void scale_row_avx2(const void* row, DType tt, int64_t width, float scale, const float* base, float* y) {
  const __m256 vs = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= width; i += 8) {
    __m256 v = _mm256_mul_ps(avx2::load8(row, tt, i), vs);
    if (base) v = _mm256_add_ps(_mm256_loadu_ps(base + i), v);
    _mm256_storeu_ps(y + i, v);
  }
  for (; i < width; ++i) {
    const float v = load_weight(row, tt, i) * scale;
    y[i] = base ? base[i] + v : v;
  }
}

void scale_row(bool simd, const void* row, DType tt, int64_t width, float scale, const float* base, float* y) {
  if (simd) scale_row_avx2(row, tt, width, scale, base, y);
  else scale_row_scalar(row, tt, width, scale, base, y);
}

}  // namespace

void embedding(ThreadPool& pool, const int32_t* ids, int64_t rows, const void* table, DType tt, int64_t width,
               float scale, float* y) {
  const bool simd = simd_level() >= Simd::avx2;
  note_kernel_path(KernelOp::gather, simd ? "avx2" : "scalar");
  pool.parallel_for(rows, row_grain(width), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const void* row = table_row(table, tt, ids[r], width);  // [width]
      if (tt == DType::f32 && scale == 1.0f)
        std::memcpy(y + r * width, row, size_t(width) * sizeof(float));
      else
        scale_row(simd, row, tt, width, scale, nullptr, y + r * width);
    }
  });
}

void pos_embedding(ThreadPool& pool, const float* x, const int32_t* positions, int64_t rows, const void* table,
                   DType tt, int64_t width, int32_t offset, float* y) {
  const bool simd = simd_level() >= Simd::avx2;
  note_kernel_path(KernelOp::gather, simd ? "avx2" : "scalar");
  pool.parallel_for(rows, row_grain(width), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const void* row = table_row(table, tt, int64_t(positions[r]) + offset, width);  // [width]
      scale_row(simd, row, tt, width, 1.0f, x + r * width, y + r * width);
    }
  });
}

void split(ThreadPool& pool, const float* x, int64_t rows, const int32_t* widths, int32_t count, float* const* outs) {
  int64_t total = 0;
  for (int32_t i = 0; i < count; ++i) total += widths[i];
  pool.parallel_for(rows, row_grain(total), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = x + r * total;  // [total]
      for (int32_t i = 0; i < count; ++i) {
        std::memcpy(outs[i] + r * widths[i], src, size_t(widths[i]) * sizeof(float));
        src += widths[i];
      }
    }
  });
}

void select_rows(const float* x, int64_t width, const int32_t* row_ids, int64_t count, float* y) {
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(y + i * width, x + int64_t(row_ids[i]) * width, size_t(width) * sizeof(float));
}

}  // namespace llmc::cpu
