// A read-only memory map of a whole file (the weights are used in place, straight from the page cache).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace llmc::runtime {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps `path`. Throws Error(LLMC_ERR_IO) naming the file when it cannot be opened or mapped; `missing_hint` is
  // appended to the message when the file does not exist.
  void open(const std::string& path, const std::string& missing_hint);

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// Reads a whole (small) file into a string; throws Error(LLMC_ERR_IO) like MappedFile::open.
std::string read_text_file(const std::string& path, const std::string& missing_hint);

}  // namespace llmc::runtime
