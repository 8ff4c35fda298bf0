// Errors inside the runtime: C++ code throws llmc::runtime::Error (a status from llmc.h plus a one-line message
// that says what is wrong and, where there is one, the fix). The C API (c_api.cpp) catches it at the boundary and
// turns it into a return status + llmc_last_error(); nothing else crosses the C boundary.
#pragma once
#include <new>
#include <stdexcept>
#include <string>

#include "llmc/llmc.h"

namespace llmc::runtime {

// A message on one line whatever it quotes from the input: line breaks become the two characters \n / \r.
inline std::string one_line(const std::string& message) {
  if (message.find_first_of("\r\n") == std::string::npos) return message;
  std::string out;
  for (char c : message) out += c == '\n' ? std::string("\\n") : c == '\r' ? std::string("\\r") : std::string(1, c);
  return out;
}

class Error : public std::runtime_error {
 public:
  Error(llmc_status status, const std::string& message) : std::runtime_error(one_line(message)), status_(status) {}
  llmc_status status() const { return status_; }

 private:
  llmc_status status_;
};

[[noreturn]] inline void fail(llmc_status status, const std::string& message) { throw Error(status, message); }

// The thread-local message behind llmc_last_error().
void set_last_error(const std::string& message);
const char* last_error();

// Runs fn, turning any exception into a status and a last-error message. Returns LLMC_OK when fn returns.
template <typename Fn>
int guard(Fn&& fn) noexcept {
  try {
    fn();
    return LLMC_OK;
  } catch (const Error& e) {
    set_last_error(e.what());
    return e.status();
  } catch (const std::bad_alloc&) {
    set_last_error("out of memory");
    return LLMC_ERR_LIMIT;
  } catch (const std::exception& e) {
    set_last_error(std::string("internal error: ") + e.what());
    return LLMC_ERR_INTERNAL;
  } catch (...) {
    set_last_error("internal error: unknown exception");
    return LLMC_ERR_INTERNAL;
  }
}

}  // namespace llmc::runtime
