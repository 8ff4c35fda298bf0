// The CPU emulator's driver table (a fake libcuda whose kernels run on CPU fibers, cuda_emu.h) for tests:
//
//   llmc::cuda::install_driver(llmc_emu::driver());   // before creating a CUDA backend / loading an engine
//
// The fake driver checks what a real one would refuse: launch shapes (block <= 1024 threads, grid.y/z <= 65535),
// dynamic shared memory above 48 KiB without cuFuncSetAttribute, copies outside an allocation, synchronous calls or
// copies while a stream is being captured into a CUDA graph. New allocations are filled with 0xff bytes (NaN
// floats, -1 ints) so reads of memory nobody wrote show up.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../cuda_driver.h"

namespace llmc_emu {

const llmc::cuda::DriverApi* driver();

struct Stats {
  int64_t kernel_launches = 0;    // executed launches (eager and from graphs)
  int64_t captured_launches = 0;  // launches recorded into graphs
  int64_t graph_launches = 0;
  int64_t blocks = 0;
  int64_t bytes_allocated = 0;    // currently
};
Stats& stats();
// Executed launches of one kernel (eager and from graphs) since the process started.
int64_t launches_of(const char* kernel_name);

// Emulated device properties.
void set_total_memory(size_t bytes);      // default 8 GiB
void set_compute_capability(int major, int minor);  // default 9.0

}  // namespace llmc_emu
