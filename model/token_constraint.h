// What constrained sampling asks of a grammar: before each token is sampled, the tokens
// that may not come next get -inf; after it, the sampled token moves the state on. The
// Generator holds one during a constrained reply (response_format, tool calls) where the
// logits are, and samples as usual from what is left.
#pragma once

#include <cstdint>
#include <span>

namespace baton {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets the logits of the tokens that may not come next to -inf. `tokens_left` counts
  // this token: a token is allowed only if the text can still be closed within what is
  // left, so that a reply cut by max_tokens is whole. If no token is allowed, the end of
  // generation stays allowed so that the reply ends instead of breaking the grammar.
  virtual void mask(std::span<float> logits, int64_t tokens_left) const = 0;
  // The token that was sampled.
  virtual void accept(int32_t id) = 0;
  // The text so far is a whole sentence of the grammar.
  virtual bool complete() const = 0;
};

}  // namespace baton
