// cuda_host_selftest: the host-side pieces of the CUDA backend that need no GPU.
//   - Philox4x32-10 against the published known-answer vectors (kernels/philox.h, shared with the device sampler);
//   - the fatbin reader and the SASS / PTX-JIT compatibility rule, on a synthetic image and, when given, on a real
//     fatbin compiled by nvcc (cuda_host_selftest --fatbin FILE --expect sm_80,sm_90a,compute_80);
//   - attention planning (prefill tiles / decode rows) of packed steps;
//   - the one-line error when libcuda.so.1 is missing (only checked when it really is missing here);
//   - DynLib (cuBLASLt and NCCL loading): the search list, symbols and the messages, on libm.so.6.
// Exit status 0 when every check passes.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <iterator>
#include <tuple>
#include <string>
#include <vector>

#include "../cuda/cuda_driver.h"
#include "../cuda/dynlib.h"
#include "../cuda/fatbin.h"
#include "../cuda/kernels/philox.h"
#include "../cuda/launch.h"
#include "llmc/llmc.h"

using namespace llmc::cuda;

namespace {

int g_failures = 0, g_cases = 0;

void expect(const std::string& name, bool ok, const std::string& detail = "") {
  ++g_cases;
  if (!ok) ++g_failures;
  std::printf("  %s  %-64s %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
}

void test_philox() {
  std::printf("philox4x32-10 known answers (Random123 kat_vectors)\n");
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  int i = 0;
  for (const Kat& k : kats) {
    uint32_t out[4];
    llmc::philox::philox4x32_10(k.ctr, k.key, out);
    char got[64];
    std::snprintf(got, sizeof got, "%08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    expect("philox kat " + std::to_string(i++), std::memcmp(out, k.out, sizeof out) == 0, got);
  }
  // uniform(): 53 bits in [0, 1), deterministic, different counters differ.
  const double a = llmc::philox::uniform(42, 7), b = llmc::philox::uniform(42, 7), c = llmc::philox::uniform(42, 8);
  expect("philox uniform deterministic, in [0,1), counter-dependent", a == b && a >= 0 && a < 1 && a != c);
  double mean = 0;
  for (int n = 0; n < 100000; ++n) mean += llmc::philox::uniform(1234, uint64_t(n));
  mean /= 100000;
  expect("philox uniform mean of 1e5 draws ~ 0.5", mean > 0.495 && mean < 0.505, std::to_string(mean));
}

// A synthetic fatbin: one image with the given (kind, arch, flags) entries and tiny payloads.
std::vector<uint8_t> make_fatbin(const std::vector<std::tuple<int, int, uint64_t>>& entries) {
  std::vector<uint8_t> body;
  auto put = [](std::vector<uint8_t>& v, uint64_t x, int n) {
    for (int i = 0; i < n; ++i) v.push_back(uint8_t(x >> (8 * i)));
  };
  for (auto [kind, arch, flags] : entries) {
    std::vector<uint8_t> e;
    put(e, uint64_t(kind), 2);
    put(e, 0x0101, 2);
    put(e, 64, 4);    // header size
    put(e, 16, 8);    // payload
    put(e, 0, 8);
    put(e, 0x10008, 4);
    put(e, uint64_t(arch), 4);
    put(e, 0, 8);
    put(e, flags, 8);
    while (e.size() < 64) e.push_back(0);
    for (int i = 0; i < 16; ++i) e.push_back(uint8_t(i));
    body.insert(body.end(), e.begin(), e.end());
  }
  std::vector<uint8_t> out;
  put(out, 0xBA55ED50u, 4);
  put(out, 1, 2);
  put(out, 16, 2);
  put(out, body.size(), 8);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

void test_fatbin_rules() {
  std::printf("fatbin table of contents and the device compatibility rule\n");
  const auto img = make_fatbin({{1, 80, 0x8011}, {2, 80, 0x11}, {2, 90, 0x100011}});
  std::vector<FatbinEntry> e;
  std::string why;
  const bool ok = parse_fatbin(img.data(), img.size(), &e, &why);
  expect("synthetic fatbin parses", ok, why);
  if (!ok) return;
  expect("entries: compute_80, sm_80, sm_90a", describe_entries(e) == "compute_80 (PTX), sm_80, sm_90a", describe_entries(e));
  struct Case {
    int major, minor;
    ArchMatch::How how;
    const char* entry;
  };
  const Case cases[] = {
      {8, 0, ArchMatch::How::sass, "sm_80"},     {8, 6, ArchMatch::How::sass, "sm_80"},
      {8, 9, ArchMatch::How::sass, "sm_80"},     {9, 0, ArchMatch::How::sass, "sm_90a"},
      {10, 0, ArchMatch::How::ptx_jit, "compute_80"}, {12, 0, ArchMatch::How::ptx_jit, "compute_80"},
      {7, 5, ArchMatch::How::none, ""},
  };
  for (const Case& c : cases) {
    const ArchMatch m = match_device(e, c.major, c.minor);
    const std::string name = "device " + std::to_string(c.major) + "." + std::to_string(c.minor);
    const bool good = m.how == c.how && (c.how == ArchMatch::How::none || entry_name(m.entry) == c.entry);
    expect(name + " -> " + (c.how == ArchMatch::How::sass ? "SASS " : c.how == ArchMatch::How::ptx_jit ? "PTX JIT " : "none ") + c.entry, good,
           m.how == ArchMatch::How::none ? "none" : entry_name(m.entry));
  }
  // sm_90a alone: not for 9.0's successors; PTX compute_90a only on 9.0.
  const auto img2 = make_fatbin({{2, 90, 0x100011}, {1, 90, 0x108011}});
  parse_fatbin(img2.data(), img2.size(), &e, &why);
  expect("sm_90a + compute_90a: nothing for 10.0", match_device(e, 10, 0).how == ArchMatch::How::none);
  expect("sm_90a + compute_90a: SASS for 9.0", match_device(e, 9, 0).how == ArchMatch::How::sass);
  // Damaged images are refused with a reason.
  std::vector<uint8_t> bad = img;
  bad[0] ^= 0xff;
  expect("bad magic refused", !parse_fatbin(bad.data(), bad.size(), &e, &why), why);
  std::vector<uint8_t> cut(img.begin(), img.begin() + 40);
  expect("truncated image refused", !parse_fatbin(cut.data(), cut.size(), &e, &why), why);
}

void test_real_fatbin(const std::string& path, const std::string& expected) {
  std::printf("fatbin compiled by nvcc: %s\n", path.c_str());
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<FatbinEntry> e;
  std::string why;
  const bool ok = parse_fatbin(bytes.data(), bytes.size(), &e, &why);
  expect("nvcc fatbin parses", ok, why);
  if (!ok) return;
  std::string names;
  for (const FatbinEntry& x : e) names += (names.empty() ? "" : ",") + entry_name(x);
  // Order-insensitive comparison with --expect.
  auto sorted = [](std::string s) {
    std::vector<std::string> parts;
    size_t at = 0;
    while (at <= s.size()) {
      const size_t c = s.find(',', at);
      parts.push_back(s.substr(at, c == std::string::npos ? std::string::npos : c - at));
      if (c == std::string::npos) break;
      at = c + 1;
    }
    std::sort(parts.begin(), parts.end());
    std::string out;
    for (auto& p : parts) out += p + ",";
    return out;
  };
  expect("entries are " + expected, expected.empty() || sorted(names) == sorted(expected), names);
  expect("H100 (9.0) runs SASS", match_device(e, 9, 0).how == ArchMatch::How::sass, entry_name(match_device(e, 9, 0).entry));
  expect("A100 (8.0) runs SASS", match_device(e, 8, 0).how == ArchMatch::How::sass, entry_name(match_device(e, 8, 0).entry));
  expect("L4 (8.9) runs sm_80 SASS", match_device(e, 8, 9).how == ArchMatch::How::sass, entry_name(match_device(e, 8, 9).entry));
  expect("B200 (10.0) JIT-compiles the PTX", match_device(e, 10, 0).how == ArchMatch::How::ptx_jit);
  expect("T4 (7.5) has nothing", match_device(e, 7, 5).how == ArchMatch::How::none);
}

void test_attention_plan() {
  std::printf("attention planning of packed steps\n");
  // Step: seq 0 decode (pos 40), seq 1 prefill of 70 tokens from 0, seq 2 decode (pos 3), seq 3 chunk of 5 at 100.
  std::vector<int32_t> seq, pos;
  seq.push_back(0);
  pos.push_back(40);
  for (int i = 0; i < 70; ++i) {
    seq.push_back(1);
    pos.push_back(i);
  }
  seq.push_back(2);
  pos.push_back(3);
  for (int i = 0; i < 5; ++i) {
    seq.push_back(3);
    pos.push_back(100 + i);
  }
  std::vector<int32_t> tiles(4 * 16), rows(seq.size());
  int32_t nt = 0, nd = 0;
  ops::plan_attention(seq.data(), pos.data(), int(seq.size()), tiles.data(), &nt, rows.data(), &nd);
  expect("decode rows are the single-token sequences", nd == 2 && rows[0] == 0 && rows[1] == 71);
  // seq 1 -> tiles of 32, 32, 6 (last positions 31, 63, 69); seq 3 -> 1 tile of 5 (last 104): latest first.
  const bool order = nt == 4 && tiles[0] == 3 && tiles[1] == 72 && tiles[2] == 5 && tiles[4] == 1 && tiles[5] == 65 &&
                     tiles[6] == 6 && tiles[8] == 1 && tiles[9] == 33 && tiles[12] == 1 && tiles[13] == 1 && tiles[14] == 32;
  expect("prefill tiles of <= 32 rows, latest positions first", order, "tiles " + std::to_string(nt));
  int covered = nd;
  for (int t = 0; t < nt; ++t) covered += tiles[4 * t + 2];
  expect("every token is in exactly one tile or decode row", covered == int(seq.size()));
}

void test_no_driver() {
  std::printf("driver loading\n");
  std::string why;
  const DriverApi* api = load_driver(&why);
  if (api != nullptr) {
    expect("libcuda.so.1 loads (" + api->library + ")", true);
    return;
  }
  expect("no libcuda.so.1: the one-line message", why == kNoDriverMessage, why);
}

void test_dynlib() {
  std::printf("optional libraries through dlopen (DynLib: cuBLASLt, NCCL)\n");
  {
    DynLib lib;
    const bool opened = lib.open({nullptr, "", "libllmc-no-such-library.so.1", "libm.so.6"});
    expect("unset and empty names skipped, a missing one passed over, libm.so.6 opens", opened && lib.is_open() && lib.name() == "libm.so.6",
           lib.name());
    double (*cos_fn)(double) = nullptr;
    lib.bind(cos_fn, "cos");
    expect("bind finds cos", cos_fn != nullptr && cos_fn(0.0) == 1.0 && lib.missing().empty());
    void (*none)() = nullptr;
    lib.bind(none, "llmc_no_such_symbol");
    lib.bind(none, "llmc_no_such_symbol_2");
    expect("a missing symbol: null, the first one named", none == nullptr && lib.missing() == "llmc_no_such_symbol", lib.missing());
    const std::string m = lib.missing_error("libm 2.0 is needed");
    expect("missing_error names the library, the symbol and what is needed", m == "libm.so.6 lacks llmc_no_such_symbol (libm 2.0 is needed)", m);
  }
  DynLib lib;
  const bool opened = lib.open({"", "libllmc-no-such-library.so.1", "libllmc-no-such-library.so"});
  const std::string e = lib.open_error("install it or set LLMC_X to its path");
  const std::string head = "libllmc-no-such-library.so.1 cannot be opened (", tail = "); install it or set LLMC_X to its path";
  expect("none opens: the first name tried, dlerror and the fix, on one line",
         !opened && !lib.is_open() && e.compare(0, head.size(), head) == 0 && e.size() > head.size() + tail.size() &&
             e.compare(e.size() - tail.size(), tail.size(), tail) == 0 && e.find('\n') == std::string::npos,
         e);
}

}  // namespace

int main(int argc, char** argv) {
  std::string fatbin, expected;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--fatbin") == 0 && i + 1 < argc) fatbin = argv[++i];
    else if (std::strcmp(argv[i], "--expect") == 0 && i + 1 < argc) expected = argv[++i];
  }
  test_philox();
  test_fatbin_rules();
  if (!fatbin.empty()) test_real_fatbin(fatbin, expected);
  test_attention_plan();
  test_no_driver();
  test_dynlib();
  std::printf("\n%d cases, %d failed\n", g_cases, g_failures);
  return g_failures == 0 ? 0 : 1;
}
