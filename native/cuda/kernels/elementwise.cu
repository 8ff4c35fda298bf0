// Element-wise kernels over flat f32 arrays, grid-stride, float4 when every pointer is 16-byte aligned and n % 4 == 0.
//
//   llmc_add                out = a + b
//   llmc_mul                out = a * b
//   llmc_activation         out = act(a)                  (silu, gelu_erf, gelu_tanh, relu, gelu_bloom, identity)
//   llmc_gated_activation   out = act(a) * b              (a = gate, b = up: SwiGLU / GeGLU)
//   llmc_add_bias           y[r, j] += bias[j]            (after a cuBLASLt GEMM)
//                                                         block: kEltThreads, grid: enough blocks to fill the GPU
// The activation formulas are the CPU reference's scalar ones (native/cpu/elementwise.cpp).
#include "common.cuh"

namespace llmc_elementwise {

using namespace llmc_dev;

enum Op { kAdd, kMul, kAct, kGated };

template <int OP>
LLMC_DEVICE float apply(float a, float b, int kind) {
  if (OP == kAdd) return a + b;
  if (OP == kMul) return a * b;
  if (OP == kAct) return activate(a, kind);
  return activate(a, kind) * b;
}

template <int OP>
LLMC_DEVICE void run(const EltParams& p) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t start = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool vec = (p.n & 3) == 0 && aligned16(p.a) && aligned16(p.out) && (OP == kAct || aligned16(p.b));
  if (vec) {
    const int64_t n4 = p.n >> 2;
    for (int64_t i = start; i < n4; i += stride) {
      const float4 a = load_f4(p.a + 4 * i);
      float4 b = a;
      if (OP != kAct) b = load_f4(p.b + 4 * i);
      float4 o;
      o.x = apply<OP>(a.x, b.x, p.kind);
      o.y = apply<OP>(a.y, b.y, p.kind);
      o.z = apply<OP>(a.z, b.z, p.kind);
      o.w = apply<OP>(a.w, b.w, p.kind);
      store_f4(p.out + 4 * i, o);
    }
  } else {
    for (int64_t i = start; i < p.n; i += stride) p.out[i] = apply<OP>(p.a[i], OP == kAct ? 0.0f : p.b[i], p.kind);
  }
}


LLMC_KERNEL void __launch_bounds__(kEltThreads) llmc_add(const EltParams p) { llmc_elementwise::run<llmc_elementwise::kAdd>(p); }
LLMC_KERNEL void __launch_bounds__(kEltThreads) llmc_mul(const EltParams p) { llmc_elementwise::run<llmc_elementwise::kMul>(p); }
LLMC_KERNEL void __launch_bounds__(kEltThreads) llmc_activation(const EltParams p) {
  llmc_elementwise::run<llmc_elementwise::kAct>(p);
}
LLMC_KERNEL void __launch_bounds__(kEltThreads) llmc_gated_activation(const EltParams p) {
  llmc_elementwise::run<llmc_elementwise::kGated>(p);
}

LLMC_KERNEL void __launch_bounds__(kEltThreads) llmc_add_bias(const BiasParams p) {
  const int64_t n = p.rows * p.width;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    p.y[i] += load_weight(p.bias, p.dtype, i % p.width);
}

}  // namespace llmc_elementwise
