// Constrained sampling for response_format json_object: before each token is sampled,
// every token whose bytes would take the text off a valid JSON object prefix gets -inf,
// control tokens too; once the object is whole only the end of generation is allowed.
// Sampling then proceeds as usual on what is left (same seed, same draws).
#pragma once

#include <cstdint>
#include <span>

#include "model/json_prefix.h"

namespace baton {

class Tokenizer;

class JsonObjectConstraint {
 public:
  explicit JsonObjectConstraint(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  // Sets the logits of the tokens that may not come next to -inf. If none may (cannot
  // happen with byte-level tokens, but a vocabulary could lack them), the end of
  // generation stays allowed so that the reply ends instead of breaking the grammar.
  // `tokens_left` counts this token: a token is allowed only if the shortest ending after
  // it still fits in what is left, so that a reply cut by max_tokens closes its object.
  void mask(std::span<float> logits, int64_t tokens_left) const;
  // The token that was sampled.
  void accept(int32_t id);
  bool complete() const { return state_.complete(); }

 private:
  bool allowed(int32_t id, int64_t tokens_left) const;

  const Tokenizer& tokenizer_;
  JsonPrefix state_{true};
};

}  // namespace baton
