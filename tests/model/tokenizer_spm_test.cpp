// SentencePiece-style (llama kind) tokenizer on hand-built vocabularies whose merge order
// is worked out by hand below. (During development the same code matched the
// sentencepiece library on 8000 strings of tools/train's model, incl. spaces and emoji.)
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>

#include "model/tokenizer.h"

namespace baton {
namespace {

// <unk> <s> </s> <0x00>..<0xFF> <|im_start|> then the given pieces (score, text).
struct HandVocab {
  Vocabulary v;
  explicit HandVocab(std::vector<std::pair<float, std::string>> pieces, bool byte_tokens = true) {
    v.kind = TokenizerKind::Llama;
    add("<unk>", TokenType::Unknown, 0);
    add("<s>", TokenType::Control, 0);
    add("</s>", TokenType::Control, 0);
    if (byte_tokens) {
      for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), TokenType::Byte, 0);
    }
    add("<|im_start|>", TokenType::Control, 0);
    for (auto& [score, text] : pieces) add(text, TokenType::Normal, score);
    v.unk = 0, v.bos = 1, v.eos = 2;
  }
  void add(std::string text, TokenType type, float score) {
    v.tokens.push_back(std::move(text));
    v.types.push_back(type);
    v.scores.push_back(score);
  }
};

int32_t byte_id(uint8_t b) { return 3 + b; }  // in HandVocab with byte tokens

std::vector<std::string> pieces(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(tok.vocabulary().tokens[static_cast<size_t>(id)]);
  return out;
}

const std::string kSp = "\xE2\x96\x81";  // ▁

TEST(TokenizerSpm, MergesHighestScoreFirstNotLeftToRight) {
  // "abcd", no space prefix. Pairs: ab(-1) bc(-0.5) cd(-2). bc is best -> a|bc|d.
  // New pairs: abc(-3), bcd(-0.1); bcd wins (ab and cd are stale) -> a|bcd; "abcd" is not
  // a piece, done. Greedy left-to-right would have produced ab|cd.
  HandVocab h({{-1, "ab"}, {-0.5f, "bc"}, {-2, "cd"}, {-3, "abc"}, {-0.1f, "bcd"}, {0, "a"}, {0, "b"}, {0, "c"}, {0, "d"}});
  h.v.add_space_prefix = false;
  const Tokenizer tok(h.v);
  EXPECT_EQ(pieces(tok, tok.encode("abcd", false, false)), (std::vector<std::string>{"a", "bcd"}));
}

TEST(TokenizerSpm, EqualScoresMergeLeftmostFirst) {
  // "abab": ab@0, ba@1, ab@2 all score -1; leftmost ab@0 first -> ab|a|b; then (ab,a) is
  // not a piece, (a,b)@2 is -> ab|ab.
  HandVocab h({{-1, "ab"}, {-1, "ba"}, {0, "a"}, {0, "b"}});
  h.v.add_space_prefix = false;
  const Tokenizer tok(h.v);
  EXPECT_EQ(pieces(tok, tok.encode("abab", false, false)), (std::vector<std::string>{"ab", "ab"}));
  // "aaa" with "aa": leftmost first -> aa|a.
  HandVocab h2({{-1, "aa"}, {0, "a"}});
  h2.v.add_space_prefix = false;
  const Tokenizer tok2(h2.v);
  EXPECT_EQ(pieces(tok2, tok2.encode("aaa", false, false)), (std::vector<std::string>{"aa", "a"}));
}

TEST(TokenizerSpm, SpacePrefixAndWorkedExample) {
  // "hello world" -> "▁hello▁world"; symbols ▁ h e l l o ▁ w o r l d.
  // 1 ▁w(-1)  2 or(-2)  3 ▁w+or=▁wor(-3)  4 ld(-4)  5 ▁wor+ld=▁world(-5)  6 el(-6)
  // 7 lo(-7)  8 ▁h(-8)  9 ▁h+el=▁hel(-9); "▁hello" is not a piece -> ▁hel|lo|▁world.
  HandVocab h({{-1, kSp + "w"}, {-2, "or"}, {-3, kSp + "wor"}, {-4, "ld"}, {-5, kSp + "world"}, {-6, "el"},
               {-7, "lo"}, {-8, kSp + "h"}, {-9, kSp + "hel"}, {0, kSp}, {0, "h"}, {0, "e"}, {0, "l"}, {0, "o"},
               {0, "w"}, {0, "r"}, {0, "d"}});
  const Tokenizer tok(h.v);
  const auto ids = tok.encode("hello world", true, false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1);  // BOS
  EXPECT_EQ(pieces(tok, ids), (std::vector<std::string>{"<s>", kSp + "hel", "lo", kSp + "world"}));
  EXPECT_EQ(tok.decode(ids), "hello world");  // BOS is silent, the prefix space is dropped
  EXPECT_EQ(tok.token_bytes(ids[3]), " world");
  // Without the prefix the first word has no ▁: h|el|lo.
  h.v.add_space_prefix = false;
  const Tokenizer bare(h.v);
  EXPECT_EQ(pieces(bare, bare.encode("hello", false, false)), (std::vector<std::string>{"h", "el", "lo"}));
}

TEST(TokenizerSpm, ByteFallbackForCharactersOutsideTheVocabulary) {
  HandVocab h({{-1, kSp + "a"}, {0, kSp}, {0, "a"}});
  const Tokenizer tok(h.v);
  // "a😀漢": ▁a, then U+1F600 = F0 9F 98 80 and U+6F22 = E6 BC A2 as byte tokens.
  const auto ids = tok.encode("a\xF0\x9F\x98\x80\xE6\xBC\xA2", false, false);
  const std::vector<int32_t> expected = {*tok.find_token(kSp + "a"), byte_id(0xF0), byte_id(0x9F), byte_id(0x98),
                                         byte_id(0x80), byte_id(0xE6), byte_id(0xBC), byte_id(0xA2)};
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(tok.decode(ids), "a\xF0\x9F\x98\x80\xE6\xBC\xA2");
  EXPECT_EQ(tok.token_bytes(byte_id(0xF0)), "\xF0");
}

TEST(TokenizerSpm, UnknownTokenWhenThereAreNoByteTokens) {
  HandVocab h({{-1, kSp + "a"}, {0, kSp}, {0, "a"}}, /*byte_tokens=*/false);
  const Tokenizer tok(h.v);
  // One <unk> per unknown character, not per byte.
  const auto ids = tok.encode("a\xE6\xBC\xA2" "a", false, false);
  EXPECT_EQ(ids, (std::vector<int32_t>{*tok.find_token(kSp + "a"), 0, *tok.find_token("a")}));
}

TEST(TokenizerSpm, RoundTripsAllKindsOfText) {
  HandVocab h({{-1, kSp + "t"}, {-2, "he"}, {-3, kSp + "the"}, {-4, "in"}, {-5, kSp + "in"}, {-6, kSp + kSp},
               {0, kSp}, {0, "t"}, {0, "h"}, {0, "e"}, {0, "i"}, {0, "n"}});
  const Tokenizer tok(h.v);
  const std::vector<std::string> texts = {
      "", " ", "  ", "the", " the", "the ", "  the  in   the ", "\n", "the\nin\n\n", "\t tab",
      "caf\xC3\xA9",                 // 2-byte UTF-8
      "\xE6\xBC\xA2\xE5\xAD\x97",    // 3-byte (CJK)
      "\xF0\x9F\x98\x80 emoji",      // 4-byte
      "mixed \xC3\xA9\xE6\xBC\xA2\xF0\x9F\x98\x80 end ",
      "\xFF\xFE invalid \xC3",       // ill-formed bytes survive too
      "<|im_start|> not special when not parsed",
  };
  for (const std::string& s : texts) {
    for (bool bos : {false, true}) {
      const auto ids = tok.encode(s, bos, false);
      EXPECT_EQ(tok.decode(ids), s) << "text: '" << s << "' bos " << bos;
    }
  }
}

TEST(TokenizerSpm, SpecialTokensParsedOrNot) {
  HandVocab h({{-1, kSp + "u"}, {0, kSp}, {0, "u"}, {0, "<"}, {0, "|"}, {0, ">"}});
  h.v.tokens.push_back("<tool>");
  h.v.types.push_back(TokenType::UserDefined);
  h.v.scores.push_back(0);
  const Tokenizer tok(h.v);
  const int32_t im_start = *tok.find_token("<|im_start|>");
  const int32_t tool = *tok.find_token("<tool>");
  // Parsed: the control token is one id; the text after it gets its own space prefix.
  EXPECT_EQ(tok.encode("<|im_start|>u", false, true), (std::vector<int32_t>{im_start, *tok.find_token(kSp + "u")}));
  // Not parsed: the same characters are ordinary text.
  const auto plain = tok.encode("<|im_start|>u", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), im_start), 0);
  EXPECT_EQ(tok.decode(plain), "<|im_start|>u");
  // User-defined tokens are matched either way, as SentencePiece and llama.cpp do.
  const auto with_tool = tok.encode("u<tool>u", false, false);
  EXPECT_EQ(std::count(with_tool.begin(), with_tool.end(), tool), 1);
  EXPECT_EQ(tok.decode(with_tool), "u<tool> u");  // the space prefix after a special stays
}

TEST(TokenizerSpm, LongInputStaysFast) {
  // 200k characters with many candidate merges: O(n log n), well under a second; a
  // quadratic implementation would take minutes.
  HandVocab h({{-1, "ab"}, {-2, "ba"}, {-3, "abab"}, {0, "a"}, {0, "b"}});
  h.v.add_space_prefix = false;
  const Tokenizer tok(h.v);
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "ab";
  const auto ids = tok.encode(text, false, false);
  EXPECT_EQ(ids.size(), 50000u);  // abab|abab|...
  EXPECT_EQ(tok.decode(ids), text);
}

}  // namespace
}  // namespace baton
