// CHECK(cond, fmt, ...) for the native self tests: counts every check, prints the failing ones with file, line
// and a printf-style detail, and keeps going, so one run reports every failure. main() ends with
// `return check_summary("name");`.
#pragma once
#include <cstdio>

namespace llmc::test {
inline int g_checks = 0;
inline int g_check_failures = 0;

inline int check_summary(const char* name) {
  std::printf("%s: %d checks, %d failed\n", name, g_checks, g_check_failures);
  return g_check_failures == 0 ? 0 : 1;
}
}  // namespace llmc::test

#define CHECK(cond, ...)                                                        \
  do {                                                                          \
    ++::llmc::test::g_checks;                                                   \
    if (!(cond)) {                                                              \
      ++::llmc::test::g_check_failures;                                         \
      std::printf("  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);             \
      std::printf(__VA_ARGS__);                                                 \
      std::printf("\n");                                                        \
    }                                                                           \
  } while (0)
