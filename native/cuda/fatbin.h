// Reading a CUDA fatbin's table of contents (no CUDA tools needed), and the rule deciding whether it can run on a
// device: the engine's ENGINE/kernels/llmc.fatbin is checked against the GPU before loading, so a mismatch gets a
// message naming the device, what the fatbin holds and the exact rebuild command.
//
// Layout (little-endian): header { u32 magic 0xBA55ED50, u16 version, u16 header_size, u64 payload_size }, then
// entries { u16 kind (1 = PTX, 2 = ELF/SASS), u16 version, u32 header_size, u64 payload_size, ..., u32 arch at +28
// (e.g. 80, 90), ..., u64 flags at +40 (bit 0x100000: arch-specific target such as sm_90a) } followed by the
// payload. nvcc may concatenate several such images; all are read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace llmc::cuda {

struct FatbinEntry {
  enum class Kind { ptx, sass, other };
  Kind kind = Kind::other;
  int arch = 0;                // major * 10 + minor
  bool arch_specific = false;  // the 'a' targets (sm_90a): run only on exactly that compute capability
  uint64_t payload_bytes = 0;
};

// Parses the table of contents. Returns false (why = one line) when the bytes are not a fatbin.
bool parse_fatbin(const uint8_t* data, size_t size, std::vector<FatbinEntry>* entries, std::string* why);

// "sm_80", "sm_90a", "compute_80".
std::string entry_name(const FatbinEntry& e);
// "sm_80, sm_90a, compute_80 (PTX)".
std::string describe_entries(const std::vector<FatbinEntry>& entries);

// How a device of compute capability major.minor would run the fatbin:
//   sass     a machine-code entry for it: same major, entry minor <= device minor ('a' entries: exactly equal);
//   ptx_jit  no such SASS, but PTX for compute_XY <= the device's capability (JIT-compiled at load: slower first
//            load, and the driver must know the PTX version);
//   none     neither: the driver would fail with CUDA_ERROR_NO_BINARY_FOR_GPU.
struct ArchMatch {
  enum class How { sass, ptx_jit, none };
  How how = How::none;
  FatbinEntry entry;  // the entry the driver would pick (best SASS, else newest usable PTX)
};
ArchMatch match_device(const std::vector<FatbinEntry>& entries, int cc_major, int cc_minor);

// "sm_90a" for 9.0 devices that support the arch-specific features, "sm_86" otherwise: what to build for.
std::string device_arch_name(int cc_major, int cc_minor);

}  // namespace llmc::cuda
