// What a generation asks of the sampler at each step, wherever the logits are (this
// process, or the last stage of a pipeline), and what comes back: the chosen token and,
// only when asked, log-probabilities.
//
// Log-probabilities are those of the model's distribution after logit bias and
// penalties, before temperature and truncation (what OpenAI's `logprobs` reports).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "model/sampler.h"

namespace baton {

// At most this many alternatives per token (OpenAI's top_logprobs limit).
inline constexpr uint32_t kMaxTopLogprobs = 20;

struct LogprobsRequest {
  bool chosen = false;  // the sampled token's log-probability
  uint32_t top = 0;     // the `top` most likely alternatives (0..kMaxTopLogprobs)
  bool any() const { return chosen || top > 0; }
};

// At most this many tokens in a draft token's proposal distribution (what a frame carries
// per draft: a draft model's distribution is truncated to its most likely tokens).
inline constexpr size_t kMaxDraftSupport = 64;
// At most this many drafts per step (SpeculationParams.max_draft's bound).
inline constexpr size_t kMaxDraftRows = 32;

// The distribution q a draft token was sampled from (sparse: ids and probabilities
// summing to 1), for the speculative sampling rule on the verifying side.
struct DraftDistribution {
  std::vector<int32_t> ids;
  std::vector<float> probs;
};

struct SamplingRequest {
  SamplerParams sampler;     // chain, penalties, bias and seed
  LogprobsRequest logprobs;  // what to report beside the token
  uint64_t rng_draws = 0;    // numbers the seeded generator has drawn before this step
  // A verification step whose drafts were sampled from a draft model: draft i's q. Empty:
  // the drafts are point masses (prompt lookup, or a greedy draft).
  std::vector<DraftDistribution> draft_q;
};

struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0;
};

struct SampledToken {
  int32_t id = 0;
  std::optional<float> logprob;   // when asked
  std::vector<TokenLogprob> top;  // when asked, most likely first
};

// One step's answer: the token and where the generator stands after it.
struct SampleResult {
  SampledToken token;
  uint64_t rng_draws = 0;
};

// Throws std::invalid_argument naming the field.
void validate(const SamplingRequest& request, int vocab_size);

// Samples the next token from one row of logits (modified: bias and penalties applied),
// continuing the generator at request.rng_draws. `history`: every token of the sequence
// so far, the penalties' window.
SampleResult sample_next(std::span<float> logits, std::span<const int32_t> history, const SamplingRequest& request);

}  // namespace baton
