// The patterns, as in the tokenizer.json files of the models (alternatives are tried in
// order at each position; the first that matches wins, as in a backtracking regex engine):
//
//  Gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//  Llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//          | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//  Qwen2:  as Llama3 with \p{N} instead of \p{N}{1,3}
//  StarCoder: two passes, as llama.cpp applies its list of patterns: \p{N} first (each
//          digit a piece), then Gpt2 within each stretch between digits, which therefore
//          ends where the digit starts (a space before a digit stays a piece of its own).
#include "model/pretokenizer.h"

#include <cstdint>

#include "model/unicode_tables.h"
#include "model/unicode_utf8.h"

namespace baton {

namespace {

enum CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

struct Symbol {
  char32_t cp;
  CharClass cls;
  size_t offset;  // byte offset in the text
};

std::vector<Symbol> classify(std::string_view text) {
  std::vector<Symbol> out;
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

// Matching over the classified symbols; every function returns the end index of the match
// starting at i, or i when the alternative does not match.
class Matcher {
 public:
  explicit Matcher(const std::vector<Symbol>& s) : s_(s), n_(s.size()) {}

  bool is(size_t i, CharClass c) const { return i < n_ && s_[i].cls == c; }
  bool is_cp(size_t i, char32_t cp) const { return i < n_ && s_[i].cp == cp; }
  bool is_newline(size_t i) const { return is_cp(i, '\r') || is_cp(i, '\n'); }
  size_t run(size_t i, CharClass c) const {
    while (is(i, c)) ++i;
    return i;
  }
  size_t run_newlines(size_t i) const {
    while (is_newline(i)) ++i;
    return i;
  }

  // 's|'t|'re|'ve|'m|'ll|'d, optionally ASCII case-insensitive.
  size_t contraction(size_t i, bool ignore_case) const {
    if (!is_cp(i, '\'') || i + 1 >= n_) return i;
    auto at = [&](size_t k, char lower) {
      if (k >= n_) return false;
      const char32_t c = s_[k].cp;
      return c == static_cast<char32_t>(lower) ||
             (ignore_case && c == static_cast<char32_t>(lower - 'a' + 'A'));
    };
    if (at(i + 1, 's') || at(i + 1, 't') || at(i + 1, 'm') || at(i + 1, 'd')) return i + 2;
    if ((at(i + 1, 'r') && at(i + 2, 'e')) || (at(i + 1, 'v') && at(i + 2, 'e')) ||
        (at(i + 1, 'l') && at(i + 2, 'l')))
      return i + 3;
    return i;
  }

  // " ?X+" for a class X (letters, numbers or "other").
  size_t space_then_run(size_t i, CharClass c) const {
    if (is(i, c)) return run(i, c);
    if (is_cp(i, ' ') && is(i + 1, c)) return run(i + 1, c);
    return i;
  }

  // \s+(?!\S) then \s+ : a run of spaces gives up its last space to the next piece
  // unless it ends the text (or is a single space, which the plain \s+ takes).
  size_t spaces(size_t i) const {
    const size_t end = run(i, kSpace);
    if (end == i) return i;
    if (end == n_ || end - i == 1) return end;
    return end - 1;
  }

  size_t next_gpt2(size_t i) const {
    size_t e;
    if ((e = contraction(i, false)) != i) return e;
    if ((e = space_then_run(i, kLetter)) != i) return e;
    if ((e = space_then_run(i, kNumber)) != i) return e;
    if ((e = space_then_run(i, kOther)) != i) return e;
    if ((e = spaces(i)) != i) return e;
    return i + 1;  // unreachable: every symbol is in one of the classes above
  }

  size_t next_llama3(size_t i, size_t max_digits) const {
    size_t e;
    if ((e = contraction(i, true)) != i) return e;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (is(i, kLetter)) return run(i, kLetter);
    if (!is(i, kNumber) && !is_newline(i) && is(i + 1, kLetter)) return run(i + 1, kLetter);
    // \p{N}{1,max}
    if (is(i, kNumber)) {
      e = i;
      while (e - i < max_digits && is(e, kNumber)) ++e;
      return e;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    if (is(i, kOther)) return run_newlines(run(i, kOther));
    if (is_cp(i, ' ') && is(i + 1, kOther)) return run_newlines(run(i + 1, kOther));
    // \s*[\r\n]+ : within the run of spaces, up to and including its last line break.
    const size_t end = run(i, kSpace);
    for (size_t k = end; k > i; --k) {
      if (is_newline(k - 1)) return k;
    }
    if ((e = spaces(i)) != i) return e;
    return i + 1;  // unreachable
  }

 private:
  const std::vector<Symbol>& s_;
  size_t n_;
};

}  // namespace

std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
  if (name == "default" || name == "gpt2" || name == "gpt-2" || name == "mpt" || name == "gpt-neox") {
    return PreTokenizer::Gpt2;
  }
  if (name == "starcoder" || name == "refact") return PreTokenizer::StarCoder;
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3") return PreTokenizer::Llama3;
  if (name == "qwen2") return PreTokenizer::Qwen2;
  return std::nullopt;
}

namespace {

// Gpt2 over symbols [from, to) as if they were the whole text; pieces are views into text.
void gpt2_pieces(std::string_view text, const std::vector<Symbol>& all, size_t from, size_t to,
                 std::vector<std::string_view>& pieces) {
  const std::vector<Symbol> part(all.begin() + static_cast<std::ptrdiff_t>(from), all.begin() + static_cast<std::ptrdiff_t>(to));
  const Matcher m(part);
  const size_t text_end = to < all.size() ? all[to].offset : text.size();
  for (size_t i = 0; i < part.size();) {
    const size_t end = m.next_gpt2(i);
    const size_t a = part[i].offset;
    const size_t b = end < part.size() ? part[end].offset : text_end;
    pieces.push_back(text.substr(a, b - a));
    i = end;
  }
}

std::vector<std::string_view> pre_tokenize_starcoder(std::string_view text, const std::vector<Symbol>& symbols) {
  std::vector<std::string_view> pieces;
  size_t start = 0;  // first symbol of the current stretch without digits
  for (size_t i = 0; i <= symbols.size(); ++i) {
    if (i < symbols.size() && symbols[i].cls != kNumber) continue;
    if (i > start) gpt2_pieces(text, symbols, start, i, pieces);
    if (i < symbols.size()) {
      const size_t b = i + 1 < symbols.size() ? symbols[i + 1].offset : text.size();
      pieces.push_back(text.substr(symbols[i].offset, b - symbols[i].offset));
    }
    start = i + 1;
  }
  return pieces;
}

}  // namespace

std::vector<std::string_view> pre_tokenize(std::string_view text, PreTokenizer kind) {
  const std::vector<Symbol> symbols = classify(text);
  if (kind == PreTokenizer::StarCoder) return pre_tokenize_starcoder(text, symbols);
  const Matcher m(symbols);
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < symbols.size();) {
    size_t end;
    switch (kind) {
      case PreTokenizer::Gpt2: end = m.next_gpt2(i); break;
      case PreTokenizer::Llama3: end = m.next_llama3(i, 3); break;
      case PreTokenizer::Qwen2: end = m.next_llama3(i, 1); break;
      default: end = i + 1;
    }
    const size_t from = symbols[i].offset;
    const size_t to = end < symbols.size() ? symbols[end].offset : text.size();
    pieces.push_back(text.substr(from, to - from));
    i = end;
  }
  return pieces;
}

}  // namespace baton
