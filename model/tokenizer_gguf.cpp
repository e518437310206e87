// Tokenizer::from_gguf: reads the tokenizer.ggml.* keys into a Vocabulary.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "model/gguf.h"
#include "model/pretokenizer.h"
#include "model/tokenizer.h"
#include "model/tokenizer_impl.h"

namespace baton {

namespace {

std::string where(const GgufFile& file) { return file.path().empty() ? std::string("<gguf>") : file.path(); }

// Special token id from an optional key; `fallback` when absent.
int32_t special_id(const GgufFile& file, std::string_view key, int32_t fallback, size_t n_tokens, bool required_valid) {
  const std::optional<uint64_t> id = file.opt_u64(key);
  if (!id) return fallback;
  if (*id < n_tokens) return static_cast<int32_t>(*id);
  if (required_valid)
    throw GgufError(fmt::format("{}: {} = {} is outside the vocabulary of {} tokens", where(file), key, *id, n_tokens));
  spdlog::warn("{}: ignoring {} = {} (vocabulary has {} tokens)", where(file), key, *id, n_tokens);
  return -1;
}

}  // namespace

Tokenizer Tokenizer::from_gguf(const GgufFile& file) {
  Vocabulary v;
  const std::string model = file.get_string("tokenizer.ggml.model");
  if (model == "llama") v.kind = TokenizerKind::Llama;
  else if (model == "gpt2") v.kind = TokenizerKind::Gpt2;
  else
    throw GgufError(fmt::format("{}: tokenizer.ggml.model '{}' is not supported (llama or gpt2)", where(file), model));
  const bool llama = v.kind == TokenizerKind::Llama;

  v.tokens = file.get_string_array("tokenizer.ggml.tokens");
  const size_t n = v.tokens.size();
  if (file.find("tokenizer.ggml.scores")) {
    const std::vector<double> scores = file.get_f64_array("tokenizer.ggml.scores");
    v.scores.assign(scores.begin(), scores.end());
  }
  if (file.find("tokenizer.ggml.token_type")) {
    const std::vector<int64_t> types = file.get_i64_array("tokenizer.ggml.token_type");
    v.types.reserve(types.size());
    for (size_t i = 0; i < types.size(); ++i) {
      if (types[i] < 0 || types[i] > static_cast<int64_t>(TokenType::Byte))
        throw GgufError(fmt::format("{}: tokenizer.ggml.token_type[{}] = {} is not a token type (0..6)", where(file), i,
                                    types[i]));
      v.types.push_back(static_cast<TokenType>(types[i]));
    }
  }
  if (!llama) {
    v.merges = file.get_string_array("tokenizer.ggml.merges");
    v.pre = file.opt_string("tokenizer.ggml.pre").value_or("default");
  }

  // Defaults as llama.cpp: SentencePiece vocabularies put <unk>, <s>, </s> at 0, 1, 2.
  const auto fallback = [&](int32_t id) { return llama && static_cast<size_t>(id) < n ? id : -1; };
  v.bos = special_id(file, "tokenizer.ggml.bos_token_id", fallback(1), n, true);
  v.eos = special_id(file, "tokenizer.ggml.eos_token_id", fallback(2), n, true);
  v.unk = special_id(file, "tokenizer.ggml.unknown_token_id", fallback(0), n, true);
  v.eot = special_id(file, "tokenizer.ggml.eot_token_id", -1, n, true);
  v.pad = special_id(file, "tokenizer.ggml.padding_token_id", -1, n, false);  // unused here: tolerate junk
  // llama.cpp adds BOS by default for SentencePiece and for the Llama 3 family of names.
  const std::optional<PreTokenizerSpec> pre = llama ? std::nullopt : find_pre_tokenizer(v.pre);
  v.add_bos = file.opt_bool("tokenizer.ggml.add_bos_token").value_or(llama || (pre && pre->add_bos));
  v.add_space_prefix = file.opt_bool("tokenizer.ggml.add_space_prefix").value_or(llama);
  if (v.add_bos && v.bos < 0)
    throw GgufError(fmt::format("{}: tokenizer.ggml.add_bos_token is true but there is no bos_token_id", where(file)));

  std::optional<Tokenizer> tok;
  try {
    tok.emplace(std::move(v));
  } catch (const std::invalid_argument& e) {
    throw GgufError(fmt::format("{}: {}", where(file), e.what()));
  }
  const std::vector<uint8_t>& missing = tok->impl_->bytes_without_token;
  if (!missing.empty()) {
    std::string bytes;
    for (const uint8_t b : missing) bytes += fmt::format("{}0x{:02X}", bytes.empty() ? "" : ", ", b);
    spdlog::warn("{}: the vocabulary has no token for byte(s) {} and no unknown token: they are left out of "
                 "the text this model sees, as llama.cpp does",
                 where(file), bytes);
  }
  return std::move(*tok);
}

}  // namespace baton
