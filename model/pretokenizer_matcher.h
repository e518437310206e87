// Internal to the pre-tokenizers (pretokenizer.cpp): the text as classified symbols, and the
// single-regex matchers, each a hand-written equivalent of one of llama.cpp's patterns as
// llama.cpp evaluates it (pretokenizer.cpp explains how that decides the character classes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace baton::pretok {

enum CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

struct Symbol {
  char32_t cp;
  CharClass cls;
  size_t offset;  // byte offset in the text
};
using Symbols = std::vector<Symbol>;

// Ill-formed UTF-8 becomes U+FFFD (a symbol), one per maximal ill-formed subpart.
Symbols classify(std::string_view text);

// Symbols [begin, end): the text, or a piece of it that a later pattern splits further.
struct Span {
  size_t begin, end;
};
using Spans = std::vector<Span>;

// Variants of Llama 3's pattern:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
struct Llama3Shape {
  bool contractions = true;          // the (?i:'s|...) alternative (not ufakzeka)
  size_t max_digits = 3;             // \p{N}{1,max}: 1 for Qwen2 and its kin
  bool marks_in_words = false;       // qwen35: [\p{L}\p{M}]+ words, [^\s\p{L}\p{M}\p{N}]+ punctuation
  bool newlines_after_punct = true;  // the [\r\n]* after punctuation (not seed-coder)
  bool space_cascade = false;        // jais-2: \s{512}(?!\S)|\s{256}(?!\S)|...|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}
};

// Variants of GPT-4o's pattern, as llama.cpp rewrites it (std::regex has no \p{Lu}):
//   [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   |[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// So only ASCII letters have a case: a letter of another script is both "upper" and
// "lower" (ÉCOLE is É then COLE), where the published regex, on Lu/Ll, keeps ÉCOLE whole.
struct Gpt4oShape {
  bool cased = true;              // the [^a-z] / [^A-Z] split; youtu and tiny_aya write \p{Lu}
                                  // and \p{Ll}, which llama.cpp reads as \p{L}: no case at all
  bool marks_are_letters = false; // \p{M} in the word classes (youtu, tiny_aya, granite-embed-multi)
  bool contractions = true;       // the optional contraction after a word (not tekken)
  size_t max_digits = 3;          // \p{N}{1,max}
};

// Matching within one span, which the patterns see as the whole text (lookaheads stop at
// its end). Every function returns the end index of the match starting at i, or i when the
// pattern does not match there.
class Matcher {
 public:
  Matcher(const Symbols& s, Span span) : s_(s), end_(span.end) {}

  bool in(size_t i) const { return i < end_; }
  bool is(size_t i, CharClass c) const { return in(i) && s_[i].cls == c; }
  bool is_cp(size_t i, char32_t c) const { return in(i) && s_[i].cp == c; }
  bool is_newline(size_t i) const { return is_cp(i, '\r') || is_cp(i, '\n'); }
  template <class Pred>
  bool has(size_t i, Pred pred) const {
    return in(i) && pred(s_[i].cp);
  }
  size_t run(size_t i, CharClass c) const {
    while (is(i, c)) ++i;
    return i;
  }
  template <class Pred>
  size_t run_of(size_t i, Pred pred) const {
    while (has(i, pred)) ++i;
    return i;
  }
  // A run of positions (not code points) that pass `at`.
  template <class At>
  size_t run_while(size_t i, At at) const {
    while (at(i)) ++i;
    return i;
  }
  size_t run_newlines(size_t i) const {
    while (is_newline(i)) ++i;
    return i;
  }

  // llama.cpp's \p{M}, \p{P} and \p{S} (see pretokenizer.cpp): Unicode's categories.
  bool is_mark(size_t i) const;
  bool is_punct(size_t i) const;
  bool is_symbol(size_t i) const;

  // 's|'t|'re|'ve|'m|'ll|'d, optionally ASCII case-insensitive.
  size_t contraction(size_t i, bool ignore_case) const;
  // " ?X+" for a class X (letters, numbers or "other").
  size_t space_then_run(size_t i, CharClass c) const;
  // "\s?X+" for a set X of non-space characters.
  template <class Pred>
  size_t optional_space_then_run(size_t i, Pred pred) const {
    if (has(i, pred)) return run_of(i, pred);
    if (is(i, kSpace) && has(i + 1, pred)) return run_of(i + 1, pred);
    return i;
  }
  // \s+(?!\S)|\s+ : a run of spaces gives up its last space to the next piece unless it
  // ends the span (or is a single space, which the plain \s+ takes).
  size_t spaces(size_t i) const;
  // \s*[\r\n]+|\s+(?!\S)|\s+ : up to the last line break of the run of spaces, if it has one.
  size_t spaces_to_last_line_break(size_t i) const;

  // Whole patterns (one regex each).
  size_t next_gpt2(size_t i) const;
  size_t next_llama3(size_t i, const Llama3Shape& shape) const;
  size_t next_gpt4o(size_t i, const Gpt4oShape& shape) const;
  size_t next_deepseek3(size_t i, bool spark) const;
  size_t next_kimi_k2(size_t i) const;
  size_t next_exaone_moe(size_t i) const;
  size_t next_bloom(size_t i) const;

 private:
  size_t space_cascade(size_t i) const;

  const Symbols& s_;
  size_t end_;
};

}  // namespace baton::pretok
