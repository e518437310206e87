// Constrained sampling by a Grammar (a JSON schema's, a tool call's): a token is allowed
// when its bytes keep the text a prefix of a sentence and the shortest ending after it
// still fits in the tokens left; control tokens never are, and the end of generation only
// once the text is a whole sentence. The vocabulary's byte strings are held in a trie, so
// a byte shared by many tokens' beginnings is matched once per step, not once per token.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "model/grammar.h"
#include "model/token_constraint.h"

namespace baton {

class Tokenizer;

class GrammarConstraint final : public TokenConstraint {
 public:
  GrammarConstraint(const Tokenizer& tokenizer, std::shared_ptr<const Grammar> grammar);
  void mask(std::span<float> logits, int64_t tokens_left) const override;
  void accept(int32_t id) override;
  bool complete() const override { return state_.complete(); }
  const GrammarState& state() const { return state_; }

 private:
  struct TrieNode {
    std::vector<std::pair<unsigned char, uint32_t>> children;  // byte -> node
    std::vector<int32_t> tokens;                               // tokens whose bytes end here
  };
  void walk(uint32_t node, const GrammarState& state, int64_t tokens_left, std::vector<bool>& allowed) const;

  const Tokenizer& tokenizer_;
  std::shared_ptr<const Grammar> grammar_;
  std::vector<TrieNode> trie_;
  GrammarState state_;
};

}  // namespace baton
