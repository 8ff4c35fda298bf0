#include "fatbin.h"

#include <cstring>

namespace llmc::cuda {

namespace {

constexpr uint32_t kMagic = 0xBA55ED50u;
constexpr uint64_t kArchSpecificFlag = 0x100000u;

uint16_t u16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t u32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint64_t u64(const uint8_t* p) { return uint64_t(u32(p)) | uint64_t(u32(p + 4)) << 32; }

}  // namespace

bool parse_fatbin(const uint8_t* data, size_t size, std::vector<FatbinEntry>* entries, std::string* why) {
  entries->clear();
  size_t at = 0;
  while (at < size) {
    if (size - at < 16 || u32(data + at) != kMagic) {
      if (!entries->empty() && size - at < 16) break;  // trailing padding
      *why = "not a CUDA fatbin (no 0xBA55ED50 header at byte " + std::to_string(at) + ")";
      return false;
    }
    const uint16_t header = u16(data + at + 6);
    const uint64_t payload = u64(data + at + 8);
    if (header < 16 || payload > size - at - header) {
      *why = "truncated CUDA fatbin (image at byte " + std::to_string(at) + " claims " + std::to_string(payload) + " bytes)";
      return false;
    }
    size_t e = at + header;
    const size_t end = at + header + size_t(payload);
    while (e < end) {
      if (end - e < 48) {
        *why = "truncated fatbin entry at byte " + std::to_string(e);
        return false;
      }
      const uint16_t kind = u16(data + e);
      const uint32_t eh = u32(data + e + 4);
      const uint64_t ep = u64(data + e + 8);
      if (eh < 48 || eh > end - e || ep > end - e - eh) {
        *why = "corrupt fatbin entry at byte " + std::to_string(e);
        return false;
      }
      FatbinEntry fe;
      fe.kind = kind == 1 ? FatbinEntry::Kind::ptx : kind == 2 ? FatbinEntry::Kind::sass : FatbinEntry::Kind::other;
      fe.arch = int(u32(data + e + 28));
      fe.arch_specific = (u64(data + e + 40) & kArchSpecificFlag) != 0;
      fe.payload_bytes = ep;
      entries->push_back(fe);
      e += eh + size_t(ep);
    }
    at = end;
    while (at < size && at % 8 != 0) ++at;  // images are 8-byte aligned when concatenated
  }
  if (entries->empty()) {
    *why = "CUDA fatbin with no entries";
    return false;
  }
  return true;
}

std::string entry_name(const FatbinEntry& e) {
  std::string s = (e.kind == FatbinEntry::Kind::ptx ? "compute_" : "sm_") + std::to_string(e.arch);
  if (e.arch_specific) s += "a";
  return s;
}

std::string describe_entries(const std::vector<FatbinEntry>& entries) {
  std::string s;
  for (const FatbinEntry& e : entries) {
    if (e.kind == FatbinEntry::Kind::other) continue;
    if (!s.empty()) s += ", ";
    s += entry_name(e);
    if (e.kind == FatbinEntry::Kind::ptx) s += " (PTX)";
  }
  return s.empty() ? "nothing usable" : s;
}

ArchMatch match_device(const std::vector<FatbinEntry>& entries, int cc_major, int cc_minor) {
  const int dev = cc_major * 10 + cc_minor;
  ArchMatch best;
  for (const FatbinEntry& e : entries) {
    if (e.kind != FatbinEntry::Kind::sass) continue;
    const bool fits = e.arch_specific ? e.arch == dev : (e.arch / 10 == cc_major && e.arch % 10 <= cc_minor);
    // Prefer the newest fitting SASS, and an arch-specific one over a generic one of the same arch.
    if (fits && (best.how != ArchMatch::How::sass || e.arch > best.entry.arch ||
                 (e.arch == best.entry.arch && e.arch_specific && !best.entry.arch_specific))) {
      best.how = ArchMatch::How::sass;
      best.entry = e;
    }
  }
  if (best.how == ArchMatch::How::sass) return best;
  for (const FatbinEntry& e : entries) {
    if (e.kind != FatbinEntry::Kind::ptx) continue;
    const bool fits = e.arch_specific ? e.arch == dev : e.arch <= dev;
    if (fits && (best.how == ArchMatch::How::none || e.arch > best.entry.arch)) {
      best.how = ArchMatch::How::ptx_jit;
      best.entry = e;
    }
  }
  return best;
}

std::string device_arch_name(int cc_major, int cc_minor) {
  std::string s = "sm_" + std::to_string(cc_major * 10 + cc_minor);
  if (cc_major == 9 && cc_minor == 0) s += "a";
  return s;
}

}  // namespace llmc::cuda
