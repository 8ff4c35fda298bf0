#include "errors.h"

namespace llmc::runtime {

namespace {
thread_local std::string tls_last_error;
}

void set_last_error(const std::string& message) {
  try {
    tls_last_error = message;
  } catch (...) {
    // Out of memory while recording an error: keep the previous text rather than throw across the C boundary.
  }
}

const char* last_error() { return tls_last_error.c_str(); }

}  // namespace llmc::runtime
