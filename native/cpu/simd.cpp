// SIMD level selection and the per-op record of which kernel path ran. The level is chosen once (CPU features
// from cpu_features(), lowered by LLMC_SIMD) and read by every kernel's dispatch; tests may override it with
// set_simd_level. A level names the best code a kernel may run: a kernel without code for that level runs its
// best lower one (an elementwise op has AVX2 code only, so at level amx it runs AVX2), and kernel_paths_json()
// says what each op really ran.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cpu_features.h"
#include "kernels.h"

namespace llmc::cpu {

size_t dtype_size(DType t) { return size_t(dtype_bits(t)) / 8; }

const char* simd_name(Simd s) {
  switch (s) {
    case Simd::avx2: return "avx2";
    case Simd::avx512: return "avx512";
    case Simd::avx512_bf16: return "avx512_bf16";
    case Simd::amx: return "amx";
    default: return "scalar";
  }
}

bool simd_from_name(const char* s, Simd* out) {
  for (Simd l : {Simd::scalar, Simd::avx2, Simd::avx512, Simd::avx512_bf16, Simd::amx}) {
    if (s && std::strcmp(s, simd_name(l)) == 0) {
      *out = l;
      return true;
    }
  }
  return false;
}

Simd cpu_simd_level() {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx2 && f.fma && f.f16c)) return Simd::scalar;
  if (!(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq)) return Simd::avx2;
  if (!f.avx512_bf16) return Simd::avx512;
  if (!(f.amx_tile && f.amx_bf16)) return Simd::avx512_bf16;
  return Simd::amx;
}

namespace {

Simd initial_level() {
  Simd level = cpu_simd_level();
  if (const char* env = std::getenv("LLMC_SIMD"); env && *env) {
    Simd asked;
    if (!simd_from_name(env, &asked)) {
      std::fprintf(stderr, "warning: LLMC_SIMD=%s is not a level; use scalar, avx2, avx512, avx512_bf16 or amx (ignored)\n", env);
    } else if (asked < level) {
      level = asked;  // the variable can only lower the level
    }
  }
  return level;
}

std::atomic<int> g_level{-1};
std::atomic<const char*> g_paths[static_cast<int>(KernelOp::count)];

const char* op_key(KernelOp op) {
  switch (op) {
    case KernelOp::linear_decode: return "linear_decode";
    case KernelOp::linear_prefill: return "linear_prefill";
    case KernelOp::norm: return "norm";
    case KernelOp::rope: return "rope";
    case KernelOp::attention: return "attention";
    case KernelOp::elementwise: return "elementwise";
    case KernelOp::gather: return "gather";
    default: return "?";
  }
}

}  // namespace

Simd simd_level() {
  int v = g_level.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(initial_level());
    g_level.store(v, std::memory_order_relaxed);
  }
  return static_cast<Simd>(v);
}

// Clamped to what the CPU supports, so a test asking for amx on an AVX2 machine runs AVX2 and never faults.
void set_simd_level(Simd s) {
  const Simd top = cpu_simd_level();
  g_level.store(static_cast<int>(s < top ? s : top), std::memory_order_relaxed);
}

void note_kernel_path(KernelOp op, const char* path) {
  std::atomic<const char*>& slot = g_paths[static_cast<int>(op)];
  if (slot.load(std::memory_order_relaxed) != path) slot.store(path, std::memory_order_relaxed);
}

std::string kernel_paths_json() {
  std::string s = "{";
  for (int i = 0; i < static_cast<int>(KernelOp::count); ++i) {
    const char* p = g_paths[i].load(std::memory_order_relaxed);
    s += std::string(i ? ", " : "") + "\"" + op_key(static_cast<KernelOp>(i)) + "\": " + (p ? "\"" + std::string(p) + "\"" : "null");
  }
  s += std::string(", \"simd\": \"") + simd_name(simd_level()) + "\", \"cpu_simd\": \"" + simd_name(cpu_simd_level()) +
       "\", \"cpu_features\": \"" + cpu_features().names() + "\"}";
  return s;
}

std::string planned_kernel_paths_json(DType wt) {
  const char* level = simd_level() >= Simd::avx2 ? "avx2" : "scalar";  // the other kernels have AVX2 code only
  std::string s = std::string("{\"linear_decode\": \"") + linear_path_name(1, wt) + "\", \"linear_prefill\": \"" +
                  linear_path_name(512, wt) + "\"";
  for (const char* k : {"norm", "rope", "attention", "elementwise", "gather"}) s += std::string(", \"") + k + "\": \"" + level + "\"";
  s += std::string(", \"simd\": \"") + simd_name(simd_level()) + "\", \"cpu_simd\": \"" + simd_name(cpu_simd_level()) +
       "\", \"cpu_features\": \"" + cpu_features().names() + "\"}";
  return s;
}

}  // namespace llmc::cpu
