// The rope epilogue of linear_rope (native/cpu/linear.cpp): rope's row kernels (native/cpu/rope.cpp) applied in
// place to heads of a linear's output that a thread has just computed, with the cos/sin of every row of the step
// computed once per call instead of once per rope op.
#pragma once
#include <cstdint>

#include "kernels.h"

namespace llmc::cpu {

// Floats of one row of the table: cos[rotary_dim/2] | sin[rotary_dim/2] | gptj cos per element [rotary_dim] |
// gptj signed sin per element [rotary_dim] (the last two only filled for gptj).
inline int64_t rope_table_floats(int32_t rotary_dim) { return 3 * int64_t(rotary_dim); }

// Rows [r0, r1) of table[rows, rope_table_floats(rotary_dim)]: angle of pair i in row r = positions[r] * inv_freq[i]
// in f32, exactly as rope computes it.
void rope_fill_table(const int32_t* positions, int64_t r0, int64_t r1, const float* inv_freq, int32_t rotary_dim,
                     RopeStyle style, float* table);

// Rotates num_heads consecutive heads (head_dim each) starting at y, in place, with one row of the table; elements
// past rotary_dim stay. simd: the AVX2 row kernel (callers check simd_level() >= avx2), else the scalar one.
void rope_heads_inplace(float* y, const float* row_table, int32_t num_heads, int32_t head_dim, int32_t rotary_dim,
                        RopeStyle style, bool simd);

}  // namespace llmc::cpu
