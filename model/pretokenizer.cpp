// The patterns, as llama.cpp lists them for each pre-tokenizer (src/llama-vocab.cpp). Within a
// regex, alternatives are tried in order at each position and the first that matches wins,
// as in a backtracking regex engine. A list of regexes is applied in turn, as llama.cpp's
// unicode_regex_split does: each one searches every piece the previous ones left (the
// matches and the stretches between them) as a text of its own, and splits it further.
// (pretokenizer_matcher.h has the single regexes these are made of.)
//
//  Gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//  Llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//          | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//  Qwen2:  as Llama3 with \p{N} instead of \p{N}{1,3}
//  Qwen35: as Qwen2 with [\p{L}\p{M}]+ words and [^\s\p{L}\p{M}\p{N}]+ punctuation
//  SeedCoder: as Qwen2 with ' ?[^\s\p{L}\p{N}\r\n]+' (no line breaks after punctuation)
//  Ufakzeka:  as Qwen2 without the contractions
//  Jais2:  as Llama3 with \s{512}(?!\S)|\s{256}(?!\S)|...|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}
//  Laguna:        [^\n]+|[\n]+, then Qwen2
//  MiniCpm5:      \p{N}{1,3}, then Llama3 (with \p{N}+)
//  StarCoder:     \p{N}, then Gpt2
//  Falcon:        [\p{P}\$\+<=>\^~\|`]+, then Gpt2, then [0-9][0-9][0-9]
//  DeepSeekLlm:   [\r\n], then \s?[<cased letters>]+, then \s?[!-/:-~！-／：-～‘-‟　-。]+,
//                 then \s+$, then [一-龥ࠀ-一가-퟿]+, then \p{N}+
//  DeepSeekCoder: [\r\n], then \s?\p{L}+, then \s?\p{P}+, then [一-龥ࠀ-一가-퟿]+, then \p{N}
//  DeepSeekV3:    \p{N}{1,3}, then [一-龥぀-ゟ゠-ヿ]+, then
//                 [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
//                 | ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//  Spark25:       as DeepSeekV3 with ' ?[\p{P}\p{S}]+|[\r\n]' for ' ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+',
//                 then \p{N}
//  Afmoe:         digit runs cut after their first (length mod 3) digits and then in threes
//                 (llama.cpp's own matcher), then [一-鿿㐀-䶿豈-﫿぀-ゟ゠-ヿ･-ﾟ⼀-⿟เ-๿຀-໿ក-៿က-႟ꩠ-ꩿꧠ-꧿가-힯ᄀ-ᇿ]+,
//                 then DeepSeekV3's last pattern
//  Gpt4o:         [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|...)?
//                 |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|...)?
//                 |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//                 as llama.cpp rewrites it (pretokenizer_matcher.h: only ASCII letters have a case)
//  Tekken:        Gpt4o without the contractions and with \p{N}
//  GraniteEmbedMulti: Gpt4o with (?=[\p{L}\p{M}]) for (?=[\p{L}])
//  Youtu:         [가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+, then Gpt4o with \p{N}
//                 (its \p{Lu} and \p{Ll} are \p{L} to llama.cpp: no case)
//  TinyAya:       \d{1,3}(?=(?:\d{3})*\b), which llama.cpp runs as AFMoE's digits, then Gpt4o
//                 (no case, as Youtu)
//  KimiK2:        llama.cpp's own matcher (pretokenizer_matcher.cpp)
//  SuperBpe:      \p{N}+, then (?=(\d{3})+(?!\d)) (empty matches: cuts)
//  Bloom:         ' ?[^(\s|.,!?…。，、।۔،)]+'; Viking: then \p{N}
//  ExaoneMoe:     (?i:'s|...)|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}
//                 | ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+
//
// How llama.cpp evaluates the patterns it has no hand-written matcher for, which decides
// what the character classes mean here:
//  - a pattern with \p{..} runs on a copy of the text where every non-ASCII character is
//    replaced by one byte standing for its category (whitespace by \v), and \p{X} by that
//    byte and a list of ASCII characters, Unicode's for each. Hence \p{Lu}, \p{Ll}, ...
//    all mean \p{L}, and [^a-z] / [^A-Z] are the only case a letter has; [\p{P}\$\+<=>\^~\|`]
//    is Unicode punctuation and every ASCII symbol;
//  - a pattern without runs on code points, with non-ASCII whitespace replaced by \v; so a
//    whitespace character is never in an explicit range (U+3000 in the DeepSeek ranges),
//    and \d knows ASCII digits only (C locale);
//  - \s is ASCII whitespace plus those replacements: the White_Space property.
#include "model/pretokenizer.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <iterator>

#include "model/pretokenizer_matcher.h"
#include "model/unicode_tables.h"

namespace baton {

namespace {

using pretok::kLetter;
using pretok::kNumber;
using pretok::kSpace;
using pretok::Matcher;
using pretok::Span;
using pretok::Spans;
using pretok::Symbols;

// A pattern that tokenises the whole span (its last alternative matches any character).
template <class Next>
void split_all(const Symbols& s, Span span, Next next, Spans& out) {
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
void split_matches(const Symbols& s, Span span, Match match, Spans& out) {
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
bool is_line_feed(char32_t c) { return c == '\n'; }
bool is_not_line_feed(char32_t c) { return c != '\n'; }

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

// [一-龥぀-ゟ゠-ヿ]: hiragana and katakana, and the CJK ideographs up to U+9FA5.
constexpr Range kKanaAndIdeographs[] = {{0x3040, 0x30FF}, {0x4E00, 0x9FA5}};

// AFMoE's [一-鿿㐀-䶿豈-﫿぀-ゟ゠-ヿ･-ﾟ⼀-⿟เ-๿຀-໿ក-៿က-႟ꩠ-ꩿꧠ-꧿가-힯ᄀ-ᇿ], sorted and joined. Its
// "豈" is U+8C48 in llama.cpp's source (the compatibility ideograph U+F900 after NFC), so
// the range runs from U+8C48 and swallows everything up to U+FAFF: Hangul, the private
// use area and the compatibility ideographs.
constexpr Range kAfmoeScripts[] = {
    {0x0E40, 0x0EFF}, {0x1000, 0x109F}, {0x1100, 0x11FF}, {0x1780, 0x17FF}, {0x2F00, 0x2FDF},
    {0x3040, 0x30FF}, {0x3400, 0x4DBF}, {0x4E00, 0xFAFF}, {0xFF65, 0xFF9F},
};

// Youtu's four alternatives, each a run of its own set.
constexpr Range kYoutuHangul[] = {{0x3131, 0x318E}, {0xAC00, 0xD7A3}};
constexpr Range kYoutuPunctuation[] = {
    {0x2014, 0x2014}, {0x2018, 0x2019}, {0x201C, 0x201D}, {0x2026, 0x2026}, {0x3001, 0x303F},
    {0xFE30, 0xFE4F}, {0xFF01, 0xFF01}, {0xFF0C, 0xFF0C}, {0xFF1A, 0xFF1B},
};
constexpr Range kYoutuBopomofo[] = {{0x3105, 0x312F}};

static_assert(sorted_and_disjoint(kDeepSeekCasedLetters) && sorted_and_disjoint(kDeepSeekPunctuation) &&
              sorted_and_disjoint(kDeepSeekCjk) && sorted_and_disjoint(kKanaAndIdeographs) &&
              sorted_and_disjoint(kAfmoeScripts) && sorted_and_disjoint(kYoutuHangul) &&
              sorted_and_disjoint(kYoutuPunctuation) && sorted_and_disjoint(kYoutuBopomofo));

// An explicit set in a pattern without \p{..}: whitespace never matches it (see the top).
template <size_t N>
auto explicit_set(const Range (&ranges)[N]) {
  return [&ranges](char32_t c) { return !unicode::is_whitespace(c) && in_ranges(ranges, c); };
}

// ---- Patterns: each splits one span and appends the pieces ----

void gpt2(const Symbols& s, Span span, Spans& out) {
  split_all(s, span, [](const Matcher& m, size_t i) { return m.next_gpt2(i); }, out);
}

template <pretok::Llama3Shape kShape>
void llama3_like(const Symbols& s, Span span, Spans& out) {
  split_all(s, span, [](const Matcher& m, size_t i) { return m.next_llama3(i, kShape); }, out);
}
constexpr pretok::Llama3Shape kLlama3{};
constexpr pretok::Llama3Shape kQwen2{.max_digits = 1};
constexpr pretok::Llama3Shape kQwen35{.max_digits = 1, .marks_in_words = true};
constexpr pretok::Llama3Shape kSeedCoder{.max_digits = 1, .newlines_after_punct = false};
constexpr pretok::Llama3Shape kUfakzeka{.contractions = false, .max_digits = 1};
constexpr pretok::Llama3Shape kJais2{.space_cascade = true};

template <pretok::Gpt4oShape kShape>
void gpt4o_like(const Symbols& s, Span span, Spans& out) {
  split_all(s, span, [](const Matcher& m, size_t i) { return m.next_gpt4o(i, kShape); }, out);
}
constexpr pretok::Gpt4oShape kGpt4o{};
constexpr pretok::Gpt4oShape kTekken{.contractions = false, .max_digits = 1};
constexpr pretok::Gpt4oShape kGraniteEmbedMulti{.marks_are_letters = true};
constexpr pretok::Gpt4oShape kYoutuWords{.cased = false, .marks_are_letters = true, .max_digits = 1};
constexpr pretok::Gpt4oShape kTinyAyaWords{.cased = false, .marks_are_letters = true};

void deepseek3_words(const Symbols& s, Span span, Spans& out) {
  split_matches(s, span, [](const Matcher& m, size_t i) { return m.next_deepseek3(i, false); }, out);
}
void spark_words(const Symbols& s, Span span, Spans& out) {
  split_matches(s, span, [](const Matcher& m, size_t i) { return m.next_deepseek3(i, true); }, out);
}
void kimi_k2(const Symbols& s, Span span, Spans& out) {
  split_all(s, span, [](const Matcher& m, size_t i) { return m.next_kimi_k2(i); }, out);
}
void exaone_moe(const Symbols& s, Span span, Spans& out) {
  split_all(s, span, [](const Matcher& m, size_t i) { return m.next_exaone_moe(i); }, out);
}
void bloom(const Symbols& s, Span span, Spans& out) {
  split_matches(s, span, [](const Matcher& m, size_t i) { return m.next_bloom(i); }, out);
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
void kana_and_ideographs(const Symbols& s, Span span, Spans& out) {
  runs_of(s, span, explicit_set(kKanaAndIdeographs), out);
}
void afmoe_scripts(const Symbols& s, Span span, Spans& out) { runs_of(s, span, explicit_set(kAfmoeScripts), out); }
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

// [^\n]+|[\n]+
void line_feed_runs(const Symbols& s, Span span, Spans& out) {
  split_all(s, span, [](const Matcher& m, size_t i) {
    return m.has(i, is_line_feed) ? m.run_of(i, is_line_feed) : m.run_of(i, is_not_line_feed);
  }, out);
}

// [가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+ (the sets are disjoint)
void youtu_scripts(const Symbols& s, Span span, Spans& out) {
  split_matches(s, span, [](const Matcher& m, size_t i) {
    for (const auto& set : {+[](char32_t c) { return in_ranges(kYoutuHangul, c); },
                            +[](char32_t c) { return in_ranges(kYoutuPunctuation, c); },
                            +[](char32_t c) { return in_ranges(kYoutuBopomofo, c); },
                            +[](char32_t c) { return in_ranges(kKanaAndIdeographs, c); }}) {
      if (m.has(i, set)) return m.run_of(i, set);
    }
    return i;
  }, out);
}

// \p{N}{1,3}
void number_triples(const Symbols& s, Span span, Spans& out) {
  split_matches(s, span, [](const Matcher& m, size_t i) {
    size_t e = i;
    while (e - i < 3 && m.is(e, kNumber)) ++e;
    return e;
  }, out);
}

// llama.cpp's AFMoE digits: a run of n numbers is cut after its first n mod 3 and then
// every three; what precedes the run stays with its first part (so "ab12345" gives "ab12"
// and "345", which the later patterns split again).
void afmoe_digits(const Symbols& s, Span span, Spans& out) {
  const Matcher m(s, span);
  size_t from = span.begin;
  for (size_t i = span.begin; i < span.end;) {
    if (!m.is(i, kNumber)) {
      ++i;
      continue;
    }
    const size_t end = m.run(i, kNumber);
    size_t cut = i + (end - i) % 3;
    if (cut == i) cut += 3;
    for (; cut <= end; cut += 3) {
      out.push_back({from, cut});
      from = cut;
    }
    i = end;
  }
  if (from < span.end) out.push_back({from, span.end});
}

// Calls piece(a, b) for each run [a, b) of ASCII digits in the span.
template <class Piece>
void for_each_digit_run(const Matcher& m, Span span, Piece piece) {
  for (size_t i = span.begin; i < span.end;) {
    if (!m.has(i, is_ascii_digit)) {
      ++i;
      continue;
    }
    const size_t end = m.run_of(i, is_ascii_digit);
    piece(i, end);
    i = end;
  }
}

// (?=(\d{3})+(?!\d)): an empty match before every ASCII digit followed by a multiple of
// three digits up to the end of their run; llama.cpp cuts there.
void digit_thousands(const Symbols& s, Span span, Spans& out) {
  const Matcher m(s, span);
  size_t from = span.begin;
  for_each_digit_run(m, span, [&](size_t begin, size_t end) {
    for (size_t cut = begin + (end - begin) % 3; cut + 3 <= end; cut += 3) {
      if (cut > from) {
        out.push_back({from, cut});
        from = cut;
      }
    }
  });
  if (from < span.end) out.push_back({from, span.end});
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
    case PreTokenizer::Llama3: return apply_in_turn(s, {llama3_like<kLlama3>});
    case PreTokenizer::Qwen2: return apply_in_turn(s, {llama3_like<kQwen2>});
    case PreTokenizer::StarCoder: return apply_in_turn(s, {number_alone, gpt2});
    case PreTokenizer::Falcon: return apply_in_turn(s, {falcon_punctuation, gpt2, ascii_digit_triples});
    case PreTokenizer::DeepSeekLlm:
      return apply_in_turn(s, {line_break_alone, space_and_cased_letters, space_and_deepseek_punctuation,
                               trailing_spaces, cjk, numbers});
    case PreTokenizer::DeepSeekCoder:
      return apply_in_turn(s, {line_break_alone, space_and_letters, space_and_punctuation, cjk, number_alone});
    case PreTokenizer::DeepSeekV3: return apply_in_turn(s, {number_triples, kana_and_ideographs, deepseek3_words});
    case PreTokenizer::Spark25:
      return apply_in_turn(s, {number_triples, kana_and_ideographs, spark_words, number_alone});
    case PreTokenizer::Afmoe: return apply_in_turn(s, {afmoe_digits, afmoe_scripts, deepseek3_words});
    case PreTokenizer::Gpt4o: return apply_in_turn(s, {gpt4o_like<kGpt4o>});
    case PreTokenizer::Tekken: return apply_in_turn(s, {gpt4o_like<kTekken>});
    case PreTokenizer::Youtu: return apply_in_turn(s, {youtu_scripts, gpt4o_like<kYoutuWords>});
    case PreTokenizer::TinyAya: return apply_in_turn(s, {afmoe_digits, gpt4o_like<kTinyAyaWords>});
    case PreTokenizer::GraniteEmbedMulti: return apply_in_turn(s, {gpt4o_like<kGraniteEmbedMulti>});
    case PreTokenizer::KimiK2: return apply_in_turn(s, {kimi_k2});
    case PreTokenizer::Qwen35: return apply_in_turn(s, {llama3_like<kQwen35>});
    case PreTokenizer::SeedCoder: return apply_in_turn(s, {llama3_like<kSeedCoder>});
    case PreTokenizer::Ufakzeka: return apply_in_turn(s, {llama3_like<kUfakzeka>});
    case PreTokenizer::Laguna: return apply_in_turn(s, {line_feed_runs, llama3_like<kQwen2>});
    case PreTokenizer::MiniCpm5: return apply_in_turn(s, {number_triples, llama3_like<kLlama3>});
    case PreTokenizer::Jais2: return apply_in_turn(s, {llama3_like<kJais2>});
    case PreTokenizer::SuperBpe: return apply_in_turn(s, {numbers, digit_thousands});
    case PreTokenizer::Bloom: return apply_in_turn(s, {bloom});
    case PreTokenizer::Viking: return apply_in_turn(s, {bloom, number_alone});
    case PreTokenizer::ExaoneMoe: return apply_in_turn(s, {exaone_moe});
  }
  return apply_in_turn(s, {gpt2});
}

}  // namespace

std::vector<std::string_view> pre_tokenize(std::string_view text, PreTokenizer kind) {
  const Symbols symbols = pretok::classify(text);
  std::vector<std::string_view> out;
  for (const Span& span : pieces(symbols, kind)) {
    const size_t from = symbols[span.begin].offset;
    const size_t to = span.end < symbols.size() ? symbols[span.end].offset : text.size();
    out.push_back(text.substr(from, to - from));
  }
  return out;
}

}  // namespace baton
