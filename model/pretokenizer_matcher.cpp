// The single-regex matchers of pretokenizer_matcher.h. Within a regex, alternatives are
// tried in order at each position and the first that matches wins, as in a backtracking
// regex engine; where backtracking changes what an alternative takes, the code says so.
#include "model/pretokenizer_matcher.h"

#include <string_view>

#include "model/unicode_tables.h"
#include "model/unicode_utf8.h"

namespace baton::pretok {

Symbols classify(std::string_view text) {
  Symbols out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const unicode::Utf8Char c = unicode::decode_utf8(text, pos);
    CharClass cls = kOther;
    if (c.valid) {
      if (unicode::is_letter(c.cp)) cls = kLetter;
      else if (unicode::is_number(c.cp)) cls = kNumber;
      else if (unicode::is_whitespace(c.cp)) cls = kSpace;
    }
    out.push_back({c.valid ? c.cp : unicode::kReplacementChar, cls, pos});
    pos += c.length;
  }
  return out;
}

namespace {

// llama.cpp's stand-ins for \p{P} and \p{S} among ASCII characters (unicode.cpp,
// k_ucat_map): Unicode's punctuation and symbols. (Older versions left ~ out of the symbols;
// the llama.cpp that tests/model/data/pretokenizer-reference.json was made with has it.)
constexpr std::string_view kAsciiPunctuation = "!\"#%&'()*,-./:;?@[\\]_{}";
constexpr std::string_view kAsciiSymbols = "$+<=>^`|~";

bool is_ascii_lower(char32_t c) { return c >= 'a' && c <= 'z'; }
bool is_ascii_upper(char32_t c) { return c >= 'A' && c <= 'Z'; }
bool is_ascii_letter(char32_t c) { return is_ascii_lower(c) || is_ascii_upper(c); }
bool is_ascii_punct_or_symbol(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

// \p{Han} as llama.cpp's unicode_cpt_is_han has it (for Kimi K2).
bool is_han(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2EBEF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// BLOOM's [(\s|.,!?…。，、।۔،)]: the characters that end its words (\s is tested apart).
bool is_bloom_break(char32_t c) {
  switch (c) {
    case '(': case '|': case '.': case ',': case '!': case '?': case ')':
    case 0x2026: case 0x3002: case 0xFF0C: case 0x3001: case 0x0964: case 0x06D4: case 0x060C:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool Matcher::is_mark(size_t i) const { return is(i, kOther) && s_[i].cp >= 0x80 && unicode::is_mark(s_[i].cp); }

bool Matcher::is_punct(size_t i) const {
  if (!is(i, kOther)) return false;
  const char32_t c = s_[i].cp;
  return c < 0x80 ? kAsciiPunctuation.find(static_cast<char>(c)) != std::string_view::npos : unicode::is_punctuation(c);
}

bool Matcher::is_symbol(size_t i) const {
  if (!is(i, kOther)) return false;
  const char32_t c = s_[i].cp;
  return c < 0x80 ? kAsciiSymbols.find(static_cast<char>(c)) != std::string_view::npos : unicode::is_symbol(c);
}

size_t Matcher::contraction(size_t i, bool ignore_case) const {
  if (!is_cp(i, '\'') || !in(i + 1)) return i;
  auto at = [&](size_t k, char lower) {
    if (!in(k)) return false;
    const char32_t c = s_[k].cp;
    return c == static_cast<char32_t>(lower) || (ignore_case && c == static_cast<char32_t>(lower - 'a' + 'A'));
  };
  if (at(i + 1, 's') || at(i + 1, 't') || at(i + 1, 'm') || at(i + 1, 'd')) return i + 2;
  if ((at(i + 1, 'r') && at(i + 2, 'e')) || (at(i + 1, 'v') && at(i + 2, 'e')) || (at(i + 1, 'l') && at(i + 2, 'l')))
    return i + 3;
  return i;
}

size_t Matcher::space_then_run(size_t i, CharClass c) const {
  if (is(i, c)) return run(i, c);
  if (is_cp(i, ' ') && is(i + 1, c)) return run(i + 1, c);
  return i;
}

size_t Matcher::spaces(size_t i) const {
  const size_t end = run(i, kSpace);
  if (end == i) return i;
  if (end == end_ || end - i == 1) return end;
  return end - 1;
}

size_t Matcher::spaces_to_last_line_break(size_t i) const {
  // \s* is greedy and gives back spaces until [\r\n]+ matches: at the run's last line break.
  const size_t end = run(i, kSpace);
  for (size_t k = end; k > i; --k) {
    if (is_newline(k - 1)) return k;
  }
  return spaces(i);
}

size_t Matcher::space_cascade(size_t i) const {
  const size_t end = run(i, kSpace);
  if (end == i) return i;
  const size_t w = end - i;
  // \s{n}(?!\S): n spaces followed by another space or the end of the span.
  auto fits = [&](size_t n) { return n < w || (n == w && end == end_); };
  for (size_t n = 512; n >= 4; n /= 2) {
    if (fits(n)) return i + n;
  }
  if (fits(2)) return i + 2;
  return i + 1;  // \s{1,2}(?!\S) with one space, or \s{1}
}

size_t Matcher::next_gpt2(size_t i) const {
  size_t e;
  if ((e = contraction(i, false)) != i) return e;
  if ((e = space_then_run(i, kLetter)) != i) return e;
  if ((e = space_then_run(i, kNumber)) != i) return e;
  if ((e = space_then_run(i, kOther)) != i) return e;
  if ((e = spaces(i)) != i) return e;
  return i + 1;  // unreachable: every symbol is in one of the classes above
}

size_t Matcher::next_llama3(size_t i, const Llama3Shape& shape) const {
  size_t e;
  if (shape.contractions && (e = contraction(i, true)) != i) return e;
  // [^\r\n\p{L}\p{N}]?\p{L}+ (qwen35: [\p{L}\p{M}]+)
  auto word = [&](size_t k) { return is(k, kLetter) || (shape.marks_in_words && is_mark(k)); };
  if (word(i)) return run_while(i, word);
  if (!is(i, kNumber) && !is_newline(i) && word(i + 1)) return run_while(i + 1, word);
  // \p{N}{1,max}
  if (is(i, kNumber)) {
    e = i;
    while (e - i < shape.max_digits && is(e, kNumber)) ++e;
    return e;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  auto other = [&](size_t k) { return is(k, kOther) && !(shape.marks_in_words && is_mark(k)); };
  auto tail = [&](size_t k) { return shape.newlines_after_punct ? run_newlines(k) : k; };
  if (other(i)) return tail(run_while(i, other));
  if (is_cp(i, ' ') && other(i + 1)) return tail(run_while(i + 1, other));
  // \s*[\r\n]+, then \s+(?!\S)|\s+ or jais-2's cascade
  const size_t end = run(i, kSpace);
  for (size_t k = end; k > i; --k) {
    if (is_newline(k - 1)) return k;
  }
  if ((e = shape.space_cascade ? space_cascade(i) : spaces(i)) != i) return e;
  return i + 1;  // unreachable
}

size_t Matcher::next_gpt4o(size_t i, const Gpt4oShape& shape) const {
  auto letter = [&](size_t k) { return is(k, kLetter) || (shape.marks_are_letters && is_mark(k)); };
  auto upper = [&](size_t k) { return letter(k) && !(shape.cased && is_ascii_lower(s_[k].cp)); };
  auto lower = [&](size_t k) { return letter(k) && !(shape.cased && is_ascii_upper(s_[k].cp)); };
  // U*L+ : U* takes the longest run and gives back until L+ can start, so L+ starts at the
  // last "lower" letter within the run (or just after it).
  auto upper_then_lower = [&](size_t s) {
    const size_t k = run_while(s, upper);
    for (size_t j = k + 1; j-- > s;) {
      if (lower(j)) return run_while(j, lower);
    }
    return s;
  };
  // U+L*
  auto upper_and_lower = [&](size_t s) {
    const size_t k = run_while(s, upper);
    return k == s ? s : run_while(k, lower);
  };
  // Each word alternative is tried with the leading [^\r\n\p{L}\p{N}] and then without it,
  // before the next alternative: that order matters only when the leading character is a
  // mark that also counts as a letter.
  const bool lead = in(i) && !is(i, kLetter) && !is(i, kNumber) && !is_newline(i);
  size_t e = i;
  if (lead && (e = upper_then_lower(i + 1)) != i + 1) {
  } else if ((e = upper_then_lower(i)) != i) {
  } else if (lead && (e = upper_and_lower(i + 1)) != i + 1) {
  } else {
    e = upper_and_lower(i);
  }
  if (e != i) return shape.contractions ? contraction(e, true) : e;
  // \p{N}{1,max}
  if (is(i, kNumber)) {
    e = i;
    while (e - i < shape.max_digits && is(e, kNumber)) ++e;
    return e;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
  auto tail = [&](size_t k) {
    while (is_newline(k) || is_cp(k, '/')) ++k;
    return k;
  };
  if (is(i, kOther)) return tail(run(i, kOther));
  if (is_cp(i, ' ') && is(i + 1, kOther)) return tail(run(i + 1, kOther));
  if ((e = spaces_to_last_line_break(i)) != i) return e;
  return i + 1;  // unreachable
}

// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
// | ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+          (DeepSeek V3)
// spark2_5: ' ?[\p{P}\p{S}]+' without [\r\n]*, and [\r\n] instead of \s*[\r\n]+.
// Numbers match nothing here: the pattern before this one gave them pieces of their own.
size_t Matcher::next_deepseek3(size_t i, bool spark) const {
  if (has(i, is_ascii_punct_or_symbol) && has(i + 1, is_ascii_letter)) return run_of(i + 1, is_ascii_letter);
  auto word = [&](size_t k) { return is(k, kLetter) || is_mark(k); };
  const bool lead = in(i) && !is_newline(i) && !is(i, kLetter) && !is_punct(i) && !is_symbol(i);
  if (lead && word(i + 1)) return run_while(i + 1, word);
  if (word(i)) return run_while(i, word);
  auto punct = [&](size_t k) { return is_punct(k) || is_symbol(k); };
  auto tail = [&](size_t k) { return spark ? k : run_newlines(k); };
  if (punct(i)) return tail(run_while(i, punct));
  if (is_cp(i, ' ') && punct(i + 1)) return tail(run_while(i + 1, punct));
  if (spark) return is_newline(i) ? i + 1 : spaces(i);
  return spaces_to_last_line_break(i);
}

// llama.cpp's own matcher for Kimi K2 (unicode_regex_split_custom_kimi_k2), for
//   [\p{Han}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)?|...|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// It has no case and no marks: a word is any run of letters other than Han.
size_t Matcher::next_kimi_k2(size_t i) const {
  if (has(i, is_han)) return run_of(i, is_han);
  auto letter = [&](size_t k) { return is(k, kLetter) && !is_han(s_[k].cp); };
  const bool lead = in(i) && !is_newline(i) && !is(i, kLetter) && !is(i, kNumber);
  if (letter(i) || (lead && letter(i + 1))) return contraction(run_while(letter(i) ? i : i + 1, letter), true);
  if (is(i, kNumber)) {
    size_t e = i;
    while (e - i < 3 && is(e, kNumber)) ++e;
    return e;
  }
  if (is(i, kOther)) return run_newlines(run(i, kOther));
  if (is_cp(i, ' ') && is(i + 1, kOther)) return run_newlines(run(i + 1, kOther));
  const size_t e = spaces_to_last_line_break(i);
  return e != i ? e : i + 1;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}
// | ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+          (exaone-moe)
// A word runs on over single spaces between letters: " New York City" is one piece.
size_t Matcher::next_exaone_moe(size_t i) const {
  size_t e;
  if ((e = contraction(i, true)) != i) return e;
  auto words = [&](size_t k) {  // k is a letter
    while (true) {
      if (is(k, kLetter)) {
        ++k;
        while (is_mark(k)) ++k;
      } else if (is_cp(k, ' ') && is(k + 1, kLetter)) {
        ++k;
      } else {
        return k;
      }
    }
  };
  const bool lead = in(i) && !is_newline(i) && !is(i, kLetter) && !is(i, kNumber);
  if (lead && is(i + 1, kLetter)) return words(i + 1);
  if (is(i, kLetter)) return words(i);
  if (is(i, kNumber)) return i + 1;
  auto tail = [&](size_t k) { return is_newline(k) || is_cp(k, '/') ? k + 1 : k; };
  if (is(i, kOther)) return tail(run(i, kOther));
  if (is_cp(i, ' ') && is(i + 1, kOther)) return tail(run(i + 1, kOther));
  // \s*[\r\n] ends at the run's last line break, as \s*[\r\n]+ does.
  if ((e = spaces_to_last_line_break(i)) != i) return e;
  return i + 1;  // unreachable
}

// ' ?[^(\s|.,!?…。，、।۔،)]+' (BLOOM, Poro, GPT-3 Finnish, Viking): what is not matched is a
// piece of its own.
size_t Matcher::next_bloom(size_t i) const {
  auto word = [&](size_t k) { return in(k) && !is(k, kSpace) && !is_bloom_break(s_[k].cp); };
  if (is_cp(i, ' ') && word(i + 1)) return run_while(i + 1, word);
  return run_while(i, word);
}

}  // namespace baton::pretok
