#include "test_fault.h"

#include <cstdio>
#include <cstdlib>

namespace llmc::runtime {

TestFault::TestFault() {
  const char* op = std::getenv("LLMC_TEST_FAULT_OP");
  if (op == nullptr || *op == '\0') return;
  op_ = op;
  std::fprintf(stderr, "llmc: LLMC_TEST_FAULT_OP=%s: a planted error is added to every %s output (tests only)\n", op, op);
}

void TestFault::apply(float* data, int64_t rows, int64_t width) {
  for (int64_t r = 0; r < rows; ++r) data[r * width] += 0.05f;
}

}  // namespace llmc::runtime
