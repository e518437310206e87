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
  DeepSeekV3,     // "deepseek-v3": digits in threes, kana and ideographs, then words with marks
  Spark25,        // "spark2_5": as DeepSeekV3 with lone line breaks and single digits
  Afmoe,          // "afmoe": numbers in threes from the right, Asian scripts, DeepSeekV3's words
  Gpt4o,          // "gpt-4o", "llama4", "minimax-m2", ...: ASCII case splits words, contractions stay on
  Tekken,         // "tekken" (Mistral): Gpt4o without contractions, one digit per piece
  Youtu,          // "youtu": Korean, CJK punctuation, Bopomofo, kana and ideographs, then uncased words
  TinyAya,        // "tiny_aya": numbers in threes from the right (as Afmoe), then uncased words
  GraniteEmbedMulti,  // "granite-embed-multi-97m": Gpt4o with marks as letters
  KimiK2,         // "kimi-k2": Han runs, then Llama 3 with Han apart and contractions kept on words
  Qwen35,         // "qwen35": Qwen2 with combining marks inside words
  SeedCoder,      // "seed-coder": Qwen2 without line breaks after punctuation
  Ufakzeka,       // "ufakzeka": Qwen2 without contractions
  Laguna,         // "laguna": runs of line feeds apart, then Qwen2
  MiniCpm5,       // "minicpm5": digits in threes first, then Llama 3
  Jais2,          // "jais-2": Llama 3 with runs of spaces cut in powers of two
  SuperBpe,       // "superbpe": numbers apart, ASCII digits in threes from the right; words may span spaces
  Bloom,          // "bloom", "poro-chat", "gpt3-finnish": runs up to a space or sentence punctuation
  Viking,         // "viking": Bloom, then one digit per piece
  ExaoneMoe,      // "exaone-moe": words joined by single spaces (keep last: kPreTokenizerCount)
};
inline constexpr int kPreTokenizerCount = static_cast<int>(PreTokenizer::ExaoneMoe) + 1;

// What a tokenizer.ggml.pre name selects, with the settings llama.cpp ties to that name.
struct PreTokenizerSpec {
  PreTokenizer kind = PreTokenizer::Gpt2;
  bool ignore_merges = false;  // a piece that is itself a token is taken whole (Llama 3)
  bool add_bos = false;        // default of tokenizer.ggml.add_bos_token when the file has none
};

// Maps tokenizer.ggml.pre to a pre-tokenizer, accepting every name llama.cpp maps to one of
// the patterns above (pretokenizer_names.cpp); nullopt for names we do not implement.
// "default" (what a file without the key gets) and "gpt-neox" are Gpt2: that is the pattern
// their tokenizer.json uses (llama.cpp gives "default" a Falcon-like list instead, and
// knows neither "gpt-neox" nor "gpt2").
std::optional<PreTokenizerSpec> find_pre_tokenizer(std::string_view name);
std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name);

// Every name find_pre_tokenizer accepts, comma-separated, for error messages.
std::string supported_pre_tokenizer_names();

// Splits text into consecutive pieces that together are exactly `text` (views into it).
// Ill-formed UTF-8 bytes are kept, each maximal ill-formed subpart treated as one U+FFFD
// (a symbol: neither letter, number, punctuation, mark nor space), as llama.cpp classifies it.
std::vector<std::string_view> pre_tokenize(std::string_view text, PreTokenizer kind);

}  // namespace baton
