// Pre-tokenizers of byte-level BPE vocabularies: split text into the pieces that BPE then
// encodes one by one. Each is a hand-written matcher equivalent to the regex it names
// (std::regex has no \p{L}); see pretokenizer.cpp for the patterns.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace baton {

enum class PreTokenizer {
  Gpt2,    // "default", "gpt2"
  Llama3,  // "llama-bpe" (Llama 3): digits in groups of up to three
  Qwen2,   // "qwen2": as Llama 3 but one digit per piece
  StarCoder,  // "starcoder", "refact": every digit its own piece, then Gpt2 on the rest
};

// Maps tokenizer.ggml.pre to a pre-tokenizer; nullopt for names we do not implement.
// "mpt" and "gpt-neox" are Gpt2 (their tokenizer.json uses GPT-2's pattern).
std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name);

// Splits text into consecutive pieces that together are exactly `text` (views into it).
// Ill-formed UTF-8 bytes are kept, each treated as a symbol that is neither letter,
// number nor space.
std::vector<std::string_view> pre_tokenize(std::string_view text, PreTokenizer kind);

}  // namespace baton
