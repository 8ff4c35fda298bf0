#include "activation_dump.h"

#include <cstdlib>
#include <sys/stat.h>

#include "errors.h"

namespace llmc::runtime {

ActivationDump::ActivationDump() {
  const char* dir = std::getenv("LLMC_DUMP_DIR");
  if (dir == nullptr || *dir == '\0') return;
  dir_ = dir;
  ::mkdir(dir_.c_str(), 0755);  // may exist already; the fopen below reports a real problem
  index_ = std::fopen((dir_ + "/index.tsv").c_str(), "w");
  if (index_ == nullptr) fail(LLMC_ERR_IO, "LLMC_DUMP_DIR=" + dir_ + " is not a writable directory; create it or unset LLMC_DUMP_DIR");
  std::fprintf(index_, "step\top\tvalue\trows\twidth\tfile\n");
}

ActivationDump::~ActivationDump() {
  if (index_ != nullptr) std::fclose(index_);
}

void ActivationDump::write(const char* op, const std::string& value_name, const float* data, int64_t rows, int64_t width) {
  if (index_ == nullptr || rows <= 0) return;
  char step[16];
  std::snprintf(step, sizeof step, "step%04d", step_);
  const std::string file = std::string(step) + "." + value_name + ".f32";
  std::FILE* f = std::fopen((dir_ + "/" + file).c_str(), "wb");
  if (f == nullptr) fail(LLMC_ERR_IO, "cannot write " + dir_ + "/" + file);
  const size_t n = static_cast<size_t>(rows * width);
  const bool ok = std::fwrite(data, sizeof(float), n, f) == n;
  std::fclose(f);
  if (!ok) fail(LLMC_ERR_IO, "cannot write " + dir_ + "/" + file + " (disk full?)");
  std::fprintf(index_, "%d\t%s\t%s\t%lld\t%lld\t%s\n", step_, op, value_name.c_str(), static_cast<long long>(rows),
               static_cast<long long>(width), file.c_str());
  std::fflush(index_);
}

}  // namespace llmc::runtime
