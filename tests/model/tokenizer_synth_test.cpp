// Synthesised vocabularies: exact size, valid, deterministic, lossless, and whole-word
// tokens for common English words in both kinds.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>

#include "model/tokenizer.h"

namespace baton {
namespace {

const char* kParagraph =
    "The people of the world have always wanted to know more about water, light and the sun.\n"
    "When the first man came to the new land, he found that there was little food; so he "
    "made a home near the river and learned to grow his own. Could you do the same today?\n"
    "Numbers like 1024 or 3.14 and odd words (zygote, quixotic) still round-trip: "
    "caf\xC3\xA9, \xE6\xBC\xA2\xE5\xAD\x97, \xF0\x9F\x98\x80!  Two  spaces, tabs\tand a trailing space ";

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

const std::string kLlamaSpace = "\xE2\x96\x81", kGpt2Space = "\xC4\xA0";

std::string space_mark(TokenizerKind kind) { return kind == TokenizerKind::Llama ? kLlamaSpace : kGpt2Space; }

// The single token " word" becomes in running text (after a word and a space).
bool word_is_one_token(const Tokenizer& tok, TokenizerKind kind, const std::string& word) {
  const auto ids = tok.encode("x " + word, false, false);
  return ids.size() >= 2 && tok.vocabulary().tokens[static_cast<size_t>(ids.back())] == space_mark(kind) + word &&
         tok.decode({ids.back()}) == (kind == TokenizerKind::Llama ? word : " " + word);
}

class SynthVocabulary : public ::testing::TestWithParam<TokenizerKind> {};

TEST_P(SynthVocabulary, ExactSizeValidAndDeterministic) {
  for (int32_t n : {512, 1000, 1024, 4096, 32000}) {
    const Vocabulary a = synth_vocabulary(GetParam(), n);
    EXPECT_EQ(a.tokens.size(), static_cast<size_t>(n));
    const Vocabulary b = synth_vocabulary(GetParam(), n);
    EXPECT_EQ(a.tokens, b.tokens);
    EXPECT_EQ(a.merges, b.merges);
    EXPECT_EQ(a.scores, b.scores);
    const Tokenizer tok(a);  // validates: ids in range, merges reference tokens, ...
    EXPECT_EQ(tok.vocab_size(), n);
  }
  EXPECT_THROW(synth_vocabulary(GetParam(), 100), std::invalid_argument);
}

TEST_P(SynthVocabulary, RoundTripsEnglishAndMore) {
  for (int32_t n : {512, 4096, 32000}) {
    const Tokenizer tok(synth_vocabulary(GetParam(), n));
    const auto ids = tok.encode(kParagraph, true, false);
    EXPECT_EQ(ids.front(), tok.bos());
    EXPECT_EQ(tok.decode(ids), kParagraph) << "vocabulary size " << n;
  }
}

TEST_P(SynthVocabulary, CommonWordsAreWholeTokens) {
  const TokenizerKind kind = GetParam();
  {
    // Small vocabulary: the most common words are whole.
    const Tokenizer tok(synth_vocabulary(kind, 1024));
    for (const char* w : {"the", "of", "and", "to", "in", "is", "that", "was", "for", "with", "have", "from", "people", "water"})
      EXPECT_TRUE(word_is_one_token(tok, kind, w)) << w;
  }
  const Tokenizer tok(synth_vocabulary(kind, 32000));
  for (const std::string& w : words_of("the people of the world have always want to know more about water light "
                                       "and sun when first man came new land found there little food made home near "
                                       "river learn grow could same today number sentence picture mountain"))
    EXPECT_TRUE(word_is_one_token(tok, kind, w)) << w;
  // Capitalised words at the start of a line are whole too.
  for (const char* w : {"The", "When", "Could", "People"}) {
    const auto ids = tok.encode(std::string("x\n") + w, false, false);
    EXPECT_EQ(tok.vocabulary().tokens[static_cast<size_t>(ids.back())], w) << w;
  }
  // English compresses: far fewer tokens than characters.
  const std::string text = "the people of the world have always want to know more about water and light";
  const auto ids = tok.encode(text, false, false);
  EXPECT_EQ(ids.size(), words_of(text).size());
}

TEST_P(SynthVocabulary, ChatTokensAreSingleIds) {
  const Tokenizer tok(synth_vocabulary(GetParam(), 1024));
  const auto start = tok.find_token("<|im_start|>"), end = tok.find_token("<|im_end|>");
  ASSERT_TRUE(start && end);
  const auto ids = tok.encode("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", true, true);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), *start), 2);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), *end), 1);
  EXPECT_TRUE(tok.is_end_of_generation(*end));
  EXPECT_TRUE(tok.is_end_of_generation(tok.eos()));
  EXPECT_FALSE(tok.is_end_of_generation(*start));
}

TEST_P(SynthVocabulary, RandomTextRoundTrips) {
  // Random mixes of ASCII, multi-byte characters, whitespace and raw (possibly ill-formed)
  // bytes. U+2581 itself is left out: SentencePiece cannot tell it from an escaped space.
  const Tokenizer tok(synth_vocabulary(GetParam(), 2048));
  const std::vector<std::string> atoms = {"a", "Z", " ", "  ", "\n", "\t", "the", "The", "'s", "9", "123", ".", "!?",
                                          "\xC3\xA9", "\xE6\xBC\xA2", "\xF0\x9F\x98\x80", "\r\n", "<|im_start|>"};
  std::mt19937 g(99);
  for (int trial = 0; trial < 400; ++trial) {
    std::string s;
    const int len = static_cast<int>(g() % 24);
    for (int i = 0; i < len; ++i) {
      if (g() % 5 == 0) s += static_cast<char>(g() % 256);
      else s += atoms[g() % atoms.size()];
    }
    if (s.find("\xE2\x96\x81") != std::string::npos) continue;
    EXPECT_EQ(tok.decode(tok.encode(s, trial % 2 == 0, false)), s) << "trial " << trial;
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, SynthVocabulary, ::testing::Values(TokenizerKind::Llama, TokenizerKind::Gpt2),
                         [](const auto& info) { return info.param == TokenizerKind::Llama ? "llama" : "gpt2"; });

}  // namespace
}  // namespace baton
