// Shared by the libFuzzer targets (docs/hardening.md): the contract is that the loader returns or throws
// llmc::runtime::Error (a one-line message); any other exception escapes to libFuzzer, which reports it as a
// crash, and ASan/UBSan report any out-of-bounds access or undefined behaviour on the way.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "errors.h"
#include "json.h"
#include "llmc/llmc.h"
#include "llmc/ops.generated.h"

namespace llmc_fuzz {

// Runs fn; a runtime Error is a clean rejection. Its message must be one line (the CLI prints it as such).
template <typename Fn>
void expect_clean(Fn&& fn) {
  try {
    fn();
  } catch (const llmc::runtime::Error& e) {
    const std::string m = e.what();
    if (m.find('\n') != std::string::npos) __builtin_trap();  // a multi-line error breaks the one-line contract
  }
}

// A config.json this runtime accepts, with no identity fields (so every plan may be compared with it).
inline std::string minimal_manifest() {
  return std::string("{\"format_version\": ") + std::to_string(LLMC_ENGINE_FORMAT_VERSION) + ", \"schema_hash\": \"" +
         llmc::kSchemaHash + "\", \"target\": {\"backend\": \"cpu\"}}";
}

}  // namespace llmc_fuzz
