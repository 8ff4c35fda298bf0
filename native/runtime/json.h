// A small, strict JSON reader (RFC 8259) for the engine manifest and plan, plus string quoting for writers.
// Strict means: no comments, no trailing commas, no NaN/Infinity, no leading zeros, no duplicate object keys,
// no raw control characters in strings, valid \uXXXX escapes (surrogate pairs joined, lone surrogates refused),
// nothing but whitespace after the top-level value. Errors name the line and column.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace llmc::json {

class ParseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Value {
 public:
  enum class Type { null, boolean, number, string, array, object };
  using Array = std::vector<Value>;
  using Object = std::vector<std::pair<std::string, Value>>;  // keys in document order, unique

  Value() = default;
  static Value make_bool(bool b);
  static Value make_number(double d, bool is_integer, int64_t i);
  static Value make_string(std::string s);
  static Value make_array(Array a);
  static Value make_object(Object o);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::null; }
  bool is_bool() const { return type_ == Type::boolean; }
  bool is_number() const { return type_ == Type::number; }
  // A number written without fraction or exponent that fits in int64 (offsets above 2^53 stay exact).
  bool is_integer() const { return type_ == Type::number && is_integer_; }
  bool is_string() const { return type_ == Type::string; }
  bool is_array() const { return type_ == Type::array; }
  bool is_object() const { return type_ == Type::object; }

  // Accessors; the caller checks the type first (they return a neutral value on a type mismatch).
  bool as_bool() const { return bool_; }
  double as_double() const { return number_; }
  int64_t as_int64() const { return integer_; }
  const std::string& as_string() const { return string_; }
  const Array& as_array() const { return array_; }
  const Object& as_object() const { return object_; }

  // Object member by key, or null when absent (or when this is not an object).
  const Value* find(const std::string& key) const;

 private:
  Type type_ = Type::null;
  bool bool_ = false;
  bool is_integer_ = false;
  double number_ = 0;
  int64_t integer_ = 0;
  std::string string_;
  Array array_;
  Object object_;
};

// Parses one JSON document. Throws ParseError("line L, column C: ...").
Value parse(const char* text, size_t length);
inline Value parse(const std::string& text) { return parse(text.data(), text.size()); }

// Human name of a type for error messages ("an object", "a string", ...).
const char* type_name(Value::Type t);

// `s` as a JSON string literal, quotes included (control characters and non-ASCII kept as UTF-8, \" \\ escaped).
std::string quote(const std::string& s);

}  // namespace llmc::json
