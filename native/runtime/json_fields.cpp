#include "json_fields.h"

namespace llmc::runtime {

void JsonFields::fail_at(const std::string& path, const std::string& what) const {
  fail(status_, where_ + ": " + (path.empty() ? "" : path + ": ") + what);
}

const json::Value& JsonFields::member(const json::Value& obj, const std::string& path, const char* key) const {
  if (!obj.is_object()) fail_at(path, std::string("expected an object, found ") + json::type_name(obj.type()));
  const json::Value* v = obj.find(key);
  if (v == nullptr) fail_at(path, std::string("missing \"") + key + "\"");
  return *v;
}

const json::Value& JsonFields::object(const json::Value& obj, const std::string& path, const char* key) const {
  const json::Value& v = member(obj, path, key);
  if (!v.is_object()) fail_at(join(path, key), std::string("expected an object, found ") + json::type_name(v.type()));
  return v;
}

const json::Value& JsonFields::array(const json::Value& obj, const std::string& path, const char* key) const {
  const json::Value& v = member(obj, path, key);
  if (!v.is_array()) fail_at(join(path, key), std::string("expected an array, found ") + json::type_name(v.type()));
  return v;
}

std::string JsonFields::string(const json::Value& obj, const std::string& path, const char* key) const {
  const json::Value& v = member(obj, path, key);
  if (!v.is_string()) fail_at(join(path, key), std::string("expected a string, found ") + json::type_name(v.type()));
  return v.as_string();
}

int64_t JsonFields::as_integer(const json::Value& v, const std::string& path, int64_t lo, int64_t hi) const {
  if (!v.is_integer()) {
    if (v.is_number()) fail_at(path, "expected an integer, found a non-integer number");
    fail_at(path, std::string("expected an integer, found ") + json::type_name(v.type()));
  }
  int64_t i = v.as_int64();
  if (i < lo || i > hi) {
    fail_at(path, std::to_string(i) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return i;
}

int64_t JsonFields::integer(const json::Value& obj, const std::string& path, const char* key, int64_t lo,
                            int64_t hi) const {
  return as_integer(member(obj, path, key), join(path, key), lo, hi);
}

double JsonFields::number(const json::Value& obj, const std::string& path, const char* key) const {
  const json::Value& v = member(obj, path, key);
  if (!v.is_number()) fail_at(join(path, key), std::string("expected a number, found ") + json::type_name(v.type()));
  return v.as_double();
}

}  // namespace llmc::runtime
