// Pre-tokenizers of byte-level BPE vocabularies: split text into the pieces that BPE then
// encodes one by one. Each is a hand-written matcher equivalent to the regex, or list of
// regexes, it names (std::regex has no \p{L}); see pretokenizer.cpp for the patterns.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace baton {

enum class PreTokenizer {
  Gpt2,           // "gpt-2", "mpt", "olmo", ... (and a file that names none)
  Llama3,         // "llama-bpe" (Llama 3): digits in groups of up to three
  Qwen2,          // "qwen2": as Llama 3 but one digit per piece
  StarCoder,      // "starcoder", "refact", "smollm", ...: every digit its own piece, then Gpt2 on the rest
  Falcon,         // "falcon": punctuation runs, then Gpt2, then ASCII digits in threes
  DeepSeekLlm,    // "deepseek-llm": line breaks, cased-letter words, punctuation, CJK, numbers
  DeepSeekCoder,  // "deepseek-coder": line breaks, letter words, punctuation, CJK, single digits
};

// What a tokenizer.ggml.pre name selects, with the settings llama.cpp ties to that name.
struct PreTokenizerSpec {
  PreTokenizer kind = PreTokenizer::Gpt2;
  bool ignore_merges = false;  // a piece that is itself a token is taken whole (Llama 3)
  bool add_bos = false;        // default of tokenizer.ggml.add_bos_token when the file has none
};

// Maps tokenizer.ggml.pre to a pre-tokenizer, accepting every name llama.cpp maps to one of
// the patterns above; nullopt for names we do not implement. "default" (what a file without
// the key gets) and "gpt-neox" are Gpt2: that is the pattern their tokenizer.json uses.
std::optional<PreTokenizerSpec> find_pre_tokenizer(std::string_view name);
std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name);

// Every name find_pre_tokenizer accepts, comma-separated, for error messages.
std::string supported_pre_tokenizer_names();

// Splits text into consecutive pieces that together are exactly `text` (views into it).
// Ill-formed UTF-8 bytes are kept, each maximal ill-formed subpart treated as one U+FFFD
// (a symbol: neither letter, number, punctuation nor space), as llama.cpp classifies it.
std::vector<std::string_view> pre_tokenize(std::string_view text, PreTokenizer kind);

}  // namespace baton
