// Tokenizer plumbing: streaming decode of split UTF-8, validation errors, end-of-generation
// tokens and loading from GGUF metadata.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <utility>

#include "model/gguf.h"
#include "model/synth.h"
#include "model/tokenizer.h"

namespace baton {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// <unk> <s> </s> <0x00>..<0xFF> (ids 3..258) "▁" "a" "▁a" <|im_end|>
Vocabulary byte_vocab() {
  Vocabulary v;
  v.kind = TokenizerKind::Llama;
  auto add = [&](std::string t, TokenType type) {
    v.tokens.push_back(std::move(t));
    v.types.push_back(type);
    v.scores.push_back(-static_cast<float>(v.tokens.size()));
  };
  add("<unk>", TokenType::Unknown);
  add("<s>", TokenType::Control);
  add("</s>", TokenType::Control);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), TokenType::Byte);
  add("\xE2\x96\x81", TokenType::Normal);
  add("a", TokenType::Normal);
  add("\xE2\x96\x81" "a", TokenType::Normal);
  add("<|im_end|>", TokenType::Control);
  v.unk = 0, v.bos = 1, v.eos = 2;
  return v;
}

int32_t byte_id(uint8_t b) { return 3 + b; }

TEST(TokenizerStream, HoldsBackSplitCharacters) {
  const Tokenizer tok(byte_vocab());
  TokenStreamDecoder d(tok);
  const int32_t a = *tok.find_token("a");
  EXPECT_EQ(d.push(a), "a");
  // 漢 = E6 BC A2 arrives one byte token at a time.
  EXPECT_EQ(d.push(byte_id(0xE6)), "");
  EXPECT_EQ(d.push(byte_id(0xBC)), "");
  EXPECT_EQ(d.push(byte_id(0xA2)), "\xE6\xBC\xA2");
  // 😀 = F0 9F 98 80, then a letter in the same push as the last byte.
  EXPECT_EQ(d.push(byte_id(0xF0)), "");
  EXPECT_EQ(d.push(byte_id(0x9F)), "");
  EXPECT_EQ(d.push(byte_id(0x98)), "");
  EXPECT_EQ(d.push(byte_id(0x80)), "\xF0\x9F\x98\x80");
  EXPECT_EQ(d.push(*tok.find_token("\xE2\x96\x81" "a")), " a");
  EXPECT_EQ(d.flush(), "");
}

TEST(TokenizerStream, InvalidBytesBecomeReplacementCharacters) {
  const Tokenizer tok(byte_vocab());
  TokenStreamDecoder d(tok);
  // A byte that can never start a character is replaced at once.
  EXPECT_EQ(d.push(byte_id(0xFF)), kReplacement);
  // A lead byte followed by a non-continuation: the lead becomes U+FFFD, the rest stays.
  EXPECT_EQ(d.push(byte_id(0xE6)), "");
  EXPECT_EQ(d.push(*tok.find_token("a")), kReplacement + "a");
  // An unfinished character at the end is one U+FFFD on flush.
  EXPECT_EQ(d.push(byte_id(0xE6)), "");
  EXPECT_EQ(d.push(byte_id(0xBC)), "");
  EXPECT_EQ(d.flush(), kReplacement);
  EXPECT_EQ(d.flush(), "");
  // Surrogates (ED A0..) and overlong forms (C0 80) are ill-formed too.
  EXPECT_EQ(d.push(byte_id(0xED)), "");
  EXPECT_EQ(d.push(byte_id(0xA0)), kReplacement + kReplacement);
  EXPECT_EQ(d.push(byte_id(0xC0)), kReplacement);
  EXPECT_EQ(d.push(byte_id(0x80)), kReplacement);
}

TEST(TokenizerStream, ConcatenationEqualsDecodeForValidText) {
  const Tokenizer tok(byte_vocab());
  const std::string text = "a \xE6\xBC\xA2 aa\xF0\x9F\x98\x80 a\n";
  const auto ids = tok.encode(text, false, false);
  TokenStreamDecoder d(tok);
  std::string streamed;
  for (int32_t id : ids) streamed += d.push(id);
  streamed += d.flush();
  EXPECT_EQ(streamed, " " + text);  // streaming keeps the prefix space; decode() drops it
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(TokenizerEog, EosEotAndKnownEndTokens) {
  Vocabulary v = byte_vocab();
  const auto im_end = static_cast<int32_t>(v.tokens.size() - 1);
  const Tokenizer tok(v);
  EXPECT_TRUE(tok.is_end_of_generation(2));       // eos
  EXPECT_TRUE(tok.is_end_of_generation(im_end));  // control token named <|im_end|>
  EXPECT_FALSE(tok.is_end_of_generation(1));      // bos
  EXPECT_FALSE(tok.is_end_of_generation(*tok.find_token("a")));
  EXPECT_FALSE(tok.is_end_of_generation(-1));
  EXPECT_FALSE(tok.is_end_of_generation(1 << 20));
  v.eot = *tok.find_token("a");  // whatever the file says is the end of turn
  EXPECT_TRUE(Tokenizer(v).is_end_of_generation(v.eot));
}

void expect_invalid(const Vocabulary& v, const std::string& fragment) {
  try {
    Tokenizer t(v);
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(TokenizerValidation, RejectsInconsistentVocabularies) {
  Vocabulary v = byte_vocab();
  v.scores.pop_back();
  expect_invalid(v, "scores");
  v = byte_vocab();
  v.types.push_back(TokenType::Normal);
  expect_invalid(v, "token types");
  v = byte_vocab();
  v.types[5] = static_cast<TokenType>(9);
  expect_invalid(v, "unknown type 9");
  v = byte_vocab();
  v.bos = static_cast<int32_t>(v.tokens.size());
  expect_invalid(v, "bos token id");
  v = byte_vocab();
  v.eot = -5;
  expect_invalid(v, "eot token id -5");
  v = byte_vocab();
  v.bos = -1;
  expect_invalid(v, "add_bos");
  v = byte_vocab();
  v.scores[260] = std::nanf("");
  expect_invalid(v, "NaN");
  v = byte_vocab();
  v.tokens.clear(), v.scores.clear(), v.types.clear(), v.bos = v.eos = v.unk = -1;
  expect_invalid(v, "0 tokens");
  // No <0x41> and no unknown token: 'A' could not be encoded.
  v = byte_vocab();
  v.tokens[3 + 0x41] = "<not a byte>";
  v.types[3 + 0x41] = TokenType::Normal;
  v.unk = -1;
  expect_invalid(v, "<0x41>");
  v = byte_vocab();
  v.types[260] = TokenType::Byte;  // "a" typed as a byte token
  expect_invalid(v, "type byte");
}

Vocabulary small_bpe() {
  Vocabulary v = synth_vocabulary(TokenizerKind::Gpt2, 300);
  return v;
}

TEST(TokenizerValidation, RejectsBadMergesNamingTheLine) {
  Vocabulary v = small_bpe();
  ASSERT_GT(v.merges.size(), 5u);
  v.merges[3] = "x";
  expect_invalid(v, "merge 3 'x'");
  v = small_bpe();
  v.merges[4] = "q \xE2\x82\xAC";  // € is not a byte-level symbol
  expect_invalid(v, "merge 4");
  v = small_bpe();
  v.merges[2] = "z z";  // "zz" is not a token
  expect_invalid(v, "the result 'zz' is not a token");
  v = small_bpe();
  v.pre = "chameleon";
  expect_invalid(v, "pre-tokenizer 'chameleon' (tokenizer.ggml.pre) is not supported; supported: default, gpt2");
}

GgufFile tokenizer_file(const Vocabulary& v) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  write_tokenizer_metadata(w, v);
  return GgufFile::parse(w.serialize(), "tok.gguf");
}

TEST(TokenizerGguf, LoadsWhatTheWriterWrote) {
  for (TokenizerKind kind : {TokenizerKind::Llama, TokenizerKind::Gpt2}) {
    const Vocabulary v = synth_vocabulary(kind, 1024);
    const Tokenizer direct(v);
    const Tokenizer loaded = Tokenizer::from_gguf(tokenizer_file(v));
    EXPECT_EQ(loaded.vocab_size(), 1024);
    EXPECT_EQ(loaded.bos(), direct.bos());
    EXPECT_EQ(loaded.eos(), direct.eos());
    EXPECT_EQ(loaded.add_bos(), direct.add_bos());
    EXPECT_EQ(loaded.vocabulary().tokens, v.tokens);
    EXPECT_EQ(loaded.vocabulary().merges, v.merges);
    const std::string text = "<|im_start|>user\nThe people of the world have water.<|im_end|>\n";
    EXPECT_EQ(loaded.encode(text, true, true), direct.encode(text, true, true));
  }
}

void expect_gguf_error(const GgufFile& f, const std::string& fragment) {
  try {
    Tokenizer::from_gguf(f);
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const GgufError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(TokenizerGguf, AddBosDefaultsAsLlamaCppForThePreTokenizer) {
  // Without tokenizer.ggml.add_bos_token, llama.cpp adds BOS for the Llama 3 names only.
  const Vocabulary v = synth_vocabulary(TokenizerKind::Gpt2, 300);
  for (const auto& [pre, expected] : {std::pair{"llama-bpe", true}, std::pair{"qwen2", false}, std::pair{"smollm", false}}) {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", pre);
    w.set_string_array("tokenizer.ggml.tokens", v.tokens);
    w.set_string_array("tokenizer.ggml.merges", v.merges);
    w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos));
    EXPECT_EQ(Tokenizer::from_gguf(GgufFile::parse(w.serialize(), "tok.gguf")).add_bos(), expected) << pre;
  }
}

TEST(TokenizerGguf, ErrorsNameTheKey) {
  const Vocabulary v = synth_vocabulary(TokenizerKind::Gpt2, 400);
  {
    GgufWriter w;
    w.set_string("tokenizer.ggml.model", "gpt2");
    expect_gguf_error(GgufFile::parse(w.serialize(), "t"), "tokenizer.ggml.tokens");
  }
  {
    GgufWriter w;
    w.set_string("tokenizer.ggml.model", "bert");
    w.set_string_array("tokenizer.ggml.tokens", {"a"});
    expect_gguf_error(GgufFile::parse(w.serialize(), "t"), "'bert' is not supported");
  }
  {
    GgufWriter w;
    write_tokenizer_metadata(w, v);
    w.set_u32("tokenizer.ggml.bos_token_id", 400);
    expect_gguf_error(GgufFile::parse(w.serialize(), "t"), "bos_token_id = 400");
  }
  {
    GgufWriter w;
    write_tokenizer_metadata(w, v);
    std::vector<int32_t> types(v.tokens.size(), 1);
    types[7] = 42;
    w.set_i32_array("tokenizer.ggml.token_type", types);
    expect_gguf_error(GgufFile::parse(w.serialize(), "t"), "token_type[7] = 42");
  }
  {
    GgufWriter w;
    write_tokenizer_metadata(w, v);
    std::vector<std::string> merges = v.merges;
    merges[10] = "\xC4\xA0 nope";
    w.set_string_array("tokenizer.ggml.merges", merges);
    expect_gguf_error(GgufFile::parse(w.serialize(), "t"), "merge 10");
  }
  {
    // A junk padding id is tolerated (ignored) rather than failing the model.
    GgufWriter w;
    write_tokenizer_metadata(w, v);
    w.set_u32("tokenizer.ggml.padding_token_id", 99999);
    EXPECT_EQ(Tokenizer::from_gguf(GgufFile::parse(w.serialize(), "t")).vocabulary().pad, -1);
  }
}

}  // namespace
}  // namespace baton
