#include "model/json_constraint.h"

#include <limits>

#include "model/tokenizer.h"

namespace baton {

bool JsonObjectConstraint::allowed(int32_t id, int64_t tokens_left) const {
  if (tokenizer_.is_end_of_generation(id)) return state_.complete();
  const TokenType type = tokenizer_.vocabulary().types[static_cast<size_t>(id)];
  if (type != TokenType::Normal && type != TokenType::Byte) return false;  // control, unknown, user-defined
  const std::string bytes = tokenizer_.token_bytes(id);
  if (bytes.empty()) return false;
  JsonPrefix next = state_;
  if (!next.feed(bytes)) return false;
  // Room to close afterwards: one token per byte of the shortest ending is always there
  // (every byte it uses has a token of its own).
  return static_cast<int64_t>(next.shortest_ending().size()) <= tokens_left - 1;
}

void JsonObjectConstraint::mask(std::span<float> logits, int64_t tokens_left) const {
  bool any = false;
  for (size_t id = 0; id < logits.size(); ++id) {
    if (allowed(static_cast<int32_t>(id), tokens_left)) {
      any = any || logits[id] != -std::numeric_limits<float>::infinity();
    } else {
      logits[id] = -std::numeric_limits<float>::infinity();
    }
  }
  if (!any) logits[static_cast<size_t>(tokenizer_.eos())] = 0.0f;
}

void JsonObjectConstraint::accept(int32_t id) {
  if (tokenizer_.is_end_of_generation(id)) return;
  state_.feed(tokenizer_.token_bytes(id));
}

}  // namespace baton
