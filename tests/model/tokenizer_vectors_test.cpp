// Byte-level BPE tokenizers against llama.cpp's own test vectors (tests/model/data/
// tokenizer-vectors, see SOURCE.md there): the vocabulary-only GGUF files llama.cpp tests
// with, and for each test string the ids llama.cpp expects.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/tokenizer.h"

namespace baton {
namespace {

const std::string kDir = std::string(BATON_SOURCE_DIR) + "/tests/model/data/tokenizer-vectors/";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// The .inp file holds each string followed by "\n__ggml_vocab_test__\n"; the .out file one
// line of ids per string.
std::vector<Case> load_cases(const std::string& name) {
  const std::string inp = read_all(kDir + "ggml-vocab-" + name + ".gguf.inp");
  const std::string out = read_all(kDir + "ggml-vocab-" + name + ".gguf.out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t end = inp.find(sep, pos);
    if (end == std::string::npos) break;
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (Case& c : cases) {
    if (!std::getline(lines, line)) throw std::runtime_error(name + ": fewer result lines than strings");
    std::istringstream ids(line);
    int32_t id = 0;
    while (ids >> id) c.ids.push_back(id);
  }
  return cases;
}

Tokenizer load(const std::string& vocab) {
  return Tokenizer::from_gguf(GgufFile::open(kDir + "ggml-vocab-" + vocab + ".gguf"));
}

// Every string encodes to llama.cpp's ids, and the ids decode back to the string (none of
// these vocabularies loses anything on these strings). Returns the number of strings.
size_t expect_matches_llama_cpp(const std::string& vocab, const std::string& cases_from) {
  const Tokenizer tok = load(vocab);
  const std::vector<Case> cases = load_cases(cases_from);
  EXPECT_EQ(cases.size(), 46u) << "every vector file upstream has 46 strings";
  for (const Case& c : cases) {
    const std::vector<int32_t> ids = tok.encode(c.text, false, false);
    EXPECT_EQ(ids, c.ids) << vocab << ": '" << c.text << "'";
    EXPECT_EQ(tok.decode(ids), c.text) << vocab << ": '" << c.text << "' does not round-trip";
  }
  return cases.size();
}

TEST(TokenizerVectors, Mpt) { expect_matches_llama_cpp("mpt", "mpt"); }
// gpt-neox's file names no pre-tokenizer (the default, GPT-2's pattern); tokens and merges
// are mpt's, and upstream has no strings of its own for it.
TEST(TokenizerVectors, GptNeox) { expect_matches_llama_cpp("gpt-neox", "mpt"); }
TEST(TokenizerVectors, StarCoder) { expect_matches_llama_cpp("starcoder", "starcoder"); }
TEST(TokenizerVectors, Refact) { expect_matches_llama_cpp("refact", "refact"); }
TEST(TokenizerVectors, Falcon) { expect_matches_llama_cpp("falcon", "falcon"); }
TEST(TokenizerVectors, DeepSeekLlm) { expect_matches_llama_cpp("deepseek-llm", "deepseek-llm"); }
TEST(TokenizerVectors, DeepSeekCoder) { expect_matches_llama_cpp("deepseek-coder", "deepseek-coder"); }

TEST(TokenizerVectors, FalconDropsTheBytesItHasNoTokenFor) {
  // Falcon's vocabulary has no symbol for 28 bytes (0x03-0x05, 0x0B, other controls, and
  // bytes no UTF-8 text has) and no unknown token; llama.cpp loads it and leaves those
  // bytes out, so "a\x03\x0B b" encodes as "a b" does.
  const Tokenizer tok = load("falcon");
  EXPECT_FALSE(tok.find_token("\xC4\x83").has_value());  // U+0103, the symbol of byte 0x03
  EXPECT_FALSE(tok.find_token("\xC4\x8B").has_value());  // U+010B, of 0x0B
  const std::vector<int32_t> ab = tok.encode("a b", false, false);
  EXPECT_EQ(tok.encode("a\x03\x0B b", false, false), ab);
  EXPECT_EQ(tok.decode(tok.encode("x\x01\x02y", false, false)), "x\x01\x02y");  // these have tokens
}

TEST(TokenizerVectors, DeepSeekVocabulariesAddBosAndMarkTheirEnd) {
  const Tokenizer llm = load("deepseek-llm");
  EXPECT_TRUE(llm.add_bos());
  EXPECT_EQ(llm.bos(), 100000);
  EXPECT_TRUE(llm.is_end_of_generation(100001));  // <｜end▁of▁sentence｜>
  const Tokenizer coder = load("deepseek-coder");
  EXPECT_EQ(coder.encode("int x;", true, false).front(), 32013);
}

}  // namespace
}  // namespace baton
