// Typed access to members of the engine's JSON documents (manifest and plan), throwing Error with the document
// path in the message ("rank0.engine plan: values[3].shape: expected an array, found a string"). All failures are
// the given status (LLMC_ERR_BAD_ENGINE for engine files).
#pragma once
#include <cstdint>
#include <string>

#include "errors.h"
#include "json.h"

namespace llmc::runtime {

class JsonFields {
 public:
  JsonFields(llmc_status status, std::string where) : status_(status), where_(std::move(where)) {}

  [[noreturn]] void fail_at(const std::string& path, const std::string& what) const;

  // The member `key` of `obj` (which must be an object), or an error naming `path`.
  const json::Value& member(const json::Value& obj, const std::string& path, const char* key) const;
  const json::Value& object(const json::Value& obj, const std::string& path, const char* key) const;
  const json::Value& array(const json::Value& obj, const std::string& path, const char* key) const;
  std::string string(const json::Value& obj, const std::string& path, const char* key) const;
  // An integer in [lo, hi].
  int64_t integer(const json::Value& obj, const std::string& path, const char* key, int64_t lo, int64_t hi) const;
  int64_t as_integer(const json::Value& v, const std::string& path, int64_t lo, int64_t hi) const;
  double number(const json::Value& obj, const std::string& path, const char* key) const;

  static std::string join(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }
  static std::string index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

 private:
  llmc_status status_;
  std::string where_;
};

}  // namespace llmc::runtime
