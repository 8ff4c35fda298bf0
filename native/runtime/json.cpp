#include "json.h"

#include <charconv>
#include <cstdio>
#include <unordered_set>

namespace llmc::json {

// ---- Value ---------------------------------------------------------------------------------------------------

Value Value::make_bool(bool b) {
  Value v;
  v.type_ = Type::boolean;
  v.bool_ = b;
  return v;
}

Value Value::make_number(double d, bool is_integer, int64_t i) {
  Value v;
  v.type_ = Type::number;
  v.number_ = d;
  v.is_integer_ = is_integer;
  v.integer_ = is_integer ? i : static_cast<int64_t>(0);
  return v;
}

Value Value::make_string(std::string s) {
  Value v;
  v.type_ = Type::string;
  v.string_ = std::move(s);
  return v;
}

Value Value::make_array(Array a) {
  Value v;
  v.type_ = Type::array;
  v.array_ = std::move(a);
  return v;
}

Value Value::make_object(Object o) {
  Value v;
  v.type_ = Type::object;
  v.object_ = std::move(o);
  return v;
}

const Value* Value::find(const std::string& key) const {
  if (type_ != Type::object) return nullptr;
  for (const auto& kv : object_) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

const char* type_name(Value::Type t) {
  switch (t) {
    case Value::Type::null: return "null";
    case Value::Type::boolean: return "a boolean";
    case Value::Type::number: return "a number";
    case Value::Type::string: return "a string";
    case Value::Type::array: return "an array";
    case Value::Type::object: return "an object";
  }
  return "?";
}

// ---- Parser --------------------------------------------------------------------------------------------------

namespace {

constexpr int kMaxDepth = 256;  // deeper documents are refused rather than risking the stack

class Parser {
 public:
  Parser(const char* text, size_t length) : p_(text), begin_(text), end_(text + length) {}

  Value parse_document() {
    skip_whitespace();
    Value v = parse_value(0);
    skip_whitespace();
    if (p_ != end_) error("unexpected text after the JSON value");
    return v;
  }

 private:
  const char* p_;
  const char* begin_;
  const char* end_;

  [[noreturn]] void error(const std::string& what) const { error_at(p_, what); }

  [[noreturn]] void error_at(const char* at, const std::string& what) const {
    int line = 1, column = 1;
    for (const char* q = begin_; q < at && q < end_; ++q) {
      if (*q == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw ParseError("line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + what);
  }

  static std::string describe(char c) {
    if (c >= 0x20 && c < 0x7f) return std::string("'") + c + "'";
    char buf[16];
    std::snprintf(buf, sizeof buf, "byte 0x%02x", static_cast<unsigned char>(c));
    return buf;
  }

  std::string found() const { return p_ == end_ ? std::string("end of input") : describe(*p_); }

  void skip_whitespace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  void expect_literal(const char* word) {
    const char* start = p_;
    for (const char* w = word; *w; ++w, ++p_) {
      if (p_ == end_ || *p_ != *w) error_at(start, std::string("invalid literal (expected '") + word + "')");
    }
  }

  Value parse_value(int depth) {
    if (depth > kMaxDepth) error("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    if (p_ == end_) error("expected a value, found end of input");
    switch (*p_) {
      case '{': return parse_object(depth);
      case '[': return parse_array(depth);
      case '"': return Value::make_string(parse_string());
      case 't': expect_literal("true"); return Value::make_bool(true);
      case 'f': expect_literal("false"); return Value::make_bool(false);
      case 'n': expect_literal("null"); return Value();
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return parse_number();
        error("expected a value, found " + found());
    }
  }

  Value parse_object(int depth) {
    ++p_;  // '{'
    Value::Object members;
    std::unordered_set<std::string> seen;  // used once an object is big enough that a linear scan would be slow
    skip_whitespace();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return Value::make_object(std::move(members));
    }
    for (;;) {
      skip_whitespace();
      if (p_ == end_ || *p_ != '"') error("expected a string key in object, found " + found());
      const char* key_at = p_;
      std::string key = parse_string();
      bool duplicate = false;
      if (members.size() < 16) {
        for (const auto& kv : members) duplicate = duplicate || kv.first == key;
      } else {
        if (seen.empty()) {
          for (const auto& kv : members) seen.insert(kv.first);
        }
        duplicate = !seen.insert(key).second;
      }
      if (duplicate) error_at(key_at, "duplicate key \"" + key + "\" in object");
      skip_whitespace();
      if (p_ == end_ || *p_ != ':') error("expected ':' after object key, found " + found());
      ++p_;
      skip_whitespace();
      Value v = parse_value(depth + 1);
      members.emplace_back(std::move(key), std::move(v));
      skip_whitespace();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ < end_ && *p_ == '}') {
        ++p_;
        return Value::make_object(std::move(members));
      }
      error("expected ',' or '}' in object, found " + found());
    }
  }

  Value parse_array(int depth) {
    ++p_;  // '['
    Value::Array items;
    skip_whitespace();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return Value::make_array(std::move(items));
    }
    for (;;) {
      skip_whitespace();
      items.push_back(parse_value(depth + 1));
      skip_whitespace();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ < end_ && *p_ == ']') {
        ++p_;
        return Value::make_array(std::move(items));
      }
      error("expected ',' or ']' in array, found " + found());
    }
  }

  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  Value parse_number() {
    const char* start = p_;
    bool integer = true;
    if (*p_ == '-') ++p_;
    if (p_ == end_ || !is_digit(*p_)) error("expected a digit in number, found " + found());
    if (*p_ == '0') {
      ++p_;
      if (p_ < end_ && is_digit(*p_)) error_at(start, "numbers may not have leading zeros");
    } else {
      while (p_ < end_ && is_digit(*p_)) ++p_;
    }
    if (p_ < end_ && *p_ == '.') {
      integer = false;
      ++p_;
      if (p_ == end_ || !is_digit(*p_)) error("expected a digit after '.' in number, found " + found());
      while (p_ < end_ && is_digit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !is_digit(*p_)) error("expected a digit in exponent, found " + found());
      while (p_ < end_ && is_digit(*p_)) ++p_;
    }
    double d = 0;
    auto r = std::from_chars(start, p_, d);
    // from_chars reports out_of_range for overflow (1e999) and for underflow; refuse the first, keep 0 for the second.
    if (r.ec == std::errc::result_out_of_range) {
      bool tiny = false;
      for (const char* q = start; q < p_; ++q) {
        if (*q == 'e' || *q == 'E') tiny = q + 1 < p_ && q[1] == '-';
      }
      if (!tiny) error_at(start, "number out of range");
      d = 0;
    } else if (r.ec != std::errc() || r.ptr != p_) {
      error_at(start, "invalid number");
    }
    int64_t i = 0;
    if (integer) {
      auto ri = std::from_chars(start, p_, i);
      if (ri.ec != std::errc() || ri.ptr != p_) integer = false;  // beyond int64: keep the double only
    }
    return Value::make_number(d, integer, i);
  }

  unsigned parse_hex4() {
    if (end_ - p_ < 4) error("truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k, ++p_) {
      char c = *p_;
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else error("invalid hex digit " + describe(c) + " in \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string parse_string() {
    const char* start = p_;
    ++p_;  // opening quote
    std::string out;
    for (;;) {
      if (p_ == end_) error_at(start, "unterminated string");
      char c = *p_;
      if (c == '"') {
        ++p_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) error("raw control character " + describe(c) + " in string (escape it)");
      if (c != '\\') {
        out += c;
        ++p_;
        continue;
      }
      const char* escape_at = p_;
      ++p_;
      if (p_ == end_) error_at(start, "unterminated string");
      char e = *p_++;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = parse_hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) error_at(escape_at, "lone low surrogate in \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') error_at(escape_at, "high surrogate not followed by a low surrogate");
            p_ += 2;
            unsigned lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) error_at(escape_at, "high surrogate not followed by a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: error_at(escape_at, "invalid escape: a backslash before " + describe(e) + " in string");  // describe: never a raw line break
      }
    }
  }
};

}  // namespace

Value parse(const char* text, size_t length) { return Parser(text, length).parse_document(); }

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace llmc::json
