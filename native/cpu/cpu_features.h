// What this x86 CPU and its OS let the kernels use, read once from cpuid, XGETBV (which register state the OS saves
// on a context switch) and, for AMX, the Linux permission request. A feature the CPU has but the OS does not save
// (AVX-512 under an old kernel or a hypervisor that masks XCR0 bits, AMX before arch_prctl) counts as absent: its
// first instruction would fault.
#pragma once
#include <string>

namespace llmc::cpu {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;                      // AVX2 level
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;  // AVX-512 level
  bool avx512_vnni = false, avx512_bf16 = false, avx512_fp16 = false;          // AVX-512 extensions
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;                    // AMX (usable: OS + permission)
  bool os_avx = false, os_avx512 = false, os_amx = false;  // XCR0 saves ymm / zmm+opmask / tile state
  bool amx_permission = false;  // arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) succeeded
  // "avx2 fma f16c avx512f ... amx_int8": the usable features, for inspect --runtime and test logs.
  std::string names() const;
};

// Detected on first call (thread-safe); the AMX permission is requested then, once per process.
const CpuFeatures& cpu_features();

}  // namespace llmc::cpu
