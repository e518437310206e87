// synth_vocabulary: deterministic vocabularies for synthesised models.
//
// Both kinds grow words as "chains" of pieces, each piece one character longer than the
// one before: ▁t, ▁th, ▁the (llama) or merges (Ġ,t) (Ġt,h) (Ġth,e) (gpt2). A chain starts
// at a marker (the space symbol, or a capital letter at the start of a word) that only
// ever stands at the start of a word, so chains of different words never compete:
//  - llama (SentencePiece): the first symbol of a word plus the next is always a prefix
//    of the word, hence a token, so merging can only stop once the word is whole.
//  - gpt2 (ranked merges): the merge at the start of a word always exists and, since all
//    marker chains rank before all other merges, always wins; the word ends whole.
// Order, within a budget: (A) space-marked chains of the words and, for the most common
// ones, of their capitalised forms; (B) capitalised words without a space (sentence
// starts after a newline) and the contractions 's 't ...; (C) lower-case words without a space (sub-word pieces for other
// text); (D) padding: all lower-case letter strings by length, with and without the space.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <unordered_set>

#include "model/synth_vocabulary_words.h"
#include "model/tokenizer.h"
#include "model/tokenizer_impl.h"

namespace baton {

namespace {

constexpr int32_t kMaxSynthVocabulary = 1 << 20;
constexpr size_t kCapitalisedWords = 300;  // how many words also get capitalised chains

struct Piece {
  std::string left, right;  // the merge; left + right is the new token
};

class PieceList {
 public:
  explicit PieceList(std::unordered_set<std::string> existing) : have_(std::move(existing)) {}

  void set_limit(size_t limit) { limit_ = limit; }
  size_t size() const { return pieces_.size(); }
  bool full() const { return pieces_.size() >= limit_; }
  const std::vector<Piece>& pieces() const { return pieces_; }

  // Adds the chain of `word` starting at `marker` (or at its first letter when the
  // marker is empty). Stops when the budget is spent, so no piece lacks its left part.
  void add_chain(std::string_view marker, std::string_view word) {
    std::string prefix(marker);
    size_t i = 0;
    if (prefix.empty()) prefix = std::string(1, word[i++]);
    for (; i < word.size(); ++i) {
      if (!add(prefix, std::string(1, word[i]))) return;
      prefix += word[i];
    }
  }

 private:
  bool add(const std::string& left, const std::string& right) {
    std::string joined = left + right;
    if (have_.contains(joined)) return true;
    if (full()) return false;
    have_.insert(std::move(joined));
    pieces_.push_back({left, right});
    return true;
  }

  std::unordered_set<std::string> have_;
  std::vector<Piece> pieces_;
  size_t limit_ = 0;
};

std::string capitalised(std::string_view word) {
  std::string s(word);
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// Pieces (A)..(D) above, at most `budget`, with `space` as the word-start marker.
std::vector<Piece> plan_pieces(std::string_view space, size_t budget, std::unordered_set<std::string> existing) {
  const auto words = synth_english_words();
  PieceList list(std::move(existing));
  list.set_limit(budget * 6 / 10);
  for (size_t i = 0; i < words.size() && !list.full(); ++i) {
    list.add_chain(space, words[i]);
    if (i < kCapitalisedWords) list.add_chain(space, capitalised(words[i]));
  }
  list.set_limit(std::max(list.size(), budget * 3 / 4));
  for (std::string_view c : {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}) list.add_chain("", c);
  for (size_t i = 0; i < kCapitalisedWords && i < words.size() && !list.full(); ++i) list.add_chain("", capitalised(words[i]));
  list.set_limit(budget);
  for (size_t i = 0; i < words.size() && !list.full(); ++i) {
    if (words[i].size() > 1) list.add_chain("", words[i]);
  }
  // Padding: every string over a..z, shortest first, spaced and bare; each one's chain
  // prefix came at the previous length, so only its last step is new.
  std::vector<std::string> level{""};
  while (!list.full()) {
    std::vector<std::string> longer;
    longer.reserve(level.size() * 26);
    for (const std::string& s : level) {
      for (char c = 'a'; c <= 'z' && !list.full(); ++c) {
        const std::string t = s + c;
        list.add_chain(space, t);
        if (t.size() > 1) list.add_chain("", t);
        longer.push_back(t);
      }
    }
    level.swap(longer);
  }
  return list.pieces();
}

Vocabulary synth_llama(int32_t n) {
  Vocabulary v;
  v.kind = TokenizerKind::Llama;
  auto add = [&](std::string text, TokenType type, float score) {
    v.tokens.push_back(std::move(text));
    v.types.push_back(type);
    v.scores.push_back(score);
  };
  add("<unk>", TokenType::Unknown, 0);
  add("<s>", TokenType::Control, 0);
  add("</s>", TokenType::Control, 0);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), TokenType::Byte, 0);
  add("<|im_start|>", TokenType::Control, 0);
  const auto im_end = static_cast<int32_t>(v.tokens.size());
  add("<|im_end|>", TokenType::Control, 0);
  // Single characters: the space mark and printable ASCII. Their scores do not matter
  // (merging only looks at the scores of longer pieces).
  add("\xE2\x96\x81", TokenType::Normal, 0);
  for (char c = '!'; c <= '~'; ++c) add(std::string(1, c), TokenType::Normal, 0);
  const size_t fixed = v.tokens.size();
  if (static_cast<size_t>(n) < fixed) throw std::invalid_argument(fmt::format("synth_vocabulary: llama vocabularies need at least {} tokens, got {}", fixed, n));
  const std::unordered_set<std::string> existing(v.tokens.begin(), v.tokens.end());
  const std::vector<Piece> pieces = plan_pieces("\xE2\x96\x81", static_cast<size_t>(n) - fixed, existing);
  for (size_t k = 0; k < pieces.size(); ++k) add(pieces[k].left + pieces[k].right, TokenType::Normal, -static_cast<float>(k + 1));
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  v.eot = im_end;  // the synthesised models use chatml
  v.add_bos = true;
  v.add_space_prefix = true;
  return v;
}

Vocabulary synth_gpt2(int32_t n) {
  Vocabulary v;
  v.kind = TokenizerKind::Gpt2;
  v.pre = "llama-bpe";
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(detail::bytes_to_token_text(std::string(1, static_cast<char>(b))));
    v.types.push_back(TokenType::Normal);
  }
  const std::vector<std::string> specials = {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
                                             "<|end_header_id|>", "<|im_start|>", "<|im_end|>"};
  const size_t fixed = 256 + specials.size();
  if (static_cast<size_t>(n) < fixed) throw std::invalid_argument(fmt::format("synth_vocabulary: gpt2 vocabularies need at least {} tokens, got {}", fixed, n));
  const std::unordered_set<std::string> existing(v.tokens.begin(), v.tokens.end());
  const std::string space = detail::bytes_to_token_text(" ");  // "Ġ"
  for (const Piece& p : plan_pieces(space, static_cast<size_t>(n) - fixed, existing)) {
    v.merges.push_back(p.left + " " + p.right);
    v.tokens.push_back(p.left + p.right);
    v.types.push_back(TokenType::Normal);
  }
  const auto first_special = static_cast<int32_t>(v.tokens.size());
  for (const std::string& s : specials) {
    v.tokens.push_back(s);
    v.types.push_back(TokenType::Control);
  }
  v.bos = first_special;      // <|begin_of_text|>
  v.eos = first_special + 1;  // <|end_of_text|>
  v.eot = first_special + 6;  // <|im_end|>: the synthesised models use chatml
  v.add_bos = true;
  v.add_space_prefix = false;
  return v;
}

}  // namespace

Vocabulary synth_vocabulary(TokenizerKind kind, int32_t vocab_size) {
  if (vocab_size > kMaxSynthVocabulary)
    throw std::invalid_argument(
        fmt::format("synth_vocabulary: at most {} tokens, got {}", kMaxSynthVocabulary, vocab_size));
  Vocabulary v = kind == TokenizerKind::Llama ? synth_llama(vocab_size) : synth_gpt2(vocab_size);
  if (static_cast<int32_t>(v.tokens.size()) != vocab_size)
    throw std::logic_error(fmt::format("synth_vocabulary built {} tokens instead of {}", v.tokens.size(), vocab_size));
  return v;
}

}  // namespace baton
