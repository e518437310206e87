// Whether text read so far can still become a JSON document (RFC 8259), one byte at a
// time: the core of constrained sampling for response_format json_object. A pure state
// machine with a copyable state, so a sampler can try every token's bytes from the
// current state and keep the ones that stay on a valid prefix.
#pragma once

#include <cstdint>
#include <string>

namespace baton {

class JsonPrefix {
 public:
  // Limits that keep a model from wandering forever inside the grammar (nesting, runs of
  // whitespace); a document within them is accepted whole.
  static constexpr size_t kMaxDepth = 32;
  static constexpr int kMaxWhitespaceRun = 16;
  static constexpr int kMaxOutsideWhitespace = 2;  // before and after the document

  // `object_only`: the document must be an object (OpenAI's json_object).
  explicit JsonPrefix(bool object_only = true);

  // Takes one more byte; false (and the state unchanged) when no JSON document starts with
  // what was read plus this byte.
  bool feed(unsigned char c);
  // Every byte of `text`, stopping at the first refused one (false then; the state holds
  // what was accepted before it).
  bool feed(const std::string& text);
  // A whole document has been read (only whitespace may follow).
  bool complete() const;
  // The shortest text that makes the document whole from here (empty once complete):
  // what a sampler running out of tokens must still write.
  std::string shortest_ending() const;

 private:
  enum class Mode : uint8_t {
    Value,        // a value must start here
    FirstMember,  // after '{': a key or '}'
    Key,          // after ',' in an object: a key
    Colon,        // after a key
    FirstItem,    // after '[': a value or ']'
    AfterValue,   // after a value: ',' or the container's end (or the end of the document)
    String,
    Escape,
    Unicode,      // \uXXXX: `pending_` hex digits still to come
    Literal,      // true/false/null: `literal_` holds the bytes still to come
    Minus, Zero, Integer, FractionStart, Fraction, ExponentStart, ExponentSign, Exponent,
    Done,
  };
  bool start_value(unsigned char c);
  bool after_value(unsigned char c);
  bool end_number(unsigned char c);  // the byte after a number
  // The byte after an integer's or a fraction's digits: '.', an exponent, or the end.
  bool after_digits(unsigned char c, bool fraction_allowed);
  bool whitespace(unsigned char c);

  Mode mode_ = Mode::Value;
  bool object_only_;
  bool string_is_key_ = false;
  int pending_ = 0;
  int whitespace_run_ = 0;
  std::string stack_;    // '{' and '[' of the open containers
  std::string literal_;  // rest of true/false/null
};

}  // namespace baton
