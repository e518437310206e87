// The patterns, as llama.cpp lists them for each pre-tokenizer (src/llama-vocab.cpp). Within a
// regex, alternatives are tried in order at each position and the first that matches wins,
// as in a backtracking regex engine. A list of regexes is applied in turn, as llama.cpp's
// unicode_regex_split does: each one searches every piece the previous ones left (the
// matches and the stretches between them) as a text of its own, and splits it further.
//
//  Gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//  Llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//          | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//  Qwen2:  as Llama3 with \p{N} instead of \p{N}{1,3}
//  StarCoder:     \p{N}, then Gpt2
//  Falcon:        [\p{P}\$\+<=>\^~\|`]+, then Gpt2, then [0-9][0-9][0-9]
//  DeepSeekLlm:   [\r\n], then \s?[<cased letters>]+, then \s?[!-/:-~！-／：-～‘-‟　-。]+,
//                 then \s+$, then [一-龥ࠀ-一가-퟿]+, then \p{N}+
//  DeepSeekCoder: [\r\n], then \s?\p{L}+, then \s?\p{P}+, then [一-龥ࠀ-一가-퟿]+, then \p{N}
//
// How llama.cpp evaluates the patterns it has no hand-written matcher for, which decides
// what the character classes mean here:
//  - a pattern with \p{..} runs on a copy of the text where every non-ASCII character is
//    replaced by one byte standing for its category (whitespace by \v), and \p{P} by that
//    byte and a list of ASCII punctuation, which is Unicode's; so \p{P} is Unicode
//    punctuation, and [\p{P}\$\+<=>\^~\|`] that and every ASCII symbol;
//  - a pattern without runs on code points, with non-ASCII whitespace replaced by \v; so a
//    whitespace character is never in an explicit range (U+3000 in the DeepSeek ranges);
//  - \s is ASCII whitespace plus those replacements: the White_Space property.
#include "model/pretokenizer.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <iterator>

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

// Symbols [begin, end): the text, or a piece of it that a later pattern splits further.
struct Span {
  size_t begin, end;
};

// Matching within one span, which the patterns see as the whole text (lookaheads stop at
// its end). Every function returns the end index of the match starting at i, or i when the
// alternative does not match.
class Matcher {
 public:
  Matcher(const std::vector<Symbol>& s, Span span) : s_(s), end_(span.end) {}

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
  size_t run_newlines(size_t i) const {
    while (is_newline(i)) ++i;
    return i;
  }

  // 's|'t|'re|'ve|'m|'ll|'d, optionally ASCII case-insensitive.
  size_t contraction(size_t i, bool ignore_case) const {
    if (!is_cp(i, '\'') || !in(i + 1)) return i;
    auto at = [&](size_t k, char lower) {
      if (!in(k)) return false;
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

  // "\s?X+" for a set X of non-space characters.
  template <class Pred>
  size_t optional_space_then_run(size_t i, Pred pred) const {
    if (has(i, pred)) return run_of(i, pred);
    if (is(i, kSpace) && has(i + 1, pred)) return run_of(i + 1, pred);
    return i;
  }

  // \s+(?!\S) then \s+ : a run of spaces gives up its last space to the next piece
  // unless it ends the span (or is a single space, which the plain \s+ takes).
  size_t spaces(size_t i) const {
    const size_t end = run(i, kSpace);
    if (end == i) return i;
    if (end == end_ || end - i == 1) return end;
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
  size_t end_;
};

using Spans = std::vector<Span>;

// A pattern that tokenises the whole span (its last alternative matches any character).
template <class Next>
void split_all(const std::vector<Symbol>& s, Span span, Next next, Spans& out) {
  const Matcher m(s, span);
  for (size_t i = span.begin; i < span.end;) {
    const size_t e = next(m, i);
    out.push_back({i, e});
    i = e;
  }
}

// A pattern that need not match everywhere, as llama.cpp's regex search uses it: each match
// (the leftmost, then the leftmost after it) is a piece, and so is each stretch between
// matches. match(m, i) is the end of the match starting at i, or i.
template <class Match>
void split_matches(const std::vector<Symbol>& s, Span span, Match match, Spans& out) {
  const Matcher m(s, span);
  size_t gap = span.begin;
  for (size_t i = span.begin; i < span.end;) {
    const size_t e = match(m, i);
    if (e == i) {
      ++i;
      continue;
    }
    if (gap < i) out.push_back({gap, i});
    out.push_back({i, e});
    i = gap = e;
  }
  if (gap < span.end) out.push_back({gap, span.end});
}

// ---- Character sets of the patterns ----

bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_line_break(char32_t c) { return c == '\r' || c == '\n'; }

// Falcon's [\p{P}\$\+<=>\^~\|`]: every ASCII punctuation and symbol character, and
// non-ASCII punctuation (not symbols: those are another category).
bool is_falcon_punctuation(char32_t c) {
  if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
  return unicode::is_punctuation(c);
}

struct Range {
  char32_t first, last;
};

template <size_t N>
constexpr bool sorted_and_disjoint(const Range (&ranges)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (ranges[i].first > ranges[i].last || (i > 0 && ranges[i - 1].last >= ranges[i].first)) return false;
  }
  return true;
}

template <size_t N>
bool in_ranges(const Range (&ranges)[N], char32_t c) {
  const Range* it = std::lower_bound(std::begin(ranges), std::end(ranges), c,
                                     [](const Range& r, char32_t x) { return r.last < x; });
  return it != std::end(ranges) && it->first <= c;
}

// DeepSeek LLM's letter set, range by range as its tokenizer.json writes it (the cased
// letters of some Unicode version: no CJK, no Lm/Lo).
constexpr Range kDeepSeekCasedLetters[] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
    {0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377}, {0x37B, 0x37D},
    {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C}, {0x38E, 0x3A1}, {0x3A3, 0x3F5},
    {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5},
    {0x13F8, 0x13FD}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77},
    {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D},
    {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D},
    {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC},
    {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC},
    {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D},
    {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134},
    {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184},
    {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3}, {0xA640, 0xA66D},
    {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E}, {0xAB70, 0xABBF},
    {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F},
    {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2},
    {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

// [!-/:-~！-／：-～‘-‟　-。] in order: ASCII punctuation and symbols (and, as :-~ spans them,
// the ASCII letters), curly quotes, the ideographic space, comma and full stop, and the
// full-width forms.
constexpr Range kDeepSeekPunctuation[] = {
    {0x21, 0x2F}, {0x3A, 0x7E}, {0x2018, 0x201F}, {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
};

// [一-龥ࠀ-一가-퟿], its first two ranges joined: U+0800..U+9FA5 (the CJK ideographs and
// much before them, general punctuation and emoji-like symbols included) and Hangul.
constexpr Range kDeepSeekCjk[] = {{0x800, 0x9FA5}, {0xAC00, 0xD7FF}};

static_assert(sorted_and_disjoint(kDeepSeekCasedLetters) && sorted_and_disjoint(kDeepSeekPunctuation) &&
              sorted_and_disjoint(kDeepSeekCjk));

// An explicit set in a pattern without \p{..}: whitespace never matches it (see the top).
template <size_t N>
auto explicit_set(const Range (&ranges)[N]) {
  return [&ranges](char32_t c) { return !unicode::is_whitespace(c) && in_ranges(ranges, c); };
}

// ---- Patterns: each splits one span and appends the pieces ----

using Symbols = std::vector<Symbol>;

void gpt2(const Symbols& s, Span span, Spans& out) {
  split_all(s, span, [](const Matcher& m, size_t i) { return m.next_gpt2(i); }, out);
}

void llama3(const Symbols& s, Span span, Spans& out) {
  split_all(s, span, [](const Matcher& m, size_t i) { return m.next_llama3(i, 3); }, out);
}

void qwen2(const Symbols& s, Span span, Spans& out) {
  split_all(s, span, [](const Matcher& m, size_t i) { return m.next_llama3(i, 1); }, out);
}

// X: each character of the set alone.
template <class Pred>
void each_of(const Symbols& s, Span span, Pred pred, Spans& out) {
  split_matches(s, span, [&](const Matcher& m, size_t i) { return m.has(i, pred) ? i + 1 : i; }, out);
}

// X+
template <class Pred>
void runs_of(const Symbols& s, Span span, Pred pred, Spans& out) {
  split_matches(s, span, [&](const Matcher& m, size_t i) { return m.run_of(i, pred); }, out);
}

// \s?X+
template <class Pred>
void space_and_runs_of(const Symbols& s, Span span, Pred pred, Spans& out) {
  split_matches(s, span, [&](const Matcher& m, size_t i) { return m.optional_space_then_run(i, pred); }, out);
}

void number_alone(const Symbols& s, Span span, Spans& out) { each_of(s, span, unicode::is_number, out); }
void numbers(const Symbols& s, Span span, Spans& out) { runs_of(s, span, unicode::is_number, out); }
void line_break_alone(const Symbols& s, Span span, Spans& out) { each_of(s, span, is_line_break, out); }
void falcon_punctuation(const Symbols& s, Span span, Spans& out) { runs_of(s, span, is_falcon_punctuation, out); }
void cjk(const Symbols& s, Span span, Spans& out) { runs_of(s, span, explicit_set(kDeepSeekCjk), out); }
void space_and_cased_letters(const Symbols& s, Span span, Spans& out) {
  space_and_runs_of(s, span, explicit_set(kDeepSeekCasedLetters), out);
}
void space_and_deepseek_punctuation(const Symbols& s, Span span, Spans& out) {
  space_and_runs_of(s, span, explicit_set(kDeepSeekPunctuation), out);
}
void space_and_letters(const Symbols& s, Span span, Spans& out) { space_and_runs_of(s, span, unicode::is_letter, out); }
void space_and_punctuation(const Symbols& s, Span span, Spans& out) {
  space_and_runs_of(s, span, unicode::is_punctuation, out);
}

// \s+$ : the whitespace that ends the span (the search finds no earlier match: a run of
// spaces followed by anything else fails $).
void trailing_spaces(const Symbols& s, Span span, Spans& out) {
  size_t k = span.end;
  while (k > span.begin && s[k - 1].cls == kSpace) --k;
  if (k > span.begin) out.push_back({span.begin, k});
  if (k < span.end) out.push_back({k, span.end});
}

// [0-9][0-9][0-9]
void ascii_digit_triples(const Symbols& s, Span span, Spans& out) {
  split_matches(s, span, [](const Matcher& m, size_t i) {
    const bool three = m.has(i, is_ascii_digit) && m.has(i + 1, is_ascii_digit) && m.has(i + 2, is_ascii_digit);
    return three ? i + 3 : i;
  }, out);
}

using Pattern = void (*)(const Symbols&, Span, Spans&);

// Applies each pattern in turn to every span the previous ones produced.
Spans apply_in_turn(const Symbols& s, std::initializer_list<Pattern> patterns) {
  if (s.empty()) return {};
  Spans spans{{0, s.size()}}, next;
  for (const Pattern pattern : patterns) {
    next.clear();
    for (const Span& span : spans) pattern(s, span, next);
    spans.swap(next);
  }
  return spans;
}

Spans pieces(const Symbols& s, PreTokenizer kind) {
  switch (kind) {
    case PreTokenizer::Gpt2: return apply_in_turn(s, {gpt2});
    case PreTokenizer::Llama3: return apply_in_turn(s, {llama3});
    case PreTokenizer::Qwen2: return apply_in_turn(s, {qwen2});
    case PreTokenizer::StarCoder: return apply_in_turn(s, {number_alone, gpt2});
    case PreTokenizer::Falcon: return apply_in_turn(s, {falcon_punctuation, gpt2, ascii_digit_triples});
    case PreTokenizer::DeepSeekLlm:
      return apply_in_turn(s, {line_break_alone, space_and_cased_letters, space_and_deepseek_punctuation,
                               trailing_spaces, cjk, numbers});
    case PreTokenizer::DeepSeekCoder:
      return apply_in_turn(s, {line_break_alone, space_and_letters, space_and_punctuation, cjk, number_alone});
  }
  return apply_in_turn(s, {gpt2});
}

// ---- Names ----

struct NamedPreTokenizer {
  std::string_view name;
  PreTokenizerSpec spec;
};

// llama.cpp's table (llama_vocab::impl::load), restricted to the patterns implemented here.
// Names whose llama.cpp entry also changes something baton does not model (a separator
// token, lower-casing) are left out, so that they are refused rather than half-supported.
constexpr NamedPreTokenizer kNames[] = {
    {"default", {PreTokenizer::Gpt2}},
    {"gpt2", {PreTokenizer::Gpt2}},
    {"gpt-2", {PreTokenizer::Gpt2}},
    {"gpt-neox", {PreTokenizer::Gpt2}},
    {"mpt", {PreTokenizer::Gpt2}},
    {"phi-2", {PreTokenizer::Gpt2}},
    {"olmo", {PreTokenizer::Gpt2}},
    {"jais", {PreTokenizer::Gpt2}},
    {"trillion", {PreTokenizer::Gpt2}},
    {"granite-docling", {PreTokenizer::Gpt2}},
    {"exaone4", {PreTokenizer::Gpt2}},
    {"gigachat", {PreTokenizer::Gpt2}},
    {"a.x-4.0", {PreTokenizer::Gpt2}},
    {"mellum", {PreTokenizer::Gpt2}},
    {"llama-bpe", {PreTokenizer::Llama3, true, true}},
    {"llama3", {PreTokenizer::Llama3, true, true}},
    {"llama-v3", {PreTokenizer::Llama3, true, true}},
    {"falcon3", {PreTokenizer::Llama3, true, true}},
    {"falcon-h1", {PreTokenizer::Llama3, true, true}},
    {"pixtral", {PreTokenizer::Llama3, true, true}},
    {"midm-2.0", {PreTokenizer::Llama3, true, true}},
    {"lfm2", {PreTokenizer::Llama3, true, true}},
    {"dbrx", {PreTokenizer::Llama3}},
    {"smaug-bpe", {PreTokenizer::Llama3}},
    {"glm4", {PreTokenizer::Llama3}},
    {"chatglm-bpe", {PreTokenizer::Llama3}},
    {"qwen2", {PreTokenizer::Qwen2}},
    {"deepseek-r1-qwen", {PreTokenizer::Qwen2}},
    {"kormo", {PreTokenizer::Qwen2}},
    {"f2llmv2", {PreTokenizer::Qwen2}},
    {"megrez", {PreTokenizer::Qwen2}},
    {"stablelm2", {PreTokenizer::Qwen2}},
    {"hunyuan", {PreTokenizer::Qwen2}},
    {"solar-open", {PreTokenizer::Qwen2}},
    {"starcoder", {PreTokenizer::StarCoder}},
    {"refact", {PreTokenizer::StarCoder}},
    {"smollm", {PreTokenizer::StarCoder}},
    {"command-r", {PreTokenizer::StarCoder}},
    {"codeshell", {PreTokenizer::StarCoder}},
    {"exaone", {PreTokenizer::StarCoder}},
    {"minerva-7b", {PreTokenizer::StarCoder}},
    {"mellum2", {PreTokenizer::StarCoder}},
    {"falcon", {PreTokenizer::Falcon}},
    {"deepseek-llm", {PreTokenizer::DeepSeekLlm}},
    {"deepseek-coder", {PreTokenizer::DeepSeekCoder}},
};

}  // namespace

std::optional<PreTokenizerSpec> find_pre_tokenizer(std::string_view name) {
  for (const NamedPreTokenizer& n : kNames) {
    if (n.name == name) return n.spec;
  }
  return std::nullopt;
}

std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
  const auto spec = find_pre_tokenizer(name);
  if (!spec) return std::nullopt;
  return spec->kind;
}

std::string supported_pre_tokenizer_names() {
  std::string out;
  for (const NamedPreTokenizer& n : kNames) {
    if (!out.empty()) out += ", ";
    out += n.name;
  }
  return out;
}

std::vector<std::string_view> pre_tokenize(std::string_view text, PreTokenizer kind) {
  const std::vector<Symbol> symbols = classify(text);
  std::vector<std::string_view> out;
  for (const Span& span : pieces(symbols, kind)) {
    const size_t from = symbols[span.begin].offset;
    const size_t to = span.end < symbols.size() ? symbols[span.end].offset : text.size();
    out.push_back(text.substr(from, to - from));
  }
  return out;
}

}  // namespace baton
