#include "host_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "errors.h"

namespace llmc::runtime {

HostBuffer::~HostBuffer() {
  if (data_ != nullptr) ::munmap(data_, bytes_);
}

void HostBuffer::allocate(size_t bytes, const std::string& what) {
  if (data_ != nullptr) {
    ::munmap(data_, bytes_);
    data_ = nullptr;
    bytes_ = 0;
  }
  if (bytes == 0) bytes = 64;  // keep pointers valid for empty plans
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    fail(LLMC_ERR_LIMIT, "cannot allocate " + std::to_string(bytes) + " bytes for the " + what + ": " + std::strerror(errno));
  }
  data_ = p;
  bytes_ = bytes;
}

}  // namespace llmc::runtime
