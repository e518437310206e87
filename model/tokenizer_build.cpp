// Validation of a Vocabulary and construction of the tokenizer's lookup tables.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "model/tokenizer_impl.h"
#include "model/unicode_utf8.h"

namespace baton {

namespace {

constexpr size_t kMaxVocabulary = size_t{1} << 24;
constexpr size_t kMaxMerges = size_t{1} << 24;

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument("tokenizer: " + message); }

// Short, printable rendering of a token for error messages.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 40)) {
    if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else out += c;
  }
  if (text.size() > 40) out += "...";
  return out;
}

// Texts that mark the end of a turn in the common chat formats (as llama.cpp's list).
constexpr std::string_view kEndOfGenerationTexts[] = {
    "</s>", "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<|endoftext|>", "<|end_of_text|>",
    "<end_of_turn>", "<EOT>", "<|end\xE2\x96\x81of\xE2\x96\x81sentence|>",
};

void check_sizes(const Vocabulary& v) {
  const size_t n = v.tokens.size();
  if (n == 0 || n > kMaxVocabulary) fail(fmt::format("vocabulary has {} tokens; expected 1..{}", n, kMaxVocabulary));
  if (!v.scores.empty() && v.scores.size() != n)
    fail(fmt::format("{} scores for {} tokens (tokenizer.ggml.scores must match tokenizer.ggml.tokens)", v.scores.size(), n));
  if (!v.types.empty() && v.types.size() != n)
    fail(fmt::format("{} token types for {} tokens (tokenizer.ggml.token_type must match tokenizer.ggml.tokens)",
                     v.types.size(), n));
  for (size_t i = 0; i < v.scores.size(); ++i) {
    if (std::isnan(v.scores[i])) fail(fmt::format("score of token {} '{}' is NaN", i, shown(v.tokens[i])));
  }
  for (size_t i = 0; i < v.types.size(); ++i) {
    const auto t = static_cast<int32_t>(v.types[i]);
    if (t < 0 || t > static_cast<int32_t>(TokenType::Byte))
      fail(fmt::format("token {} '{}' has unknown type {}", i, shown(v.tokens[i]), t));
  }
  auto check_id = [&](const char* name, int32_t id) {
    if (id < -1 || id >= static_cast<int32_t>(n))
      fail(fmt::format("{} token id {} is outside the vocabulary of {} tokens", name, id, n));
  };
  check_id("bos", v.bos);
  check_id("eos", v.eos);
  check_id("eot", v.eot);
  check_id("unknown", v.unk);
  check_id("padding", v.pad);
  if (v.add_bos && v.bos < 0) fail("add_bos is set but there is no bos token id");
  if (v.merges.size() > kMaxMerges) fail(fmt::format("{} merges; at most {} allowed", v.merges.size(), kMaxMerges));
}

void build_byte_tokens_llama(TokenizerTables& t) {
  const Vocabulary& v = t.vocab;
  t.spm.byte_tokens.fill(-1);
  const bool typed = std::find(v.types.begin(), v.types.end(), TokenType::Byte) != v.types.end();
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const int value = detail::spm_byte_token_value(v.tokens[i]);
    if (v.types[i] == TokenType::Byte && value < 0)
      fail(fmt::format("token {} '{}' has type byte but is not named <0xXX>", i, shown(v.tokens[i])));
    if (value >= 0 && (!typed || v.types[i] == TokenType::Byte) && t.spm.byte_tokens[static_cast<size_t>(value)] < 0)
      t.spm.byte_tokens[static_cast<size_t>(value)] = static_cast<int32_t>(i);
  }
  for (int b = 0; b < 256; ++b) {
    if (t.spm.byte_tokens[static_cast<size_t>(b)] < 0 && v.unk < 0)
      fail(fmt::format("llama vocabulary has no byte token <0x{:02X}> and no unknown token to fall back to", b));
  }
}

void build_bpe(TokenizerTables& t) {
  const Vocabulary& v = t.vocab;
  const auto pre = find_pre_tokenizer(v.pre);
  if (!pre)
    fail(fmt::format("pre-tokenizer '{}' (tokenizer.ggml.pre) is not supported; supported: {}", shown(v.pre),
                     supported_pre_tokenizer_names()));
  t.pre = pre->kind;
  t.bpe.ids = &t.ids;
  t.bpe.unk = v.unk;
  t.bpe.ignore_merges = pre->ignore_merges;
  for (int b = 0; b < 256; ++b) {
    const std::string text = detail::bytes_to_token_text(std::string(1, static_cast<char>(b)));
    const auto it = t.ids.find(text);
    t.bpe.byte_tokens[static_cast<size_t>(b)] = it == t.ids.end() ? -1 : it->second;
    // Falcon's vocabulary has no token for 28 bytes (0x03, 0x0B, ...): llama.cpp loads it
    // and drops those bytes from the text it encodes, and so do we (from_gguf warns).
    if (it == t.ids.end() && v.unk < 0) t.bytes_without_token.push_back(static_cast<uint8_t>(b));
  }
  t.bpe.merges.reserve(v.merges.size());
  for (size_t rank = 0; rank < v.merges.size(); ++rank) {
    const std::string& line = v.merges[rank];
    // As llama.cpp: the separator is the first space after the first character, so a
    // merge of a literal space symbol would still parse.
    const size_t space = line.size() > 1 ? line.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= line.size())
      fail(fmt::format("merge {} '{}' is not two symbols separated by a space", rank, shown(line)));
    const std::string_view left(line.data(), space), right(line.data() + space + 1, line.size() - space - 1);
    const auto l = t.ids.find(left), r = t.ids.find(right);
    if (l == t.ids.end()) fail(fmt::format("merge {} '{}': '{}' is not a token", rank, shown(line), shown(left)));
    if (r == t.ids.end()) fail(fmt::format("merge {} '{}': '{}' is not a token", rank, shown(line), shown(right)));
    const std::string joined = std::string(left) + std::string(right);
    const auto j = t.ids.find(joined);
    if (j == t.ids.end())
      fail(fmt::format("merge {} '{}': the result '{}' is not a token", rank, shown(line), shown(joined)));
    t.bpe.merges.try_emplace(detail::bpe_pair_key(l->second, r->second),
                             detail::BpeMerge{static_cast<int32_t>(rank), j->second});
  }
}

std::string decoded_bytes(const Vocabulary& v, size_t i, int byte_value) {
  const std::string& text = v.tokens[i];
  switch (v.types[i]) {
    case TokenType::Control: return {};
    case TokenType::Unknown: {
      std::string s;
      unicode::append_utf8(s, unicode::kReplacementChar);
      return s;
    }
    case TokenType::UserDefined: return text;  // added verbatim, so shown verbatim
    default: break;
  }
  if (v.kind == TokenizerKind::Llama) {
    if (byte_value >= 0) return std::string(1, static_cast<char>(byte_value));
    return detail::spm_unescape_spaces(text);
  }
  return detail::token_text_to_bytes(text);
}

}  // namespace

void build_tokenizer(Vocabulary vocab, TokenizerTables& tables) {
  check_sizes(vocab);
  TokenizerTables* t = &tables;
  t->vocab = std::move(vocab);
  Vocabulary& v = t->vocab;
  const size_t n = v.tokens.size();
  if (v.types.empty()) v.types.assign(n, TokenType::Normal);
  if (v.scores.empty()) v.scores.assign(n, 0.0f);

  t->ids.reserve(n);
  for (size_t i = 0; i < n; ++i) t->ids[v.tokens[i]] = static_cast<int32_t>(i);  // later duplicates win, as llama.cpp

  t->normal.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const TokenType type = v.types[i];
    t->normal[i] = type == TokenType::Normal || type == TokenType::UserDefined || type == TokenType::Undefined;
  }

  if (v.kind == TokenizerKind::Llama) {
    build_byte_tokens_llama(*t);
    t->spm.ids = &t->ids;
    t->spm.scores = &v.scores;
    t->spm.normal = &t->normal;
    t->spm.unk = v.unk;
  } else {
    build_bpe(*t);
  }

  t->token_bytes.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int byte_value = v.types[i] == TokenType::Byte ? detail::spm_byte_token_value(v.tokens[i]) : -1;
    t->token_bytes[i] = decoded_bytes(v, i, byte_value);
  }
  if (v.kind == TokenizerKind::Llama) {
    // Byte tokens found by name in a vocabulary without token types decode to their byte too.
    for (int b = 0; b < 256; ++b) {
      const int32_t id = t->spm.byte_tokens[static_cast<size_t>(b)];
      if (id >= 0) t->token_bytes[static_cast<size_t>(id)] = std::string(1, static_cast<char>(b));
    }
  }

  for (size_t i = 0; i < n; ++i) {
    const TokenType type = v.types[i];
    if ((type == TokenType::Control || type == TokenType::UserDefined) && !v.tokens[i].empty())
      t->specials.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(t->specials.begin(), t->specials.end(), [&](int32_t a, int32_t b) {
    return v.tokens[static_cast<size_t>(a)].size() > v.tokens[static_cast<size_t>(b)].size();
  });

  t->end_of_generation.assign(n, 0);
  if (v.eos >= 0) t->end_of_generation[static_cast<size_t>(v.eos)] = 1;
  if (v.eot >= 0) t->end_of_generation[static_cast<size_t>(v.eot)] = 1;
  for (std::string_view text : kEndOfGenerationTexts) {
    const auto it = t->ids.find(text);
    if (it == t->ids.end()) continue;
    const TokenType type = v.types[static_cast<size_t>(it->second)];
    if (type != TokenType::Normal && type != TokenType::Byte) t->end_of_generation[static_cast<size_t>(it->second)] = 1;
  }
}

}  // namespace baton
