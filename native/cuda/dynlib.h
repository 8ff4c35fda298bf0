// An optional NVIDIA library reached through dlopen (cuBLASLt, NCCL), so llmc builds and loads on machines without
// it: the first of a list of names that opens, its functions resolved by name, and the messages that say what to
// install or set when either fails. (libcuda itself: cuda_driver.cpp.)
#pragma once
#include <initializer_list>
#include <string>

namespace llmc::cuda {

class DynLib {
 public:
  DynLib() = default;
  ~DynLib();  // dlclose
  DynLib(const DynLib&) = delete;
  DynLib& operator=(const DynLib&) = delete;

  // Opens the first of `names` that dlopen opens (RTLD_NOW | RTLD_LOCAL). Null and empty names are skipped, so an
  // override variable (std::getenv, maybe unset) can lead the list. False when none opens.
  bool open(std::initializer_list<const char*> names);
  bool is_open() const { return handle_ != nullptr; }
  const std::string& name() const { return name_; }  // the name that opened

  // fn = the library's `symbol`; a symbol it lacks leaves fn null and is remembered (the first one) in missing().
  template <class Fn>
  void bind(Fn*& fn, const char* symbol) {
    fn = reinterpret_cast<Fn*>(lookup(symbol));
  }
  const std::string& missing() const { return missing_; }  // empty when every bind found its symbol

  // "<first name tried> cannot be opened (<dlerror>); <fix>", after a failed open.
  std::string open_error(const std::string& fix) const;
  // "<name> lacks <missing()> (<need>)", after a bind that found nothing.
  std::string missing_error(const std::string& need) const;

 private:
  void* lookup(const char* symbol);
  void* handle_ = nullptr;
  std::string name_, first_tried_, first_error_, missing_;
};

}  // namespace llmc::cuda
