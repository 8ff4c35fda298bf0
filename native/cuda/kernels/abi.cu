// llmc_abi_v<N>: the marker kernel whose name carries LLMC_CUDA_ABI_VERSION (kernel_abi.h). The host looks it up
// at load, so a fatbin compiled from other kernel sources is refused with the rebuild command.
#include "common.cuh"

LLMC_KERNEL void llmc_abi_v4(const llmc::kabi::AbiParams p) {
  if (p.out != nullptr && threadIdx.x == 0 && blockIdx.x == 0) *p.out = LLMC_CUDA_ABI_VERSION;
}
