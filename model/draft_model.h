// Drafts from a small model of the target's vocabulary, run in this process (the
// coordinator's `--draft MODEL`): k tokens one after another, each the draft model's
// argmax for a greedy request, else sampled from its own sampling distribution (the
// request's chain, truncated to the kMaxDraftSupport most likely tokens), which goes
// with the draft so that the verifying side can apply the speculative sampling rule.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/local_backend.h"
#include "model/speculative.h"

namespace baton {

class Model;

// Throws std::invalid_argument, saying what differs, unless the two models' tokenizers
// have the same tokens in the same order (a draft's ids must mean the target's).
void require_same_vocabulary(const Model& target, const Model& draft, const std::string& draft_name);

class ModelDrafter {
 public:
  // `context`: the positions its KV cache holds (the target's context: a draft beyond its
  // own training length only drafts worse). Runs on the calling thread.
  ModelDrafter(const Model& draft, int64_t context);

  // Up to k tokens continuing `context`; fewer (none) when the context is full. The
  // longest prefix shared with the previous call stays cached.
  Draft propose(std::span<const int32_t> context, int32_t k, const SamplingRequest& request);

 private:
  std::vector<float> logits_after(std::span<const int32_t> context);

  LocalBackend backend_;
  std::vector<int32_t> cached_;  // tokens whose K/V the draft model holds
};

}  // namespace baton
