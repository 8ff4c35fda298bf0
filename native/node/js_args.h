// Reading typed fields of the plain option objects src/runtime/ passes in (see src/runtime/addon-types.ts).
// These check types only and throw TypeError: value ranges are validated in TypeScript, and again by the runtime.
#pragma once
#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmc_node {

double GetNumber(const Napi::Object& obj, const char* key);
// An absent (undefined) key gives `fallback`.
double GetNumberOr(const Napi::Object& obj, const char* key, double fallback);
bool GetBool(const Napi::Object& obj, const char* key);
std::vector<int32_t> GetInt32Array(const Napi::Object& obj, const char* key);
std::vector<int32_t> ToInt32Vector(const Napi::Value& value, const char* what);
std::optional<std::string> GetOptionalString(const Napi::Object& obj, const char* key);

}  // namespace llmc_node
