// Pre-tokenizers against the rules of their published patterns (pretokenizer.cpp lists them):
// every expected split below is worked out by hand from the regexes, for the cases where
// the patterns differ: contractions in either case, digit grouping, punctuation and symbol
// runs, spaces and line breaks before words, letters of other scripts, CJK, emoji and
// ill-formed UTF-8. llama-bpe, qwen2 and smollm have no test vectors upstream; falcon and
// deepseek-llm/-coder are also checked against llama.cpp's vectors, and every name against
// llama.cpp's own splits in pretokenizer_reference_test.cpp. The cases for deepseek-v3,
// gpt-4o and the later patterns each show one rule of their regex, next to the pattern
// the name would be mistaken for.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/pretokenizer.h"
#include "model/tokenizer.h"

namespace baton {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(std::string_view text, PreTokenizer kind) {
  Pieces out;
  for (std::string_view p : pre_tokenize(text, kind)) out.emplace_back(p);
  return out;
}

constexpr PreTokenizer kAll[] = {PreTokenizer::Gpt2,   PreTokenizer::Llama3,      PreTokenizer::Qwen2,
                                 PreTokenizer::StarCoder, PreTokenizer::Falcon, PreTokenizer::DeepSeekLlm,
                                 PreTokenizer::DeepSeekCoder};

// ---- Contractions ----

TEST(PreTokenizerRules, LowerCaseContractionsAreTheirOwnPieceEverywhereTheyAreListed) {
  const std::string text = "I'm he's we're they've I'll you'd don't";
  const Pieces expected = {"I", "'m", " he", "'s", " we", "'re", " they", "'ve", " I", "'ll", " you", "'d", " don", "'t"};
  EXPECT_EQ(split(text, PreTokenizer::Llama3), expected);
  EXPECT_EQ(split(text, PreTokenizer::Qwen2), expected);
  EXPECT_EQ(split(text, PreTokenizer::Gpt2), expected);
  EXPECT_EQ(split(text, PreTokenizer::StarCoder), expected);  // smollm
}

TEST(PreTokenizerRules, UpperCaseContractionsOnlyWhereThePatternIgnoresCase) {
  const std::string text = "I'M HE'S WE'RE THEY'VE I'LL YOU'D DON'T We'Ve";
  // (?i:'s|'t|'re|'ve|'m|'ll|'d) in Llama 3 and Qwen2.
  const Pieces folded = {"I",  "'M",   " HE",  "'S",   " WE", "'RE",  " THEY", "'VE", " I",
                         "'LL", " YOU", "'D",  " DON", "'T", " We", "'Ve"};
  EXPECT_EQ(split(text, PreTokenizer::Llama3), folded);
  EXPECT_EQ(split(text, PreTokenizer::Qwen2), folded);
  // GPT-2's list is lower case only: the apostrophe is then a run of "other" on its own,
  // and the letters after it a word.
  const Pieces exact = {"I", "'", "M",    " HE", "'", "S",   " WE", "'", "RE", " THEY", "'", "VE",
                        " I", "'", "LL", " YOU", "'", "D", " DON", "'", "T",  " We",   "'", "Ve"};
  EXPECT_EQ(split(text, PreTokenizer::Gpt2), exact);
  EXPECT_EQ(split(text, PreTokenizer::StarCoder), exact);
}

TEST(PreTokenizerRules, ContractionsNeedTheirWholeSpelling) {
  // "'sup" starts with 's; "'l" is not 'll, so Llama 3 lets the apostrophe lead the word
  // ([^\r\n\p{L}\p{N}]?\p{L}+) while GPT-2 splits it off.
  EXPECT_EQ(split("'sup", PreTokenizer::Llama3), (Pieces{"'s", "up"}));
  EXPECT_EQ(split("'sup", PreTokenizer::Gpt2), (Pieces{"'s", "up"}));
  EXPECT_EQ(split("o'lo", PreTokenizer::Llama3), (Pieces{"o", "'lo"}));
  EXPECT_EQ(split("o'lo", PreTokenizer::Qwen2), (Pieces{"o", "'lo"}));
  EXPECT_EQ(split("o'lo", PreTokenizer::Gpt2), (Pieces{"o", "'", "lo"}));
  EXPECT_EQ(split("o'lo", PreTokenizer::StarCoder), (Pieces{"o", "'", "lo"}));
}

// ---- Digits ----

TEST(PreTokenizerRules, DigitGroupingPerPattern) {
  const std::string text = "1234567 89";
  // \p{N}{1,3}; the lone space before a digit is \s+ on its own.
  EXPECT_EQ(split(text, PreTokenizer::Llama3), (Pieces{"123", "456", "7", " ", "89"}));
  // \p{N}: one digit per piece.
  EXPECT_EQ(split(text, PreTokenizer::Qwen2), (Pieces{"1", "2", "3", "4", "5", "6", "7", " ", "8", "9"}));
  // " ?\p{N}+": the space joins the number.
  EXPECT_EQ(split(text, PreTokenizer::Gpt2), (Pieces{"1234567", " 89"}));
  // smollm: \p{N} first, so the space stays alone between digits.
  EXPECT_EQ(split(text, PreTokenizer::StarCoder), (Pieces{"1", "2", "3", "4", "5", "6", "7", " ", "8", "9"}));
  // falcon: GPT-2's " 89" and "1234567", then [0-9]{3} from the left within each.
  EXPECT_EQ(split(text, PreTokenizer::Falcon), (Pieces{"123", "456", "7", " 89"}));
  // deepseek-llm: \p{N}+ is the last pattern; the space is what is left between.
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekLlm), (Pieces{"1234567", " ", "89"}));
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekCoder), (Pieces{"1", "2", "3", "4", "5", "6", "7", " ", "8", "9"}));
}

TEST(PreTokenizerRules, NonAsciiDigitsAreNumbersButNotFalconsTriples) {
  // ٣٤٥٦ (Arabic-Indic digits) and ² are \p{N}; falcon's [0-9] is ASCII only.
  const std::string text = "x\xD9\xA3\xD9\xA4\xD9\xA5\xD9\xA6\xC2\xB2";
  EXPECT_EQ(split(text, PreTokenizer::Llama3), (Pieces{"x", "\xD9\xA3\xD9\xA4\xD9\xA5", "\xD9\xA6\xC2\xB2"}));
  EXPECT_EQ(split(text, PreTokenizer::Falcon), (Pieces{"x", "\xD9\xA3\xD9\xA4\xD9\xA5\xD9\xA6\xC2\xB2"}));
  EXPECT_EQ(split(text, PreTokenizer::StarCoder),
            (Pieces{"x", "\xD9\xA3", "\xD9\xA4", "\xD9\xA5", "\xD9\xA6", "\xC2\xB2"}));
}

// ---- Punctuation and symbols ----

TEST(PreTokenizerRules, PunctuationRuns) {
  const std::string text = "wait...what?! (yes)";
  const Pieces gpt2 = {"wait", "...", "what", "?!", " (", "yes", ")"};
  EXPECT_EQ(split(text, PreTokenizer::Gpt2), gpt2);
  EXPECT_EQ(split(text, PreTokenizer::StarCoder), gpt2);
  EXPECT_EQ(split(text, PreTokenizer::Llama3), gpt2);
  EXPECT_EQ(split(text, PreTokenizer::Qwen2), gpt2);
  // DeepSeek: \s?<punctuation>+ keeps the space with the bracket too.
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekLlm), gpt2);
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekCoder), gpt2);
  // falcon splits punctuation runs off first, without spaces.
  EXPECT_EQ(split(text, PreTokenizer::Falcon), (Pieces{"wait", "...", "what", "?!", " ", "(", "yes", ")"}));
  // One non-letter may lead a word in Llama 3 and Qwen2, not in GPT-2's pattern.
  EXPECT_EQ(split("x(yes)", PreTokenizer::Llama3), (Pieces{"x", "(yes", ")"}));
  EXPECT_EQ(split("x(yes)", PreTokenizer::Gpt2), (Pieces{"x", "(", "yes", ")"}));
}

TEST(PreTokenizerRules, PunctuationIsNotSymbols) {
  // — (U+2014) is punctuation, € (U+20AC) a symbol: falcon splits off only the first;
  // GPT-2's pattern takes either with the space before it.
  EXPECT_EQ(split("a \xE2\x80\x94" "b", PreTokenizer::Falcon), (Pieces{"a", " ", "\xE2\x80\x94", "b"}));
  EXPECT_EQ(split("a \xE2\x82\xAC" "b", PreTokenizer::Falcon), (Pieces{"a", " \xE2\x82\xAC", "b"}));
  EXPECT_EQ(split("a \xE2\x80\x94" "b", PreTokenizer::Gpt2), (Pieces{"a", " \xE2\x80\x94", "b"}));
  // deepseek-coder's \p{P} has ; but not = (a math symbol); falcon's set has both.
  EXPECT_EQ(split("x = 10;\n", PreTokenizer::DeepSeekCoder), (Pieces{"x", " = ", "1", "0", ";", "\n"}));
  EXPECT_EQ(split("x = 10;\n", PreTokenizer::Falcon), (Pieces{"x", " ", "=", " 10", ";", "\n"}));
  EXPECT_EQ(split("x = 10;\n", PreTokenizer::DeepSeekLlm), (Pieces{"x", " =", " ", "10", ";", "\n"}));
}

// ---- Spaces and line breaks ----

TEST(PreTokenizerRules, SpacesAndLineBreaksBeforeWords) {
  const std::string text = "  hello\n\n  world \n";
  // \s+(?!\S) leaves the last space of a run to the word after it; at the end of the
  // text the run is taken whole.
  const Pieces gpt2 = {" ", " hello", "\n\n ", " world", " \n"};
  EXPECT_EQ(split(text, PreTokenizer::Gpt2), gpt2);
  EXPECT_EQ(split(text, PreTokenizer::StarCoder), gpt2);
  // \s*[\r\n]+ ends a piece at the last line break of a run.
  const Pieces llama3 = {" ", " hello", "\n\n", " ", " world", " \n"};
  EXPECT_EQ(split(text, PreTokenizer::Llama3), llama3);
  EXPECT_EQ(split(text, PreTokenizer::Qwen2), llama3);
  // DeepSeek: every line break alone, \s?<letters>, and what is left between.
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekLlm), (Pieces{" ", " hello", "\n", "\n", " ", " world", " ", "\n"}));
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekCoder), (Pieces{" ", " hello", "\n", "\n", " ", " world", " ", "\n"}));
  // Punctuation takes the line breaks after it in Llama 3 only.
  EXPECT_EQ(split("ok.\r\n\r\nx", PreTokenizer::Llama3), (Pieces{"ok", ".\r\n\r\n", "x"}));
  // In GPT-2's, \s+(?!\S) gives the last line break up, and \s+ then takes it alone.
  EXPECT_EQ(split("ok.\r\n\r\nx", PreTokenizer::Gpt2), (Pieces{"ok", ".", "\r\n\r", "\n", "x"}));
  // A tab can lead a word in Llama 3 ([^\r\n\p{L}\p{N}]), a line break cannot.
  EXPECT_EQ(split("\tx\ny", PreTokenizer::Llama3), (Pieces{"\tx", "\n", "y"}));
  EXPECT_EQ(split("\tx\ny", PreTokenizer::Gpt2), (Pieces{"\t", "x", "\n", "y"}));
}

TEST(PreTokenizerRules, DeepSeekLlmSplitsTrailingSpacesOffWhatIsLeft) {
  // \s+$ within the stretch left between words: " 🙂  " becomes " 🙂" and "  ".
  EXPECT_EQ(split("hi \xF0\x9F\x99\x82  ", PreTokenizer::DeepSeekLlm), (Pieces{"hi", " \xF0\x9F\x99\x82", "  "}));
  EXPECT_EQ(split("\xF0\x9F\x99\x82  \xF0\x9F\x99\x82", PreTokenizer::DeepSeekLlm),
            (Pieces{"\xF0\x9F\x99\x82  \xF0\x9F\x99\x82"}));
}

// ---- Other scripts ----

TEST(PreTokenizerRules, LettersOfOtherScripts) {
  // Привет мир: Cyrillic letters are \p{L}, and cased (DeepSeek LLM's set).
  const std::string ru = "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80";
  const Pieces words = {"\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", " \xD0\xBC\xD0\xB8\xD1\x80"};
  for (PreTokenizer k : kAll) EXPECT_EQ(split(ru, k), words) << static_cast<int>(k);
  // hi مرحبا: Arabic letters have no case, so DeepSeek LLM's letter pattern leaves them
  // (and the space before them) to the stretch between matches.
  const std::string ar = "hi \xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7";
  EXPECT_EQ(split(ar, PreTokenizer::DeepSeekLlm), (Pieces{"hi", " \xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7"}));
  EXPECT_EQ(split(ar, PreTokenizer::Gpt2), (Pieces{"hi", " \xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7"}));
  // Cửa: the letter pattern takes the word, but a later pattern splits it again: in
  // deepseek-llm the punctuation pattern (whose range :-~ has the ASCII letters) takes C
  // and a alone, in deepseek-coder the "CJK" range U+0800..U+9FA5 takes ử (U+1EED) alone.
  const Pieces cua = {"C", "\xE1\xBB\xAD", "a"};
  EXPECT_EQ(split("C\xE1\xBB\xAD" "a", PreTokenizer::DeepSeekLlm), cua);
  EXPECT_EQ(split("C\xE1\xBB\xAD" "a", PreTokenizer::DeepSeekCoder), cua);
  EXPECT_EQ(split("C\xE1\xBB\xAD" "a", PreTokenizer::Llama3), (Pieces{"C\xE1\xBB\xAD" "a"}));
}

TEST(PreTokenizerRules, Cjk) {
  // 我想在apple工作: one run of letters for every \p{L} pattern; the DeepSeek ones split
  // the ideographs off with their CJK pattern (deepseek-llm's letters are cased only, and
  // deepseek-coder's CJK pattern splits the run its letter pattern took).
  const std::string text = "\xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8" "apple" "\xE5\xB7\xA5\xE4\xBD\x9C";
  for (PreTokenizer k : {PreTokenizer::Gpt2, PreTokenizer::Llama3, PreTokenizer::Qwen2, PreTokenizer::StarCoder,
                         PreTokenizer::Falcon}) {
    EXPECT_EQ(split(text, k), (Pieces{text})) << static_cast<int>(k);
  }
  const Pieces parts = {"\xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8", "apple", "\xE5\xB7\xA5\xE4\xBD\x9C"};
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekLlm), parts);
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekCoder), parts);
  // 你好，世界。 with a full-width comma and an ideographic full stop.
  const std::string hello = "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xE3\x80\x82";
  const Pieces separate = {"\xE4\xBD\xA0\xE5\xA5\xBD", "\xEF\xBC\x8C", "\xE4\xB8\x96\xE7\x95\x8C", "\xE3\x80\x82"};
  EXPECT_EQ(split(hello, PreTokenizer::Gpt2), separate);
  EXPECT_EQ(split(hello, PreTokenizer::DeepSeekLlm), separate);
  EXPECT_EQ(split(hello, PreTokenizer::DeepSeekCoder), separate);
  // In Llama 3 and Qwen2 the comma leads the next word.
  const Pieces led = {"\xE4\xBD\xA0\xE5\xA5\xBD", "\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C", "\xE3\x80\x82"};
  EXPECT_EQ(split(hello, PreTokenizer::Llama3), led);
  EXPECT_EQ(split(hello, PreTokenizer::Qwen2), led);
  // Hangul is a CJK run for DeepSeek LLM too: 안녕 하.
  EXPECT_EQ(split("\xEC\x95\x88\xEB\x85\x95 \xED\x95\x98", PreTokenizer::DeepSeekLlm),
            (Pieces{"\xEC\x95\x88\xEB\x85\x95", " ", "\xED\x95\x98"}));
}

TEST(PreTokenizerRules, Emoji) {
  // 🙂 is a symbol (So): a run of "other" that takes the space before it; the zero-width
  // joiner inside 👩‍💻 is "other" too, so the sequence stays one piece...
  const std::string text = "hi \xF0\x9F\x99\x82\xF0\x9F\x99\x82 ok \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB";
  const Pieces expected = {"hi", " \xF0\x9F\x99\x82\xF0\x9F\x99\x82", " ok", " \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB"};
  for (PreTokenizer k : {PreTokenizer::Gpt2, PreTokenizer::Llama3, PreTokenizer::Qwen2, PreTokenizer::StarCoder,
                         PreTokenizer::Falcon}) {
    EXPECT_EQ(split(text, k), expected) << static_cast<int>(k);
  }
  // ...except for DeepSeek's "CJK" range U+0800..U+9FA5, which has the joiner (U+200D).
  const Pieces deepseek = {"hi", " \xF0\x9F\x99\x82\xF0\x9F\x99\x82", " ok", " \xF0\x9F\x91\xA9", "\xE2\x80\x8D",
                           "\xF0\x9F\x92\xBB"};
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekLlm), deepseek);
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekCoder), deepseek);
  // ✅ (U+2705) is in that range too: a piece of its own.
  EXPECT_EQ(split("ok \xE2\x9C\x85!", PreTokenizer::DeepSeekCoder), (Pieces{"ok", " ", "\xE2\x9C\x85", "!"}));
}

TEST(PreTokenizerRules, IllFormedUtf8IsAnOtherSymbol) {
  // Each maximal ill-formed subpart counts as U+FFFD (as llama.cpp decodes it): not a
  // letter, so it ends words and groups with other symbols; its bytes are kept.
  const std::string text = std::string("a\xFF\xFE" "b c\x80 ok\xE2\x82");
  const Pieces gpt2 = {"a", "\xFF\xFE", "b", " c", "\x80", " ok", "\xE2\x82"};
  EXPECT_EQ(split(text, PreTokenizer::Gpt2), gpt2);
  EXPECT_EQ(split(text, PreTokenizer::StarCoder), gpt2);
  EXPECT_EQ(split(text, PreTokenizer::Falcon), gpt2);
  EXPECT_EQ(split(text, PreTokenizer::Llama3), gpt2);
  EXPECT_EQ(split(text, PreTokenizer::Qwen2), gpt2);
  // U+FFFD leads a word in Llama 3 ([^\r\n\p{L}\p{N}]?\p{L}+).
  EXPECT_EQ(split("\xFFz", PreTokenizer::Llama3), (Pieces{"\xFFz"}));
  EXPECT_EQ(split("\xFFz", PreTokenizer::DeepSeekCoder), (Pieces{"\xFF", "z"}));
}

TEST(PreTokenizerRules, PiecesCoverTheTextExactly) {
  std::string text = "  lead\r\n\r\n mid\t\t9999 \xFF\xFE bad \xF0\x9F\x98\x80!! trail   ";
  text += "\xE6\x88\x91 x+=1; \xE3\x80\x80\xEF\xBC\x8C 'LL\v\f\xC2\x85 caf\xCC\x81 ~\xE3\x81\x82 12_3 ";
  text += std::string(40, ' ') + "\xEA\xB0\x80 \xF0\xA0\x80\x80";
  for (int i = 0; i < kPreTokenizerCount; ++i) {
    const auto k = static_cast<PreTokenizer>(i);
    std::string joined;
    for (std::string_view p : pre_tokenize(text, k)) {
      EXPECT_FALSE(p.empty()) << static_cast<int>(k);
      joined += p;
    }
    EXPECT_EQ(joined, text) << static_cast<int>(k);
    EXPECT_TRUE(pre_tokenize("", k).empty());
  }
}

TEST(PreTokenizerRules, RandomTextIsCoveredByEveryPattern) {
  // Random mixes of the characters the patterns tell apart, ill-formed bytes included.
  const std::vector<std::string> alphabet = {
      "a", "Z", "'", "s", "T", "1", "0", " ", "  ", "\n", "\r", "\t", ".", "~", "/", "_", "$", "(",
      "\xC3\xA9", "\xC3\x89", "\xCC\x81", "\xE4\xB8\xAD", "\xE3\x81\x82", "\xEA\xB0\x80", "\xD9\xA3",
      "\xEF\xBC\x8C", "\xE3\x80\x80", "\xC2\xA0", "\xF0\x9F\x99\x82", "\xF0\xA0\x80\x80", "\xFF", "\xE2\x82"};
  std::mt19937 rng(18);
  for (int n = 0; n < 300; ++n) {
    std::string text;
    const size_t length = rng() % 40;
    for (size_t i = 0; i < length; ++i) text += alphabet[rng() % alphabet.size()];
    for (int k = 0; k < kPreTokenizerCount; ++k) {
      std::string joined;
      for (std::string_view p : pre_tokenize(text, static_cast<PreTokenizer>(k))) {
        ASSERT_FALSE(p.empty()) << k;
        joined += p;
      }
      ASSERT_EQ(joined, text) << k;
    }
  }
}

TEST(PreTokenizerRules, LongRunsTakeLinearTime) {
  // Runs that a matcher could rescan from every position (digits, an upper-case run after
  // a non-ASCII letter, spaces, symbols): 100,000 characters each would not finish if any
  // pattern were quadratic.
  const std::string texts[] = {std::string(100000, '7'), "\xC3\x89" + std::string(100000, 'A'),
                               std::string(100000, ' ') + "x", std::string(100000, '~'),
                               "12" + std::string(100000, '3') + "a"};
  for (const std::string& text : texts) {
    for (int k = 0; k < kPreTokenizerCount; ++k) {
      size_t total = 0;
      for (std::string_view p : pre_tokenize(text, static_cast<PreTokenizer>(k))) total += p.size();
      EXPECT_EQ(total, text.size()) << k;
    }
  }
}

// ---- DeepSeek V3 ----

TEST(PreTokenizerRules, DeepSeekV3SplitsDigitsFirstInThrees) {
  // \p{N}{1,3} is the first pattern: every run of digits is cut from the left into threes
  // before words are looked for, so the spaces before a number end their stretch and
  // \s+(?!\S) takes them whole. GPT-4o's single pattern gives the last space up instead.
  const std::string text = "a  1 b 22  333 1234567";
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekV3),
            (Pieces{"a", "  ", "1", " b", " ", "22", "  ", "333", " ", "123", "456", "7"}));
  EXPECT_EQ(split(text, PreTokenizer::Gpt4o),
            (Pieces{"a", " ", " ", "1", " b", " ", "22", " ", " ", "333", " ", "123", "456", "7"}));
}

TEST(PreTokenizerRules, DeepSeekV3TakesKanaAndIdeographsApart) {
  // [一-龥぀-ゟ゠-ヿ]+ before the words: 我想在apple工作 is three pieces, and ひらがなカタカナ漢字
  // one; Llama 3's \p{L}+ keeps each text whole. Hangul is not in the set: 안녕 하세요 are
  // words as in Llama 3 (deepseek-llm's CJK range has Hangul).
  EXPECT_EQ(split("\xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8" "apple" "\xE5\xB7\xA5\xE4\xBD\x9C", PreTokenizer::DeepSeekV3),
            (Pieces{"\xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8", "apple", "\xE5\xB7\xA5\xE4\xBD\x9C"}));
  EXPECT_EQ(split("\xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8" "apple", PreTokenizer::Llama3),
            (Pieces{"\xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8" "apple"}));
  const std::string kana = "\xE3\x81\xB2\xE3\x82\x89\xE3\x82\xAB\xE3\x82\xBF\xE6\xBC\xA2\xE5\xAD\x97x";
  EXPECT_EQ(split(kana, PreTokenizer::DeepSeekV3),
            (Pieces{"\xE3\x81\xB2\xE3\x82\x89\xE3\x82\xAB\xE3\x82\xBF\xE6\xBC\xA2\xE5\xAD\x97", "x"}));
  const std::string hangul = "\xEC\x95\x88\xEB\x85\x95 \xED\x95\x98";
  EXPECT_EQ(split(hangul, PreTokenizer::DeepSeekV3), (Pieces{"\xEC\x95\x88\xEB\x85\x95", " \xED\x95\x98"}));
  EXPECT_EQ(split(hangul, PreTokenizer::DeepSeekLlm), (Pieces{"\xEC\x95\x88\xEB\x85\x95", " ", "\xED\x95\x98"}));
}

TEST(PreTokenizerRules, DeepSeekV3WordsPunctuationAndMarks) {
  // [<ASCII punctuation>][A-Za-z]+ first, greedy: "'sok" is one word, not the contraction
  // "'s" and "ok" as in Llama 3; punctuation cannot lead a word of other letters (Llama 3's
  // [^\r\n\p{L}\p{N}] can: "'été"), it is a run of its own (' ?[\p{P}\p{S}]+[\r\n]*).
  const std::string text = "it'sok x'\xC3\xA9t\xC3\xA9 (yes);\n";
  EXPECT_EQ(split(text, PreTokenizer::DeepSeekV3),
            (Pieces{"it", "'sok", " x", "'", "\xC3\xA9t\xC3\xA9", " (", "yes", ");\n"}));
  EXPECT_EQ(split(text, PreTokenizer::Llama3),
            (Pieces{"it", "'s", "ok", " x", "'\xC3\xA9t\xC3\xA9", " (", "yes", ");\n"}));
  // [\p{L}\p{M}]+: a combining mark stays in its word (café with U+0301), where GPT-4o and
  // Llama 3 end the word before it.
  EXPECT_EQ(split("cafe\xCC\x81 x", PreTokenizer::DeepSeekV3), (Pieces{"cafe\xCC\x81", " x"}));
  EXPECT_EQ(split("cafe\xCC\x81 x", PreTokenizer::Gpt4o), (Pieces{"cafe", "\xCC\x81", " x"}));
  // ~ is a symbol: it cannot lead a non-ASCII word, but joins the space before it.
  EXPECT_EQ(split("a~b ~\xC3\xA9", PreTokenizer::DeepSeekV3), (Pieces{"a", "~b", " ~", "\xC3\xA9"}));
}

// ---- GPT-4o and its kin ----

TEST(PreTokenizerRules, Gpt4oSplitsWordsWhereAsciiCaseRises) {
  // [^a-z]*[^A-Z]+ or [^a-z]+[^A-Z]*: an upper-case run keeps the lower-case letters after
  // it, and a lower-case letter followed by an upper-case one ends a word.
  const std::string text = "HelloWorld ABCdef aBC xYZw";
  const Pieces words = {"Hello", "World", " ABCdef", " a", "BC", " x", "YZw"};
  EXPECT_EQ(split(text, PreTokenizer::Gpt4o), words);
  EXPECT_EQ(split(text, PreTokenizer::Tekken), words);
  EXPECT_EQ(split(text, PreTokenizer::Llama3), (Pieces{"HelloWorld", " ABCdef", " aBC", " xYZw"}));
  // Letters of other scripts have no case for llama.cpp's rewrite of the pattern: É is
  // taken as the lower-case end of an upper-case run, then COLE is a run of its own.
  EXPECT_EQ(split("\xC3\x89" "COLE \xC3\xA9" "COLE", PreTokenizer::Gpt4o),
            (Pieces{"\xC3\x89", "COLE", " \xC3\xA9", "COLE"}));
  // Youtu and tiny_aya write \p{Lu} / \p{Ll}, which llama.cpp reads as \p{L}: no split.
  EXPECT_EQ(split(text, PreTokenizer::Youtu), (Pieces{"HelloWorld", " ABCdef", " aBC", " xYZw"}));
}

TEST(PreTokenizerRules, Gpt4oKeepsContractionsOnTheirWord) {
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)? after a word, in either case; tekken has no contractions,
  // so the apostrophe leads the next word.
  const std::string text = "I'M he's WE'RE don't";
  EXPECT_EQ(split(text, PreTokenizer::Gpt4o), (Pieces{"I'M", " he's", " WE'RE", " don't"}));
  EXPECT_EQ(split(text, PreTokenizer::KimiK2), (Pieces{"I'M", " he's", " WE'RE", " don't"}));
  EXPECT_EQ(split(text, PreTokenizer::Tekken), (Pieces{"I", "'M", " he", "'s", " WE", "'RE", " don", "'t"}));
}

TEST(PreTokenizerRules, Gpt4oDigitsSlashesAndMarks) {
  // \p{N}{1,3} (tekken: \p{N}); punctuation takes the line breaks and slashes after it.
  EXPECT_EQ(split("1234567", PreTokenizer::Gpt4o), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(split("1234", PreTokenizer::Tekken), (Pieces{"1", "2", "3", "4"}));
  EXPECT_EQ(split("a .\n//x", PreTokenizer::Gpt4o), (Pieces{"a", " .\n//", "x"}));
  EXPECT_EQ(split("a .\n//x", PreTokenizer::Llama3), (Pieces{"a", " .\n", "//", "x"}));
  // A combining mark is not a letter: it ends the word and leads the next (nai + ̈ve).
  EXPECT_EQ(split("nai\xCC\x88ve", PreTokenizer::Gpt4o), (Pieces{"nai", "\xCC\x88ve"}));
  EXPECT_EQ(split("nai\xCC\x88ve", PreTokenizer::GraniteEmbedMulti), (Pieces{"nai\xCC\x88ve"}));
}

// ---- The other later patterns ----

TEST(PreTokenizerRules, KimiK2TakesHanRunsApart) {
  // [\p{Han}]+ first (with the extension planes: 𠀀 is U+20000), and letters other than Han
  // make words; kana are letters, not Han.
  const std::string text = "\xE4\xB8\xAD\xE6\x96\x87\xF0\xA0\x80\x80" "abc\xE3\x81\x82\xE6\xBC\xA2";
  EXPECT_EQ(split(text, PreTokenizer::KimiK2),
            (Pieces{"\xE4\xB8\xAD\xE6\x96\x87\xF0\xA0\x80\x80", "abc\xE3\x81\x82", "\xE6\xBC\xA2"}));
  EXPECT_EQ(split(text, PreTokenizer::Gpt4o), (Pieces{text}));
}

TEST(PreTokenizerRules, SuperBpeOnlySplitsNumbers) {
  // \p{N}+, then an empty match before each ASCII digit followed by a multiple of three
  // digits: words run across spaces and punctuation.
  EXPECT_EQ(split("1234567890 and 12, ok", PreTokenizer::SuperBpe),
            (Pieces{"1", "234", "567", "890", " and ", "12", ", ok"}));
}

TEST(PreTokenizerRules, AfmoeAndTinyAyaGroupDigitsFromTheRight) {
  // llama.cpp's own digit matcher: the first (length mod 3) digits, then threes; what comes
  // before the digits stays with their first group until the later patterns split it.
  EXPECT_EQ(split("x12345y", PreTokenizer::Afmoe), (Pieces{"x", "12", "345", "y"}));
  EXPECT_EQ(split("x12345y", PreTokenizer::TinyAya), (Pieces{"x", "12", "345", "y"}));
  EXPECT_EQ(split("x12345y", PreTokenizer::DeepSeekV3), (Pieces{"x", "123", "45", "y"}));
}

TEST(PreTokenizerRules, Qwen2Variants) {
  // qwen35: combining marks inside words; seed-coder: no line breaks after punctuation;
  // ufakzeka: no contractions; laguna: line feeds apart first.
  EXPECT_EQ(split("cafe\xCC\x81!", PreTokenizer::Qwen35), (Pieces{"cafe\xCC\x81", "!"}));
  EXPECT_EQ(split("cafe\xCC\x81!", PreTokenizer::Qwen2), (Pieces{"cafe", "\xCC\x81!"}));
  EXPECT_EQ(split("x;\n\ny", PreTokenizer::SeedCoder), (Pieces{"x", ";", "\n\n", "y"}));
  EXPECT_EQ(split("x;\n\ny", PreTokenizer::Qwen2), (Pieces{"x", ";\n\n", "y"}));
  EXPECT_EQ(split("it's", PreTokenizer::Ufakzeka), (Pieces{"it", "'s"}));
  EXPECT_EQ(split("'sup", PreTokenizer::Ufakzeka), (Pieces{"'sup"}));
  EXPECT_EQ(split("'sup", PreTokenizer::Qwen2), (Pieces{"'s", "up"}));
  EXPECT_EQ(split("a.\r\n\r\nb", PreTokenizer::Laguna), (Pieces{"a", ".\r", "\n", "\r", "\n", "b"}));
}

TEST(PreTokenizerRules, SpacesInJais2AndExaoneMoe) {
  // jais-2 cuts a run of spaces in powers of two (\s{8}(?!\S) first for nine spaces);
  // exaone-moe joins words over single spaces.
  const std::string text = "a" + std::string(10, ' ') + "b";
  EXPECT_EQ(split(text, PreTokenizer::Jais2), (Pieces{"a", std::string(8, ' '), " ", " b"}));
  EXPECT_EQ(split(text, PreTokenizer::Llama3), (Pieces{"a", std::string(9, ' '), " b"}));
  EXPECT_EQ(split("New York, big", PreTokenizer::ExaoneMoe), (Pieces{"New York", ",", " big"}));
}

TEST(PreTokenizerRules, BloomSplitsAtSpacesAndSentencePunctuation) {
  // ' ?[^(\s|.,!?…。，、।۔،)]+': everything else, digits and apostrophes included, is a word;
  // viking then takes every digit apart.
  // What matches nowhere is one piece: ". (".
  EXPECT_EQ(split("Hello, it's 42. (x)", PreTokenizer::Bloom),
            (Pieces{"Hello", ",", " it's", " 42", ". (", "x", ")"}));
  EXPECT_EQ(split("x 42", PreTokenizer::Viking), (Pieces{"x", " ", "4", "2"}));
}

// ---- Names ----

TEST(PreTokenizerNames, EveryNameLlamaCppMapsToAnImplementedPattern) {
  struct Expect {
    const char* name;
    PreTokenizer kind;
    bool ignore_merges;
  };
  const Expect table[] = {
      {"gpt-2", PreTokenizer::Gpt2, false},           {"mpt", PreTokenizer::Gpt2, false},
      {"olmo", PreTokenizer::Gpt2, false},            {"phi-2", PreTokenizer::Gpt2, false},
      {"llama-bpe", PreTokenizer::Llama3, true},      {"llama3", PreTokenizer::Llama3, true},
      {"falcon3", PreTokenizer::Llama3, true},        {"pixtral", PreTokenizer::Llama3, true},
      {"dbrx", PreTokenizer::Llama3, false},          {"smaug-bpe", PreTokenizer::Llama3, false},
      {"qwen2", PreTokenizer::Qwen2, false},          {"deepseek-r1-qwen", PreTokenizer::Qwen2, false},
      {"stablelm2", PreTokenizer::Qwen2, false},      {"megrez", PreTokenizer::Qwen2, false},
      {"smollm", PreTokenizer::StarCoder, false},     {"starcoder", PreTokenizer::StarCoder, false},
      {"refact", PreTokenizer::StarCoder, false},     {"command-r", PreTokenizer::StarCoder, false},
      {"falcon", PreTokenizer::Falcon, false},        {"deepseek-llm", PreTokenizer::DeepSeekLlm, false},
      {"deepseek-coder", PreTokenizer::DeepSeekCoder, false},
      {"deepseek-v3", PreTokenizer::DeepSeekV3, false},    {"hunyuan-dense", PreTokenizer::DeepSeekV3, false},
      {"gpt-4o", PreTokenizer::Gpt4o, false},              {"llama4", PreTokenizer::Gpt4o, false},
      {"minimax-m2", PreTokenizer::Gpt4o, false},          {"tekken", PreTokenizer::Tekken, true},
      {"kimi-k2", PreTokenizer::KimiK2, false},            {"bailingmoe2", PreTokenizer::Qwen2, false},
      {"grok-2", PreTokenizer::Qwen2, false},              {"qwen35", PreTokenizer::Qwen35, false},
      {"seed-coder", PreTokenizer::SeedCoder, false},      {"minicpm5", PreTokenizer::MiniCpm5, true},
      {"superbpe", PreTokenizer::SuperBpe, false},         {"youtu", PreTokenizer::Youtu, true},
  };
  for (const Expect& e : table) {
    const auto spec = find_pre_tokenizer(e.name);
    ASSERT_TRUE(spec.has_value()) << e.name;
    EXPECT_EQ(spec->kind, e.kind) << e.name;
    EXPECT_EQ(spec->ignore_merges, e.ignore_merges) << e.name;
    EXPECT_EQ(pre_tokenizer_from_name(e.name), e.kind) << e.name;
  }
  EXPECT_TRUE(find_pre_tokenizer("llama-bpe")->add_bos);
  EXPECT_TRUE(find_pre_tokenizer("tekken")->add_bos);
  EXPECT_FALSE(find_pre_tokenizer("qwen2")->add_bos);
  EXPECT_FALSE(find_pre_tokenizer("gpt-4o")->add_bos);
  for (const char* unknown : {"chameleon", "roberta-bpe", "jina-v2-code", "gemma4", "whitespace", "Falcon", ""}) {
    EXPECT_FALSE(find_pre_tokenizer(unknown).has_value()) << unknown;
  }
}

TEST(PreTokenizerNames, AnUnsupportedNameIsRefusedNamingItAndTheSupportedOnes) {
  Vocabulary v = synth_vocabulary(TokenizerKind::Gpt2, 300);
  v.pre = "chameleon";
  try {
    const Tokenizer tok(std::move(v));
    FAIL() << "a vocabulary with pre-tokenizer chameleon was accepted";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("pre-tokenizer 'chameleon'"), std::string::npos) << what;
    EXPECT_NE(what.find("not supported"), std::string::npos) << what;
    for (const char* name : {"llama-bpe", "qwen2", "smollm", "falcon", "deepseek-llm", "deepseek-coder", "deepseek-v3",
                             "gpt-4o", "tekken", "kimi-k2"}) {
      EXPECT_NE(what.find(name), std::string::npos) << name << " missing from: " << what;
    }
  }
}

}  // namespace
}  // namespace baton
