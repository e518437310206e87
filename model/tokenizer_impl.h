// Internals shared by the tokenizer's source files (not part of the public contract).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/pretokenizer.h"
#include "model/tokenizer.h"

namespace baton::detail {

struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
// Token text -> id. Lookups take string_views without building strings.
using TokenIndex = std::unordered_map<std::string, int32_t, TransparentHash, std::equal_to<>>;

// ---- SentencePiece-style BPE (tokenizer_spm.cpp) ----

struct SpmTables {
  const TokenIndex* ids = nullptr;
  const std::vector<float>* scores = nullptr;
  // Tokens that ordinary text may turn into; control, byte and unused tokens are excluded
  // as SentencePiece excludes them (they only come from explicit ids).
  const std::vector<uint8_t>* normal = nullptr;
  std::array<int32_t, 256> byte_tokens{};  // <0xXX>, -1 where missing
  int32_t unk = -1;
};

// Encodes text whose spaces are already U+2581 (no pre-tokenisation: SentencePiece sees
// the whole fragment). Appends ids to out.
void spm_encode(std::string_view text, const SpmTables& tables, std::vector<int32_t>& out);

// " " -> U+2581, as SentencePiece's normaliser does.
std::string spm_escape_spaces(std::string_view text);
// U+2581 -> " ".
std::string spm_unescape_spaces(std::string_view text);
// "<0x41>" -> 0x41; -1 if the text is not a byte token name.
int spm_byte_token_value(std::string_view text);

// ---- Byte-level BPE (tokenizer_bpe.cpp) ----

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes
// to U+0100.. in byte order, so every byte is a visible character in merges and tokens.
char32_t byte_to_unicode(uint8_t byte);
// Inverse mapping; -1 for code points that no byte maps to.
int unicode_to_byte(char32_t cp);
// The UTF-8 of byte_to_unicode for every byte, concatenated: the token text of raw bytes.
std::string bytes_to_token_text(std::string_view bytes);
// Token text -> raw bytes; characters outside the mapping are kept as their UTF-8.
std::string token_text_to_bytes(std::string_view text);

struct BpeMerge {
  int32_t rank;
  int32_t result;
};

struct BpeTables {
  const TokenIndex* ids = nullptr;
  std::unordered_map<uint64_t, BpeMerge> merges;  // (left id << 32 | right id) -> merge
  std::array<int32_t, 256> byte_tokens{};          // token of each byte's symbol, -1 if missing
  int32_t unk = -1;             // for a byte without a token; -1: the byte is dropped, as llama.cpp does
  bool ignore_merges = false;  // Llama 3: a piece that is itself a token is taken whole
};

inline uint64_t bpe_pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Encodes one pre-tokenised piece (raw bytes). Appends ids to out.
void bpe_encode_piece(std::string_view piece, const BpeTables& tables, std::vector<int32_t>& out);

}  // namespace baton::detail

namespace baton {

// Everything a Tokenizer holds (Tokenizer::Impl is this; it is a separate type so that
// free functions in several files can build and use it).
struct TokenizerTables {
  Vocabulary vocab;
  detail::TokenIndex ids;
  std::vector<std::string> token_bytes;  // what each token decodes to (control: empty)
  std::vector<uint8_t> end_of_generation;
  // Tokens matched verbatim before tokenisation, longest text first.
  std::vector<int32_t> specials;
  std::vector<uint8_t> normal;  // see SpmTables::normal
  detail::SpmTables spm;
  detail::BpeTables bpe;
  PreTokenizer pre = PreTokenizer::Gpt2;
  // Byte-level BPE: bytes with neither a token nor an unknown token to stand for them.
  std::vector<uint8_t> bytes_without_token;
};

struct Tokenizer::Impl : TokenizerTables {};

// Validates the vocabulary and builds the lookup tables into `t` (which must not move
// afterwards: the tables point into it). Throws std::invalid_argument.
void build_tokenizer(Vocabulary vocab, TokenizerTables& t);

}  // namespace baton
