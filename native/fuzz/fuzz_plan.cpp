// libFuzzer target: the plan JSON of rank0.engine, through the JSON reader, parse_plan and validate_plan.
#include "fuzz_common.h"
#include "plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  llmc_fuzz::expect_clean([&] {
    llmc::json::Value v;
    try {
      v = llmc::json::parse(reinterpret_cast<const char*>(data), size);
    } catch (const llmc::json::ParseError&) {
      return;  // the loader turns this into a BAD_ENGINE error
    }
    llmc::runtime::Plan plan = llmc::runtime::parse_plan(v, "fuzz plan");
    llmc::runtime::validate_plan(plan, "fuzz plan");
  });
  return 0;
}
