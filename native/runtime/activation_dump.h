// Debugging dumps: with LLMC_DUMP_DIR set, every activation a step computes is written to that directory as raw
// little-endian f32 [rows, width], named after the plan value (`step0003.l2.attn.f32`), and listed in
// DIR/index.tsv (step, op, value name, rows, width, file). Two dumps (CPU vs CUDA, f32 vs f16 weights, llmc vs a
// reference written in the same format) are compared by scripts/compare-dumps.mjs, which names the first value that
// differs: the first wrong layer. Costs nothing when the variable is unset.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace llmc::runtime {

class ActivationDump {
 public:
  ActivationDump();  // reads LLMC_DUMP_DIR; disabled when unset or empty
  ~ActivationDump();
  ActivationDump(const ActivationDump&) = delete;
  ActivationDump& operator=(const ActivationDump&) = delete;

  bool enabled() const { return index_ != nullptr; }
  void begin_step() { ++step_; }
  // data: [rows, width] f32, row-major.
  void write(const char* op, const std::string& value_name, const float* data, int64_t rows, int64_t width);

 private:
  std::string dir_;
  std::FILE* index_ = nullptr;
  int step_ = -1;
};

}  // namespace llmc::runtime
