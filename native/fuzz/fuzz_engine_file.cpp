// libFuzzer target: a whole rank0.engine image (header, layout, plan JSON, plan/manifest agreement, every weight's
// byte range) through bind_engine_image, exactly what load_engine runs on the mapped file. The manifest is the
// file named by LLMC_FUZZ_MANIFEST (an engine's config.json: its identity fields are then compared too), or a
// minimal one.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine_loader.h"
#include "fuzz_common.h"

namespace {

llmc::runtime::Manifest g_manifest;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string text = llmc_fuzz::minimal_manifest();
  if (const char* path = std::getenv("LLMC_FUZZ_MANIFEST"); path != nullptr && *path != '\0') {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  g_manifest = llmc::runtime::parse_manifest(text, "config.json", "/fuzz/engine");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  llmc_fuzz::expect_clean([&] {
    llmc::runtime::LoadedEngine e;
    e.dir = "/fuzz/engine";
    e.manifest = g_manifest;
    llmc::runtime::bind_engine_image(e, data, size, "/fuzz/engine/rank0.engine", "rebuild it");
    // What a backend does first with the bound weights: touch every byte range the loader accepted.
    volatile uint8_t sink = 0;
    for (const auto& v : e.plan.values) {
      if (!v.is_weight() || v.weight.data == nullptr || v.weight.nbytes == 0) continue;
      const uint8_t* p = static_cast<const uint8_t*>(v.weight.data);
      sink = sink ^ p[0] ^ p[v.weight.nbytes - 1];
    }
  });
  return 0;
}
