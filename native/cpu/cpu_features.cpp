// cpuid leaves read here: 1 (ecx: FMA bit 12, OSXSAVE 27, AVX 28, F16C 29), 7.0 (ebx: AVX2 5, AVX512F 16,
// AVX512DQ 17, AVX512BW 30, AVX512VL 31; ecx: AVX512_VNNI 11; edx: AMX_BF16 22, AVX512_FP16 23, AMX_TILE 24,
// AMX_INT8 25) and 7.1 (eax: AVX512_BF16 5). XCR0 bits: 1-2 xmm/ymm, 5-7 opmask/zmm, 17-18 tile config/data.
//
// Linux (5.16+) keeps AMX tile data out of a process's XSAVE area until the process asks for it with
// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA); without that the first tile instruction raises SIGILL even
// though cpuid and XCR0 both say AMX is there. The permission is process-wide, so asking once is enough.
#include "cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <cstdint>

namespace llmc::cpu {

namespace {

#if defined(__x86_64__) || defined(__i386__)
uint64_t read_xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}
#endif

bool request_amx_permission() {
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return false;
  unsigned long bits = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &bits) != 0) return false;
  return (bits >> kXfeatureXtiledata) & 1;
#else
  return false;
#endif
}

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned max_leaf = a;
  __cpuid(1, a, b, c, d);
  const bool osxsave = (c >> 27) & 1;
  const bool avx = (c >> 28) & 1;
  f.fma = (c >> 12) & 1;
  f.f16c = (c >> 29) & 1;
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  f.os_avx = osxsave && (xcr0 & 0x6) == 0x6;
  f.os_avx512 = f.os_avx && (xcr0 & 0xe0) == 0xe0;
  f.os_amx = f.os_avx && (xcr0 & 0x60000) == 0x60000;
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned max_sub = a;
  f.avx2 = avx && f.os_avx && ((b >> 5) & 1);
  f.fma = f.fma && f.os_avx;
  f.f16c = f.f16c && f.os_avx;
  if (f.os_avx512) {
    f.avx512f = (b >> 16) & 1;
    f.avx512dq = (b >> 17) & 1;
    f.avx512bw = (b >> 30) & 1;
    f.avx512vl = (b >> 31) & 1;
    f.avx512_vnni = (c >> 11) & 1;
    f.avx512_fp16 = (d >> 23) & 1;
    if (max_sub >= 1) {
      unsigned a1, b1, c1, d1;
      __cpuid_count(7, 1, a1, b1, c1, d1);
      f.avx512_bf16 = (a1 >> 5) & 1;
    }
  }
  const bool cpu_amx = (d >> 24) & 1;
  if (cpu_amx && f.os_amx) {
    f.amx_permission = request_amx_permission();
    f.amx_tile = f.amx_permission;
    f.amx_bf16 = f.amx_tile && ((d >> 22) & 1);
    f.amx_int8 = f.amx_tile && ((d >> 25) & 1);
  }
#endif
  return f;
}

}  // namespace

std::string CpuFeatures::names() const {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512dq, "avx512dq");
  add(avx512_vnni, "avx512_vnni");
  add(avx512_bf16, "avx512_bf16");
  add(avx512_fp16, "avx512_fp16");
  add(amx_tile, "amx_tile");
  add(amx_bf16, "amx_bf16");
  add(amx_int8, "amx_int8");
  return s.empty() ? "none" : s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace llmc::cpu
