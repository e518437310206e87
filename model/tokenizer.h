// Tokenizer built from GGUF metadata (tokenizer.ggml.*):
//  - model "llama": SentencePiece-style BPE over scores (merge the highest-scoring
//    adjacent pair first), U+2581 for spaces, <0xXX> byte fallback tokens.
//  - model "gpt2": byte-level BPE with ranked merges, after the pre-tokenizer that
//    tokenizer.ggml.pre names ("llama-bpe", "qwen2", "falcon", ...: model/pretokenizer.h).
// Special tokens (control / user-defined types) are matched verbatim when parse_special.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace baton {

class GgufFile;

enum class TokenizerKind { Llama, Gpt2 };

// GGUF tokenizer.ggml.token_type values.
enum class TokenType : int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

// Everything the tokenizer needs; what GGUF stores under tokenizer.ggml.*.
struct Vocabulary {
  TokenizerKind kind = TokenizerKind::Llama;
  std::string pre = "default";             // gpt2 pre-tokenizer name
  std::vector<std::string> tokens;
  std::vector<float> scores;               // llama kind
  std::vector<TokenType> types;
  std::vector<std::string> merges;         // gpt2 kind: "a b" per line, rank = index
  int32_t bos = -1, eos = -1, eot = -1, unk = -1, pad = -1;
  bool add_bos = true;
  bool add_space_prefix = true;            // llama kind: prepend "▁" to the text
};

// A stretch of text to tokenise and whether control tokens written in it count: yes for a
// chat template's own markers, never for text a user typed.
struct TextPiece {
  std::string_view text;
  bool parse_special = false;
};

class Tokenizer {
 public:
  // Throws GgufError (from model/gguf.h) naming the missing or inconsistent key.
  static Tokenizer from_gguf(const GgufFile& file);
  explicit Tokenizer(Vocabulary vocab);  // validates; throws std::invalid_argument
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;
  // The pieces in order, as one text: the raw text between control tokens is tokenised
  // across piece boundaries, so the ids equal those of the joined text wherever the
  // pieces allow the same control tokens.
  std::vector<int32_t> encode(const std::vector<TextPiece>& pieces, bool add_bos) const;
  // Raw bytes of one token (byte-fallback tokens give their byte; "▁" becomes " ").
  std::string token_bytes(int32_t id) const;
  std::string decode(const std::vector<int32_t>& ids) const;

  int32_t vocab_size() const;
  int32_t bos() const;
  int32_t eos() const;
  bool add_bos() const;
  // End of generation: eos, eot, or another control token marked as such (e.g. <|im_end|>).
  bool is_end_of_generation(int32_t id) const;
  std::optional<int32_t> find_token(std::string_view text) const;
  const Vocabulary& vocabulary() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Turns a stream of token ids into complete UTF-8 text: holds back bytes of an
// unfinished multi-byte character until the rest arrives.
class TokenStreamDecoder {
 public:
  explicit TokenStreamDecoder(const Tokenizer& tok) : tok_(&tok) {}
  std::string push(int32_t id);  // text that is complete so far
  std::string flush();           // whatever is left (invalid bytes become U+FFFD)
 private:
  const Tokenizer* tok_;
  std::string pending_;
};

// Deterministic vocabularies for synthesised models (baton model synth): real, valid
// tables of the given kind and size, with byte tokens, merges and special tokens, built
// from a fixed English word list, so that encode/decode round-trip real text.
Vocabulary synth_vocabulary(TokenizerKind kind, int32_t vocab_size);

}  // namespace baton
