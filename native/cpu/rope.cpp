// rope: rotary position embedding of x[rows, num_heads * head_dim] into y (same shape).
//
// The angle of pair i in row r is positions[r] * inv_freq[i], a product in f32 as HF computes it; its cos and sin
// come from the C library and are computed once per row (rotary_dim/2 of them), then shared by every head. Both
// versions use the same cos/sin values, so the AVX2 version differs from the scalar one only by FMA rounding.
// The same row functions rotate q and k in place in linear_rope's epilogue (rope_epilogue.h), with a table of
// every row's cos/sin built once per call: the fused op gives rope's results bit for bit at each level.
#include <cmath>
#include <cstring>
#include <vector>

#include "avx2.h"
#include "kernels.h"
#include "rope_epilogue.h"

namespace llmc::cpu {
namespace {

constexpr int64_t kElemsPerChunk = 1 << 14;

struct RopeShape {
  int32_t num_heads, head_dim, rotary_dim;
  RopeStyle style;
};

// cs[0:half] = cos, cs[half:2*half] = sin of the row's angles.
void row_angles(int32_t pos, const float* inv_freq, int32_t half, float* cs) {
  for (int32_t i = 0; i < half; ++i) {
    const float angle = float(pos) * inv_freq[i];
    cs[i] = std::cos(angle);
    cs[half + i] = std::sin(angle);
  }
}

// cd = [c0 c0 c1 c1 ...], sd = [-s0 s0 -s1 s1 ...] from cs (see rope_row_avx2).
void expand_gptj(const float* cs, int32_t half, float* cd, float* sd) {
  for (int32_t i = 0; i < half; ++i) {
    cd[2 * i] = cd[2 * i + 1] = cs[i];
    sd[2 * i] = -cs[half + i];
    sd[2 * i + 1] = cs[half + i];
  }
}

// ------------------------------------------------------------------------------------------------ scalar

void rope_row_scalar(const float* x, const float* cs, const RopeShape& s, float* y) {
  const int32_t half = s.rotary_dim / 2;
  for (int32_t h = 0; h < s.num_heads; ++h) {
    const float* xh = x + int64_t(h) * s.head_dim;  // [head_dim]
    float* yh = y + int64_t(h) * s.head_dim;
    for (int32_t i = 0; i < half; ++i) {
      // neox pairs i with i + half; gptj pairs 2i with 2i + 1.
      const int32_t ia = s.style == RopeStyle::neox ? i : 2 * i;
      const int32_t ib = s.style == RopeStyle::neox ? i + half : 2 * i + 1;
      const float a = xh[ia], b = xh[ib], c = cs[i], sn = cs[half + i];
      yh[ia] = a * c - b * sn;
      yh[ib] = b * c + a * sn;
    }
    if (yh != xh)
      for (int32_t i = s.rotary_dim; i < s.head_dim; ++i) yh[i] = xh[i];
  }
}

// ------------------------------------------------------------------------------------------------ AVX2

// For gptj the cos/sin tables are expanded per element: cd = [c0 c0 c1 c1 ...], sd = [-s0 s0 -s1 s1 ...], so that
// y = x * cd + swap_pairs(x) * sd with swap_pairs([a0 b0 a1 b1]) = [b0 a0 b1 a1].
LLMC_AVX2 void rope_row_avx2(const float* x, const float* cs, const float* cd, const float* sd, const RopeShape& s,
                             float* y) {
  const int32_t half = s.rotary_dim / 2;
  for (int32_t h = 0; h < s.num_heads; ++h) {
    const float* xh = x + int64_t(h) * s.head_dim;  // [head_dim]
    float* yh = y + int64_t(h) * s.head_dim;
    if (s.style == RopeStyle::neox) {
      int32_t i = 0;
      for (; i + 8 <= half; i += 8) {
        const __m256 a = _mm256_loadu_ps(xh + i), b = _mm256_loadu_ps(xh + half + i);
        const __m256 c = _mm256_loadu_ps(cs + i), sn = _mm256_loadu_ps(cs + half + i);
        _mm256_storeu_ps(yh + i, _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, sn)));
        _mm256_storeu_ps(yh + half + i, _mm256_fmadd_ps(b, c, _mm256_mul_ps(a, sn)));
      }
      for (; i < half; ++i) {
        const float a = xh[i], b = xh[half + i], c = cs[i], sn = cs[half + i];
        yh[i] = a * c - b * sn;
        yh[half + i] = b * c + a * sn;
      }
    } else {
      int32_t e = 0;
      for (; e + 8 <= s.rotary_dim; e += 8) {
        const __m256 v = _mm256_loadu_ps(xh + e);
        const __m256 swapped = _mm256_permute_ps(v, 0xB1);
        _mm256_storeu_ps(yh + e, _mm256_fmadd_ps(v, _mm256_loadu_ps(cd + e), _mm256_mul_ps(swapped, _mm256_loadu_ps(sd + e))));
      }
      for (; e + 1 < s.rotary_dim; e += 2) {
        const float a = xh[e], b = xh[e + 1], c = cs[e / 2], sn = cs[half + e / 2];
        yh[e] = a * c - b * sn;
        yh[e + 1] = b * c + a * sn;
      }
    }
    if (s.head_dim > s.rotary_dim && yh != xh)  // the pass-through part of a partial rotary (nothing to do in place)
      std::memcpy(yh + s.rotary_dim, xh + s.rotary_dim, size_t(s.head_dim - s.rotary_dim) * sizeof(float));
  }
}

}  // namespace

void rope(ThreadPool& pool, const float* x, int64_t rows, const int32_t* positions, int32_t num_heads,
          int32_t head_dim, int32_t rotary_dim, const float* inv_freq, RopeStyle style, float* y) {
  if (rows <= 0) return;
  const RopeShape s{num_heads, head_dim, rotary_dim, style};
  const int32_t half = rotary_dim / 2;
  const int64_t width = int64_t(num_heads) * head_dim;
  const bool simd = simd_level() >= Simd::avx2;
  note_kernel_path(KernelOp::rope, simd ? "avx2" : "scalar");
  const int64_t grain = width >= kElemsPerChunk ? 1 : kElemsPerChunk / (width > 0 ? width : 1);
  pool.parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int) {
    thread_local std::vector<float> table;  // cos | sin | gptj cos per element | gptj signed sin per element
    table.resize(size_t(2 * half + 2 * rotary_dim));
    float* cs = table.data();
    float* cd = cs + 2 * half;
    float* sd = cd + rotary_dim;
    for (int64_t r = r0; r < r1; ++r) {
      row_angles(positions[r], inv_freq, half, cs);
      if (!simd) {
        rope_row_scalar(x + r * width, cs, s, y + r * width);
        continue;
      }
      if (style == RopeStyle::gptj) expand_gptj(cs, half, cd, sd);
      rope_row_avx2(x + r * width, cs, cd, sd, s, y + r * width);
    }
  });
}

// ------------------------------------------------------------------------------------------------ epilogue

void rope_fill_table(const int32_t* positions, int64_t r0, int64_t r1, const float* inv_freq, int32_t rotary_dim,
                     RopeStyle style, float* table) {
  const int32_t half = rotary_dim / 2;
  const int64_t tw = rope_table_floats(rotary_dim);
  for (int64_t r = r0; r < r1; ++r) {
    float* cs = table + r * tw;  // cos | sin | gptj cos per element | gptj signed sin per element
    row_angles(positions[r], inv_freq, half, cs);
    if (style == RopeStyle::gptj) expand_gptj(cs, half, cs + rotary_dim, cs + 2 * rotary_dim);
  }
}

void rope_heads_inplace(float* y, const float* row_table, int32_t num_heads, int32_t head_dim, int32_t rotary_dim,
                        RopeStyle style, bool simd) {
  const RopeShape s{num_heads, head_dim, rotary_dim, style};
  if (simd) rope_row_avx2(y, row_table, row_table + rotary_dim, row_table + 2 * rotary_dim, s, y);
  else rope_row_scalar(y, row_table, s, y);
}

}  // namespace llmc::cpu
