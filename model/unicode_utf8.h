// UTF-8 decoding that never fails: invalid input is reported per maximal ill-formed
// subpart (Unicode 15, section 3.9, "U+FFFD substitution of maximal subparts"), so callers
// can keep the original bytes (tokenizers) or substitute U+FFFD (text output).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace baton::unicode {

constexpr char32_t kReplacementChar = 0xFFFD;

struct Utf8Char {
  char32_t cp = kReplacementChar;  // U+FFFD when !valid
  size_t length = 1;               // bytes consumed: the character, or the ill-formed subpart
  bool valid = false;
  bool truncated = false;          // ill-formed only because the text ends mid-character
};

// Decodes the character starting at text[pos] (pos < text.size()).
Utf8Char decode_utf8(std::string_view text, size_t pos);

void append_utf8(std::string& out, char32_t cp);

// Appends the longest prefix of `bytes` that cannot change when more bytes arrive, with
// every ill-formed subpart replaced by U+FFFD; a trailing, possibly-unfinished character is
// left alone unless `final`. Returns the number of bytes consumed.
size_t append_sanitized_utf8(std::string& out, std::string_view bytes, bool final);

// Names people give things (a node called "Bob's phone" or "Küche 🍳"): well-formed UTF-8
// without control characters (C0, DEL, C1) or line/paragraph separators.
bool is_printable_utf8(std::string_view text);

}  // namespace baton::unicode
