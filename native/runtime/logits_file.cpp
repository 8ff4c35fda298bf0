#include <cerrno>
#include <cstring>

#include "errors.h"
#include "request.h"

namespace llmc::runtime {

LogitsFile::~LogitsFile() {
  if (f_ != nullptr) std::fclose(f_);
}

void LogitsFile::open(const std::string& path) {
  f_ = std::fopen(path.c_str(), "wb");
  if (f_ == nullptr) fail(LLMC_ERR_IO, "cannot write logits file " + path + ": " + std::strerror(errno));
  path_ = path;
  rows_ = 0;
  error_.clear();
}

bool LogitsFile::write_rows(const float* rows, int64_t count, int64_t vocab) {
  if (f_ == nullptr || !error_.empty()) return false;
  const size_t n = static_cast<size_t>(count * vocab);
  if (std::fwrite(rows, sizeof(float), n, f_) != n) {
    error_ = "cannot write logits file " + path_ + ": " + std::strerror(errno);
    return false;
  }
  rows_ += static_cast<int32_t>(count);
  return true;
}

std::string LogitsFile::close() {
  if (f_ != nullptr) {
    if (std::fclose(f_) != 0 && error_.empty()) error_ = "cannot write logits file " + path_ + ": " + std::strerror(errno);
    f_ = nullptr;
  }
  return error_;
}

}  // namespace llmc::runtime
