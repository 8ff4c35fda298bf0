// libFuzzer target: an engine's config.json (the manifest), through parse_manifest and the rebuild command.
#include "fuzz_common.h"
#include "manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  llmc_fuzz::expect_clean([&] {
    std::string text(reinterpret_cast<const char*>(data), size);
    llmc::runtime::Manifest m = llmc::runtime::parse_manifest(text, "/fuzz/engine/config.json", "/fuzz/engine");
    (void)llmc::runtime::rebuild_command(m, "/fuzz/engine");
  });
  return 0;
}
