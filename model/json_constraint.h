// Constrained sampling for response_format json_object: before each token is sampled,
// every token whose bytes would take the text off a valid JSON object prefix gets -inf,
// control tokens too; once the object is whole only the end of generation is allowed.
// Sampling then proceeds as usual on what is left (same seed, same draws).
#pragma once

#include <cstdint>
#include <span>

#include "model/json_prefix.h"
#include "model/token_constraint.h"

namespace baton {

class Tokenizer;

class JsonObjectConstraint final : public TokenConstraint {
 public:
  explicit JsonObjectConstraint(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  void mask(std::span<float> logits, int64_t tokens_left) const override;
  void accept(int32_t id) override;
  bool complete() const override { return state_.complete(); }

 private:
  bool allowed(int32_t id, int64_t tokens_left) const;

  const Tokenizer& tokenizer_;
  JsonPrefix state_{true};
};

}  // namespace baton
