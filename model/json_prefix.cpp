#include "model/json_prefix.h"

namespace baton {

namespace {

bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

JsonPrefix::JsonPrefix(bool object_only) : object_only_(object_only) {}

bool JsonPrefix::whitespace(unsigned char c) {
  // Before and after the document a model has nothing to lay out: a little slack only.
  const bool outside = (mode_ == Mode::Value && stack_.empty()) || mode_ == Mode::Done;
  if (!is_ws(c) || whitespace_run_ >= (outside ? kMaxOutsideWhitespace : kMaxWhitespaceRun)) return false;
  ++whitespace_run_;
  return true;
}

bool JsonPrefix::start_value(unsigned char c) {
  const bool top = stack_.empty() && mode_ == Mode::Value;
  if (top && object_only_ && c != '{') return false;
  switch (c) {
    case '{':
    case '[':
      if (stack_.size() >= kMaxDepth) return false;
      stack_.push_back(static_cast<char>(c));
      mode_ = c == '{' ? Mode::FirstMember : Mode::FirstItem;
      return true;
    case '"':
      string_is_key_ = false;
      mode_ = Mode::String;
      return true;
    case 't': literal_ = "rue"; mode_ = Mode::Literal; return true;
    case 'f': literal_ = "alse"; mode_ = Mode::Literal; return true;
    case 'n': literal_ = "ull"; mode_ = Mode::Literal; return true;
    case '-': mode_ = Mode::Minus; return true;
    case '0': mode_ = Mode::Zero; return true;
    default:
      if (is_digit(c)) {
        mode_ = Mode::Integer;
        return true;
      }
      return false;
  }
}

bool JsonPrefix::after_value(unsigned char c) {
  if (stack_.empty()) return false;  // Done handles the end of the document
  const bool object = stack_.back() == '{';
  if (c == ',') {
    mode_ = object ? Mode::Key : Mode::Value;
    return true;
  }
  if (c == (object ? '}' : ']')) {
    stack_.pop_back();
    mode_ = stack_.empty() ? Mode::Done : Mode::AfterValue;
    return true;
  }
  return false;
}

bool JsonPrefix::end_number(unsigned char c) {
  // The number ended before this byte: it belongs to what follows a value.
  const Mode saved = mode_;
  mode_ = stack_.empty() ? Mode::Done : Mode::AfterValue;
  if (is_ws(c)) {
    whitespace_run_ = 0;
    if (whitespace(c)) return true;
  } else if (mode_ == Mode::AfterValue && after_value(c)) {
    whitespace_run_ = 0;
    return true;
  }
  mode_ = saved;
  return false;
}

bool JsonPrefix::after_digits(unsigned char c, bool fraction_allowed) {
  if (c == '.' && fraction_allowed) {
    mode_ = Mode::FractionStart;
    return true;
  }
  if (c == 'e' || c == 'E') {
    mode_ = Mode::ExponentStart;
    return true;
  }
  return end_number(c);
}

bool JsonPrefix::feed(unsigned char c) {
  const JsonPrefix before = *this;
  bool ok = false;
  const bool ws = is_ws(c);
  switch (mode_) {
    case Mode::Value:
      ok = ws ? whitespace(c) : start_value(c);
      break;
    case Mode::FirstMember:
    case Mode::Key:
      if (ws) {
        ok = whitespace(c);
      } else if (c == '"') {
        string_is_key_ = true;
        mode_ = Mode::String;
        ok = true;
      } else if (c == '}' && mode_ == Mode::FirstMember) {
        stack_.pop_back();
        mode_ = stack_.empty() ? Mode::Done : Mode::AfterValue;
        ok = true;
      }
      break;
    case Mode::Colon:
      if (ws) {
        ok = whitespace(c);
      } else if (c == ':') {
        mode_ = Mode::Value;
        ok = true;
      }
      break;
    case Mode::FirstItem:
      if (ws) {
        ok = whitespace(c);
      } else if (c == ']') {
        stack_.pop_back();
        mode_ = stack_.empty() ? Mode::Done : Mode::AfterValue;
        ok = true;
      } else {
        ok = start_value(c);
      }
      break;
    case Mode::AfterValue:
      ok = ws ? whitespace(c) : after_value(c);
      break;
    case Mode::String:
      if (c == '"') {
        mode_ = string_is_key_ ? Mode::Colon : (stack_.empty() ? Mode::Done : Mode::AfterValue);
        ok = true;
      } else if (c == '\\') {
        mode_ = Mode::Escape;
        ok = true;
      } else {
        ok = c >= 0x20;  // control characters must be escaped
      }
      break;
    case Mode::Escape:
      if (c == 'u') {
        mode_ = Mode::Unicode;
        pending_ = 4;
        ok = true;
      } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
        mode_ = Mode::String;
        ok = true;
      }
      break;
    case Mode::Unicode:
      if (is_hex(c)) {
        if (--pending_ == 0) mode_ = Mode::String;
        ok = true;
      }
      break;
    case Mode::Literal:
      if (!literal_.empty() && c == static_cast<unsigned char>(literal_.front())) {
        literal_.erase(0, 1);
        if (literal_.empty()) mode_ = stack_.empty() ? Mode::Done : Mode::AfterValue;
        ok = true;
      }
      break;
    case Mode::Minus:
      if (c == '0') {
        mode_ = Mode::Zero;
        ok = true;
      } else if (is_digit(c)) {
        mode_ = Mode::Integer;
        ok = true;
      }
      break;
    case Mode::Zero:
    case Mode::Integer:
      ok = (is_digit(c) && mode_ == Mode::Integer) || after_digits(c, /*fraction_allowed=*/true);
      break;
    case Mode::FractionStart:
      if (is_digit(c)) {
        mode_ = Mode::Fraction;
        ok = true;
      }
      break;
    case Mode::Fraction:
      ok = is_digit(c) || after_digits(c, /*fraction_allowed=*/false);
      break;
    case Mode::ExponentStart:
      if (c == '+' || c == '-') {
        mode_ = Mode::ExponentSign;
        ok = true;
      } else if (is_digit(c)) {
        mode_ = Mode::Exponent;
        ok = true;
      }
      break;
    case Mode::ExponentSign:
      if (is_digit(c)) {
        mode_ = Mode::Exponent;
        ok = true;
      }
      break;
    case Mode::Exponent:
      ok = is_digit(c) || end_number(c);
      break;
    case Mode::Done:
      ok = ws && whitespace(c);
      break;
  }
  if (!ok) {
    *this = before;
    return false;
  }
  if (!ws) whitespace_run_ = 0;  // runs count whitespace between the grammar's tokens
  return true;
}

bool JsonPrefix::feed(const std::string& text) {
  for (unsigned char c : text) {
    if (!feed(c)) return false;
  }
  return true;
}

std::string JsonPrefix::shortest_ending() const {
  std::string out;
  std::string stack = stack_;
  switch (mode_) {
    case Mode::Value: out = stack.empty() ? (object_only_ ? "{}" : "0") : "0"; break;
    case Mode::FirstMember: out = "}"; stack.pop_back(); break;
    case Mode::Key: out = "\"\":0"; break;
    case Mode::Colon: out = ":0"; break;
    case Mode::FirstItem: out = "]"; stack.pop_back(); break;
    case Mode::AfterValue: break;
    case Mode::String: out = string_is_key_ ? "\":0" : "\""; break;
    case Mode::Escape: out = string_is_key_ ? "n\":0" : "n\""; break;
    case Mode::Unicode: out = std::string(static_cast<size_t>(pending_), '0') + (string_is_key_ ? "\":0" : "\""); break;
    case Mode::Literal: out = literal_; break;
    case Mode::Minus: case Mode::FractionStart: case Mode::ExponentStart: case Mode::ExponentSign: out = "0"; break;
    case Mode::Zero: case Mode::Integer: case Mode::Fraction: case Mode::Exponent: break;
    case Mode::Done: return {};
  }
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) out += *it == '{' ? '}' : ']';
  return out;
}

bool JsonPrefix::complete() const {
  if (mode_ == Mode::Done) return true;
  // A top-level number ends where the text ends.
  const bool number_end = mode_ == Mode::Zero || mode_ == Mode::Integer || mode_ == Mode::Fraction ||
                          mode_ == Mode::Exponent;
  return stack_.empty() && number_end && !object_only_;
}

}  // namespace baton
