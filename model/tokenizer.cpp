// Tokenizer: special-token partitioning, then SentencePiece-style BPE (llama) or
// pre-tokenised byte-level BPE (gpt2); decoding back to bytes.
#include "model/tokenizer.h"

#include <fmt/format.h>

#include <stdexcept>

#include "model/tokenizer_impl.h"

namespace baton {

namespace {

// A stretch of the input: raw text to tokenise, or an already-matched special token.
struct Fragment {
  std::string_view text;
  int32_t token = -1;
};

// Splits the text at verbatim occurrences of special tokens, longest special first, as
// llama.cpp's tokenizer_st_partition. Control tokens only count when parse_special;
// user-defined tokens always do (SentencePiece matches them in any text).
std::vector<Fragment> partition(std::string_view text, const TokenizerTables& t, bool parse_special) {
  std::vector<Fragment> fragments{{text, -1}};
  if (text.empty()) return fragments;
  std::vector<Fragment> next;
  for (const int32_t id : t.specials) {
    const TokenType type = t.vocab.types[static_cast<size_t>(id)];
    if (type == TokenType::Control && !parse_special) continue;
    const std::string& special = t.vocab.tokens[static_cast<size_t>(id)];
    if (text.find(special) == std::string_view::npos) continue;  // cheap filter for big special sets
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      std::string_view rest = f.text;
      for (size_t at; (at = rest.find(special)) != std::string_view::npos;) {
        if (at > 0) next.push_back({rest.substr(0, at), -1});
        next.push_back({{}, id});
        rest.remove_prefix(at + special.size());
      }
      if (!rest.empty()) next.push_back({rest, -1});
    }
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace

Tokenizer::Tokenizer(Vocabulary vocab) : impl_(std::make_unique<Impl>()) { build_tokenizer(std::move(vocab), *impl_); }
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  return encode(std::vector<TextPiece>{{text, parse_special}}, add_bos);
}

std::vector<int32_t> Tokenizer::encode(const std::vector<TextPiece>& pieces, bool add_bos) const {
  const Impl& t = *impl_;
  // Raw text runs on across pieces until a special token interrupts it.
  struct Run {
    std::string text;
    int32_t token = -1;
  };
  std::vector<Run> runs;
  size_t bytes = 0;
  for (const TextPiece& piece : pieces) {
    bytes += piece.text.size();
    for (const Fragment& f : partition(piece.text, t, piece.parse_special)) {
      if (f.token >= 0) runs.push_back({{}, f.token});
      else if (f.text.empty()) continue;
      else if (!runs.empty() && runs.back().token < 0) runs.back().text += f.text;
      else runs.push_back({std::string(f.text), -1});
    }
  }
  std::vector<int32_t> out;
  out.reserve(bytes / 3 + 2);
  if (add_bos && t.vocab.bos >= 0) out.push_back(t.vocab.bos);
  // SentencePiece prefixes a space to the text; llama.cpp also does so after every special
  // token, since each raw fragment is tokenised as if it were a text of its own.
  bool after_special = true;
  for (const Run& r : runs) {
    if (r.token >= 0) {
      out.push_back(r.token);
      after_special = true;
      continue;
    }
    if (t.vocab.kind == TokenizerKind::Llama) {
      std::string raw;
      if (t.vocab.add_space_prefix && after_special) raw = " ";
      raw.append(r.text);
      detail::spm_encode(detail::spm_escape_spaces(raw), t.spm, out);
    } else {
      for (std::string_view p : pre_tokenize(r.text, t.pre)) detail::bpe_encode_piece(p, t.bpe, out);
    }
    after_special = false;
  }
  return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range(fmt::format("token id {} is outside the vocabulary of {} tokens", id, vocab_size()));
  return impl_->token_bytes[static_cast<size_t>(id)];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  const Impl& t = *impl_;
  std::string out;
  // The space SentencePiece put in front of the text is not part of it: drop it from the
  // first piece of text (leading control tokens such as BOS do not count).
  bool strip_space = t.vocab.kind == TokenizerKind::Llama && t.vocab.add_space_prefix;
  for (const int32_t id : ids) {
    const std::string piece = token_bytes(id);
    if (t.vocab.types[static_cast<size_t>(id)] == TokenType::Control) continue;
    if (strip_space && !piece.empty() && piece[0] == ' ') out.append(piece, 1);
    else out += piece;
    strip_space = false;
  }
  return out;
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->vocab.tokens.size()); }
int32_t Tokenizer::bos() const { return impl_->vocab.bos; }
int32_t Tokenizer::eos() const { return impl_->vocab.eos; }
bool Tokenizer::add_bos() const { return impl_->vocab.add_bos; }

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return id >= 0 && id < vocab_size() && impl_->end_of_generation[static_cast<size_t>(id)] != 0;
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  const auto it = impl_->ids.find(text);
  if (it == impl_->ids.end()) return std::nullopt;
  return it->second;
}

const Vocabulary& Tokenizer::vocabulary() const { return impl_->vocab; }

}  // namespace baton
