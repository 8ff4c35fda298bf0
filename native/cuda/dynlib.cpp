// dlopen of the first library that opens, dlsym by name, and the messages that name the fix (dynlib.h).
#include "dynlib.h"

#include <dlfcn.h>

namespace llmc::cuda {

DynLib::~DynLib() {
  if (handle_ != nullptr) ::dlclose(handle_);
}

bool DynLib::open(std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (n == nullptr || n[0] == '\0') continue;
    handle_ = ::dlopen(n, RTLD_NOW | RTLD_LOCAL);
    if (handle_ != nullptr) {
      name_ = n;
      return true;
    }
    if (first_tried_.empty()) {
      first_tried_ = n;
      const char* e = ::dlerror();
      first_error_ = e != nullptr ? e : "dlopen failed";
      const std::string prefix = first_tried_ + ": ";  // glibc's message starts with the name
      if (first_error_.compare(0, prefix.size(), prefix) == 0) first_error_.erase(0, prefix.size());
    }
  }
  return false;
}

void* DynLib::lookup(const char* symbol) {
  void* p = handle_ != nullptr ? ::dlsym(handle_, symbol) : nullptr;
  if (p == nullptr && missing_.empty()) missing_ = symbol;
  return p;
}

std::string DynLib::open_error(const std::string& fix) const {
  return first_tried_ + " cannot be opened (" + first_error_ + "); " + fix;
}

std::string DynLib::missing_error(const std::string& need) const { return name_ + " lacks " + missing_ + " (" + need + ")"; }

}  // namespace llmc::cuda
