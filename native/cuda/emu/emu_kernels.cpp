// Every kernel of native/cuda/kernels compiled as C++ for the CPU emulator (cuda_emu.h), and the table the fake
// driver's cuModuleGetFunction looks names up in. The table comes from LLMC_CUDA_KERNELS, so a kernel listed in
// kernel_abi.h but missing from the sources fails to compile here.
#include "cuda_emu.h"

// clang-format off
#include "../kernels/abi.cu"
#include "../kernels/attention_decode.cu"
#include "../kernels/attention_prefill.cu"
#include "../kernels/elementwise.cu"
#include "../kernels/embedding.cu"
#include "../kernels/kv_cache.cu"
#include "../kernels/linear_gemm.cu"
#include "../kernels/linear_gemv.cu"
#include "../kernels/linear_quant.cu"
#include "../kernels/norm.cu"
#include "../kernels/rope.cu"
#include "../kernels/rows.cu"
#include "../kernels/sampling.cu"
// clang-format on

// The kernels are declared inside their files' namespaces; extern "C" makes these global declarations name the
// same functions.
#define LLMC_EMU_DECLARE(name, P) extern "C" void name(const llmc::kabi::P p);
LLMC_CUDA_KERNELS(LLMC_EMU_DECLARE)
#undef LLMC_EMU_DECLARE

namespace llmc_emu {

#define LLMC_EMU_ENTRY(name, P)                                                                            \
  {#name, sizeof(llmc::kabi::P), [](const void* params) { name(*static_cast<const llmc::kabi::P*>(params)); }},
const KernelEntry kKernelTable[] = {LLMC_CUDA_KERNELS(LLMC_EMU_ENTRY)};
#undef LLMC_EMU_ENTRY

const KernelEntry* kernel_table(int* count) {
  *count = int(sizeof(kKernelTable) / sizeof(kKernelTable[0]));
  return kKernelTable;
}

}  // namespace llmc_emu
