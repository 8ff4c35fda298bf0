#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errors.h"
#include "mapping_guard.h"

namespace llmc::runtime {

namespace {

[[noreturn]] void io_fail(const std::string& path, int err, const std::string& missing_hint) {
  if (err == ENOENT && !missing_hint.empty()) fail(LLMC_ERR_IO, missing_hint);
  fail(LLMC_ERR_IO, "cannot read " + path + ": " + std::strerror(err));
}

// Opens a regular file read-only and returns its descriptor and size.
int open_regular(const std::string& path, const std::string& missing_hint, uint64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_fail(path, errno, missing_hint);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    io_fail(path, err, missing_hint);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(LLMC_ERR_IO, "cannot read " + path + ": not a regular file");
  }
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

}  // namespace

MappedFile::~MappedFile() {
  if (data_ == nullptr) return;
  unguard_mapping(data_);
  ::munmap(const_cast<uint8_t*>(data_), size_);
}

void MappedFile::open(const std::string& path, const std::string& missing_hint) {
  uint64_t size = 0;
  int fd = open_regular(path, missing_hint, &size);
  if (size == 0) {  // mmap refuses length 0; an empty file is simply empty
    ::close(fd);
    data_ = nullptr;
    size_ = 0;
    return;
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (p == MAP_FAILED) {
    // ENOMEM: no address space left for the whole file (a ulimit -v, or a 32-bit-sized space); say how big it is.
    fail(LLMC_ERR_IO, "cannot mmap " + path + " (" + std::to_string(size) + " bytes): " + std::strerror(err) +
                          (err == ENOMEM ? "; the process has no address space left for it (check `ulimit -v`)" : ""));
  }
  data_ = static_cast<const uint8_t*>(p);
  size_ = size;
  guard_mapping(data_, size_, path);
}

std::string read_text_file(const std::string& path, const std::string& missing_hint) {
  uint64_t size = 0;
  int fd = open_regular(path, missing_hint, &size);
  std::string text;
  try {
    text.resize(size);
  } catch (...) {
    ::close(fd);
    throw;
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::read(fd, &text[done], text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      io_fail(path, err, "");
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return text;
}

}  // namespace llmc::runtime
