// Byte-level BPE tokenizers against llama.cpp's own test vectors (tests/model/data/
// tokenizer-vectors, see SOURCE.md there): the vocabulary-only GGUF files llama.cpp tests
// with, and for each test string the ids llama.cpp expects.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
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

void expect_matches_llama_cpp(const std::string& vocab, const std::string& cases_from) {
  const Tokenizer tok = Tokenizer::from_gguf(GgufFile::open(kDir + "ggml-vocab-" + vocab + ".gguf"));
  const std::vector<Case> cases = load_cases(cases_from);
  ASSERT_GT(cases.size(), 30u);
  for (const Case& c : cases) {
    EXPECT_EQ(tok.encode(c.text, false, false), c.ids) << vocab << ": '" << c.text << "'";
  }
}

TEST(TokenizerVectors, Mpt) { expect_matches_llama_cpp("mpt", "mpt"); }
// gpt-neox's file names no pre-tokenizer (the default, GPT-2's pattern); tokens and merges
// are mpt's, and upstream has no strings of its own for it.
TEST(TokenizerVectors, GptNeox) { expect_matches_llama_cpp("gpt-neox", "mpt"); }
TEST(TokenizerVectors, StarCoder) { expect_matches_llama_cpp("starcoder", "starcoder"); }
TEST(TokenizerVectors, Refact) { expect_matches_llama_cpp("refact", "refact"); }

}  // namespace
}  // namespace baton
