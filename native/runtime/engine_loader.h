// Loads an engine directory (docs/engine-format.md): checks config.json's versions, mmaps rank0.engine read-only,
// validates its header and every weight's byte range, parses and validates the plan, and points each weight at
// its bytes inside the mapping. Backend-independent: backends receive the LoadedEngine.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "host_buffer.h"
#include "llmc/engine_format.generated.h"
#include "manifest.h"
#include "mapped_file.h"
#include "plan.h"

namespace llmc::runtime {

// rank0.engine fixed header (all little-endian), decoded. The sizes, offsets and alignments come from
// schema/engine-format.json (llmc/engine_format.generated.h), as the TS writer's do.
struct EngineFileHeader {
  static constexpr uint64_t kSize = LLMC_ENGINE_HEADER_BYTES;
  static constexpr uint64_t kDataAlignment = LLMC_ENGINE_DATA_ALIGN;
  static constexpr uint64_t kWeightAlignment = LLMC_ENGINE_WEIGHT_ALIGN;
  char magic[8];          // "LLMCENG\0"
  uint32_t version;       // LLMC_ENGINE_FORMAT_VERSION
  uint32_t flags;         // 0
  uint64_t plan_length;   // P: bytes of plan JSON right after the header
  uint64_t data_offset;   // D: absolute, multiple of kDataAlignment
  uint64_t data_size;     // bytes of weight data at D
};

struct LoadedEngine {
  std::string dir;
  Manifest manifest;
  MappedFile file;               // rank0.engine; weights point into it
  EngineFileHeader header{};
  Plan plan;
  uint64_t weights_bytes = 0;    // sum of weight nbytes (dummy weights included)
  HostBuffer dummy_storage;      // generated values of dummy weights (dummy_weights.h); empty until filled
};

// Throws Error (LLMC_ERR_IO / BAD_ENGINE / VERSION / UNSUPPORTED) with a one-line message and the fix.
// Dummy weights are left without data: fill_dummy_weights() (dummy_weights.h) generates them.
// A sharded engine: `rank` picks rank<rank>.engine, the only file this process maps.
std::unique_ptr<LoadedEngine> load_engine(const std::string& engine_dir, int rank = 0);

// Everything load_engine checks about rank0.engine's bytes, on an image already in memory: the header, the layout
// (plan and data inside the file, nothing after the data), the plan (parsed and validated), its agreement with
// e.manifest (a file from another engine is refused), and every weight's byte range; then points the weights
// into `bytes`, which must outlive e. `path` names the file in messages. (load_engine maps the file and calls
// this; the fuzzer, native/fuzz, calls it on its inputs.)
void bind_engine_image(LoadedEngine& e, const uint8_t* bytes, uint64_t size, const std::string& path,
                       const std::string& rebuild, int rank = 0);  // rank: the plan must be that rank's

// The header fields of a file image; validates the magic and the version (BAD_ENGINE / VERSION) but not offsets.
EngineFileHeader read_engine_header(const uint8_t* bytes, uint64_t size, const std::string& where,
                                    const std::string& rebuild_hint);

}  // namespace llmc::runtime
