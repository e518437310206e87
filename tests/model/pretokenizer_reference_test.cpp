// Pre-tokenizers against llama.cpp itself: tests/model/data/pretokenizer-reference.json
// holds, for every tokenizer.ggml.pre name of llama.cpp's table and 38 texts (contractions
// in both cases, digit runs, spaces and line breaks, punctuation and symbols, CJK, kana,
// Hangul, combining marks, emoji, other scripts), the pieces llama.cpp splits each text
// into, recorded by tools/reference/make-pretokenizer-references.sh (see there how the
// pieces are made visible through the token ids).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/pretokenizer.h"
#include "model/tokenizer.h"

namespace baton {
namespace {

const std::string kReference = std::string(BATON_SOURCE_DIR) + "/tests/model/data/pretokenizer-reference.json";

// Names where baton deliberately does not do what llama.cpp does, with the reason.
// "default" (a file without tokenizer.ggml.pre): GPT-2's pattern, which such files'
// tokenizer.json has; llama.cpp uses a Falcon-like list of its own and warns that
// generation quality will suffer.
const std::set<std::string> kDiffersOnPurpose = {"default"};
// Names baton accepts that llama.cpp does not know (older baton spellings of GPT-2's).
const std::set<std::string> kBatonOnly = {"gpt2", "gpt-neox"};
// Names llama.cpp knows that baton refuses (pretokenizer_names.cpp says why).
const std::set<std::string> kRefused = {"jina-v1-en", "jina-v2-code", "roberta-bpe", "chameleon"};


struct Reference {
  std::vector<std::string> texts;
  // name -> for each text, the byte length of each piece
  std::vector<std::pair<std::string, std::vector<std::vector<size_t>>>> pieces;
  std::set<std::string> refused_by_llama_cpp;
};

Reference load_reference() {
  std::ifstream in(kReference);
  if (!in) throw std::runtime_error("cannot read " + kReference);
  const nlohmann::json j = nlohmann::json::parse(in);
  Reference r;
  r.texts = j.at("texts").get<std::vector<std::string>>();
  for (const auto& [name, lengths] : j.at("piece_bytes").items()) {
    r.pieces.emplace_back(name, lengths.get<std::vector<std::vector<size_t>>>());
  }
  for (const auto& [name, why] : j.at("refused").items()) r.refused_by_llama_cpp.insert(name);
  return r;
}

std::vector<size_t> piece_lengths(const std::string& text, PreTokenizer kind) {
  std::vector<size_t> out;
  for (std::string_view p : pre_tokenize(text, kind)) out.push_back(p.size());
  return out;
}

std::string shown(const std::string& text, const std::vector<size_t>& lengths) {
  std::string out;
  size_t at = 0;
  for (size_t n : lengths) {
    out.append("[").append(text, at, n).append("]");
    at += n;
  }
  return out;
}

TEST(PreTokenizerReference, EveryAcceptedNameSplitsAsLlamaCpp) {
  const Reference ref = load_reference();
  ASSERT_GE(ref.texts.size(), 30u);
  size_t compared = 0;
  for (const auto& [name, expected] : ref.pieces) {
    const auto spec = find_pre_tokenizer(name);
    if (!spec || kDiffersOnPurpose.count(name)) continue;
    ASSERT_EQ(expected.size(), ref.texts.size()) << name;
    for (size_t t = 0; t < ref.texts.size(); ++t) {
      const std::vector<size_t> got = piece_lengths(ref.texts[t], spec->kind);
      EXPECT_EQ(got, expected[t]) << name << ", text " << t << ": baton " << shown(ref.texts[t], got)
                                  << " llama.cpp " << shown(ref.texts[t], expected[t]);
    }
    ++compared;
  }
  EXPECT_GE(compared, 80u);
}

TEST(PreTokenizerReference, TheNamesAgreeWithLlamaCppsTable) {
  const Reference ref = load_reference();
  std::set<std::string> known;
  for (const auto& [name, pieces] : ref.pieces) {
    known.insert(name);
    // Every name llama.cpp splits with is accepted, unless refused on purpose.
    EXPECT_NE(find_pre_tokenizer(name).has_value(), kRefused.count(name) > 0) << name;
  }
  for (const std::string& name : kRefused) EXPECT_TRUE(known.count(name)) << name << " is not a llama.cpp name";
  for (const std::string& name : kBatonOnly) {
    EXPECT_FALSE(known.count(name)) << name;
    EXPECT_TRUE(find_pre_tokenizer(name).has_value()) << name;
  }
  // Every name baton accepts is one llama.cpp splits with, or one of baton's own.
  std::string all = supported_pre_tokenizer_names() + ", ";
  for (size_t at = 0, comma; (comma = all.find(", ", at)) != std::string::npos; at = comma + 2) {
    const std::string name = all.substr(at, comma - at);
    EXPECT_TRUE(known.count(name) || kBatonOnly.count(name)) << name << " is accepted but llama.cpp has no such name";
  }
}

// The texts tell every pattern from every other: whichever other pattern a name were
// mapped onto, the test above would fail on some text.
TEST(PreTokenizerReference, EveryOtherPatternMissesLlamaCppSomewhere) {
  const Reference ref = load_reference();
  for (const auto& [name, expected] : ref.pieces) {
    const auto spec = find_pre_tokenizer(name);
    if (!spec || kDiffersOnPurpose.count(name)) continue;
    for (int k = 0; k < kPreTokenizerCount; ++k) {
      const auto other = static_cast<PreTokenizer>(k);
      if (other == spec->kind) continue;
      bool differs = false;
      for (size_t t = 0; t < ref.texts.size() && !differs; ++t) differs = piece_lengths(ref.texts[t], other) != expected[t];
      EXPECT_TRUE(differs) << name << " would pass as pattern " << k;
    }
  }
}

}  // namespace
}  // namespace baton
