#include "model/sampling_request.h"

#include <fmt/format.h>

#include <stdexcept>

namespace baton {

void validate(const SamplingRequest& request, int vocab_size) {
  validate(request.sampler, vocab_size);
  if (request.logprobs.top > kMaxTopLogprobs) {
    throw std::invalid_argument(
        fmt::format("top_logprobs must be in [0, {}], got {}", kMaxTopLogprobs, request.logprobs.top));
  }
}

SampleResult sample_next(std::span<float> logits, std::span<const int32_t> history, const SamplingRequest& request) {
  Sampler sampler(request.sampler, request.rng_draws);
  SampleResult r;
  r.token.id = sampler.sample(logits, history);
  r.rng_draws = sampler.draws();
  // `logits` now holds the biased and penalised logits the choice was made from.
  if (request.logprobs.chosen) r.token.logprob = log_probability(logits, r.token.id);
  if (request.logprobs.top > 0) {
    for (const auto& [id, lp] : top_log_probabilities(logits, request.logprobs.top)) r.token.top.push_back({id, lp});
  }
  return r;
}

}  // namespace baton
