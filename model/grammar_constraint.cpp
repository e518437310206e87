#include "model/grammar_constraint.h"

#include <limits>

#include "model/tokenizer.h"

namespace baton {

GrammarConstraint::GrammarConstraint(const Tokenizer& tokenizer, std::shared_ptr<const Grammar> grammar)
    : tokenizer_(tokenizer), grammar_(std::move(grammar)), trie_(1), state_(*grammar_) {
  const Vocabulary& vocab = tokenizer.vocabulary();
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    const TokenType type = vocab.types[static_cast<size_t>(id)];
    if (type != TokenType::Normal && type != TokenType::Byte) continue;  // control, unknown, user-defined
    if (tokenizer.is_end_of_generation(id)) continue;
    uint32_t node = 0;
    for (unsigned char c : tokenizer.token_bytes(id)) {
      uint32_t next = 0;
      for (const auto& [byte, child] : trie_[node].children) {
        if (byte == c) next = child;
      }
      if (next == 0) {
        next = static_cast<uint32_t>(trie_.size());
        trie_[node].children.emplace_back(c, next);
        trie_.emplace_back();
      }
      node = next;
    }
    if (node != 0) trie_[node].tokens.push_back(id);
  }
}

void GrammarConstraint::walk(uint32_t node, const GrammarState& state, int64_t tokens_left,
                             std::vector<bool>& allowed) const {
  for (const auto& [byte, child] : trie_[node].children) {
    GrammarState next = state;
    if (!next.feed(byte)) continue;
    // Room to close afterwards: one token per byte of the shortest ending is always there
    // (every byte it uses has a token of its own in byte-level and byte-fallback vocabularies).
    if (!trie_[child].tokens.empty() && static_cast<int64_t>(next.shortest_ending_length()) <= tokens_left - 1) {
      for (int32_t id : trie_[child].tokens) allowed[static_cast<size_t>(id)] = true;
    }
    walk(child, next, tokens_left, allowed);
  }
}

void GrammarConstraint::mask(std::span<float> logits, int64_t tokens_left) const {
  std::vector<bool> allowed(logits.size(), false);
  walk(0, state_, tokens_left, allowed);
  if (state_.complete()) {
    for (size_t id = 0; id < logits.size(); ++id) {
      if (tokenizer_.is_end_of_generation(static_cast<int32_t>(id))) allowed[id] = true;
    }
  }
  bool any = false;
  for (size_t id = 0; id < logits.size(); ++id) {
    if (!allowed[id]) logits[id] = -std::numeric_limits<float>::infinity();
    else any = any || logits[id] != -std::numeric_limits<float>::infinity();
  }
  if (!any) logits[static_cast<size_t>(tokenizer_.eos())] = 0.0f;
}

void GrammarConstraint::accept(int32_t id) {
  if (tokenizer_.is_end_of_generation(id)) return;
  state_.feed(tokenizer_.token_bytes(id));
}

}  // namespace baton
