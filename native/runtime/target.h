// Which machine an engine was built for (manifest `target`, docs/cuda.md) and whether a given backend or GPU can
// run it. A cuda engine carries SASS for target.archs and PTX for target.ptx in kernels/llmc.fatbin; the CUDA
// backend asks engine_has_code_for() with the device's compute capability before loading the fatbin, and puts
// rebuild_command_for_device() in its error. The loader refuses a backend/target mismatch up front
// (check_engine_backend), so a cuda engine on the CPU backend fails with the command that fixes it.
#pragma once
#include <string>

#include "manifest.h"

namespace llmc::runtime {

// One entry of target.archs ("sm_90a": SASS) or target.ptx ("compute_80": PTX).
struct CudaCode {
  int major = 0;
  int minor = 0;
  char variant = 0;  // 0, 'a' (arch-specific: that exact GPU) or 'f' (family-specific: same major, minor >= this)
  bool ptx = false;
};

// "sm_80", "sm_90a", "sm_100f", "compute_80" -> CudaCode; false for anything else.
bool parse_cuda_code(const std::string& name, CudaCode* out);

// The driver's rules, for a device of compute capability major.minor:
//   SASS sm_XY   runs on X.y with y >= Y (same major: binary compatible within a generation)
//   SASS sm_XYa  runs on X.Y only; sm_XYf on X.y with y >= Y
//   PTX compute_XY is JIT-compiled for any device >= X.Y; compute_XYa only for X.Y, compute_XYf for X.y, y >= Y
bool code_runs_on(const CudaCode& code, int major, int minor);

// Whether the engine's fatbin has code the device can run (SASS first, else PTX JIT). `why` (may be null) gets a
// one-line explanation either way: what will run ("SASS sm_80 runs on sm_86", "PTX compute_80 is JIT-compiled
// for sm_120: the first load takes longer"), or why nothing can. False for engines not built for cuda.
bool engine_has_code_for(const Manifest& m, int sm_major, int sm_minor, std::string* why);

// `llmc build ... --target cuda --cuda-arch <the engine's archs + sm_XY of this device> --force`.
std::string rebuild_command_for_device(const Manifest& m, const std::string& engine_dir, int sm_major, int sm_minor);

// Refuses (LLMC_ERR_UNSUPPORTED, with the rebuild command) running a cuda engine on the CPU backend. For the
// CUDA backend the answer depends on the device: it calls engine_has_code_for() (false for a cpu engine, whose
// `why` says so) once it knows the GPU, and names rebuild_command_for_device() in its error.
void check_engine_backend(const Manifest& m, const std::string& backend, const std::string& engine_dir);

}  // namespace llmc::runtime
