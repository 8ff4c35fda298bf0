#include "js_args.h"

namespace llmc_node {

static Napi::TypeError TypeErr(Napi::Env env, const char* key, const char* expected) {
  return Napi::TypeError::New(env, std::string(key) + " must be " + expected);
}

double GetNumber(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsNumber()) throw TypeErr(obj.Env(), key, "a number");
  return v.As<Napi::Number>().DoubleValue();
}

double GetNumberOr(const Napi::Object& obj, const char* key, double fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw TypeErr(obj.Env(), key, "a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool GetBool(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined()) return false;
  if (!v.IsBoolean()) throw TypeErr(obj.Env(), key, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::vector<int32_t> ToInt32Vector(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw TypeErr(v.Env(), what, "an Int32Array");
  }
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<int32_t> GetInt32Array(const Napi::Object& obj, const char* key) {
  return ToInt32Vector(obj.Get(key), key);
}

std::optional<std::string> GetOptionalString(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsString()) throw TypeErr(obj.Env(), key, "a string");
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace llmc_node
