#include "model/unicode_utf8.h"

namespace baton::unicode {

Utf8Char decode_utf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  Utf8Char r;
  if (lead < 0x80) return {lead, 1, true, false};
  size_t need;
  char32_t cp;
  // Allowed range of the second byte (Table 3-7 of the Unicode standard); later bytes are 80..BF.
  unsigned char lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1, cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2, cp = lead & 0x0F;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3, cp = lead & 0x07;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return r;  // stray continuation byte, overlong lead C0/C1, or F5..FF
  }
  for (size_t k = 1; k <= need; ++k) {
    if (pos + k >= text.size()) {
      r.length = k;
      r.truncated = true;
      return r;
    }
    const unsigned char b = byte(pos + k);
    const unsigned char min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
    if (b < min || b > max) {
      r.length = k;
      return r;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, need + 1, true, false};
}

void append_utf8(std::string& out, char32_t cp) {
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

size_t append_sanitized_utf8(std::string& out, std::string_view bytes, bool final) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const Utf8Char c = decode_utf8(bytes, pos);
    if (c.valid) {
      out.append(bytes.substr(pos, c.length));
    } else if (c.truncated && !final) {
      break;  // the rest of this character may come with the next token
    } else {
      append_utf8(out, kReplacementChar);
    }
    pos += c.length;
  }
  return pos;
}

bool is_printable_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    if (!c.valid || c.cp < 0x20 || (c.cp >= 0x7F && c.cp <= 0x9F) || c.cp == 0x2028 || c.cp == 0x2029) return false;
    pos += c.length;
  }
  return true;
}

}  // namespace baton::unicode
