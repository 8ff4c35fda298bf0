// A planted kernel bug for tests of `llmc verify` (test/verify/): with LLMC_TEST_FAULT_OP=<op name> (e.g.
// gated_activation), the CPU backend adds 0.05 to the first column of every output of every node of that op,
// after its kernel ran: a small, deterministic error in one kernel that verify must trace to exactly that
// node. Never set it outside tests. Costs one branch per node when unset.
#pragma once
#include <cstdint>
#include <string>

namespace llmc::runtime {

class TestFault {
 public:
  TestFault();  // reads LLMC_TEST_FAULT_OP; disabled when unset or empty
  bool hits(const char* op) const { return !op_.empty() && op_ == op; }
  // data: [rows, width] f32, row-major.
  static void apply(float* data, int64_t rows, int64_t width);

 private:
  std::string op_;
};

}  // namespace llmc::runtime
