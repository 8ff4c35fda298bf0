// Zeroed host memory from an anonymous mapping: large buffers (the activation arena, the KV cache) cost only the
// pages a run actually touches, so a generous default budget does not commit RAM up front.
#pragma once
#include <cstddef>
#include <string>

namespace llmc::runtime {

class HostBuffer {
 public:
  HostBuffer() = default;
  ~HostBuffer();
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  // Maps `bytes` (> 0) of zeroed memory. Throws Error(LLMC_ERR_LIMIT) naming `what` when the system refuses.
  void allocate(size_t bytes, const std::string& what);

  float* floats() const { return static_cast<float*>(data_); }
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace llmc::runtime
