#include "model/sampling_request.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace baton {

void validate(const SamplingRequest& request, int vocab_size) {
  validate(request.sampler, vocab_size);
  if (request.logprobs.top > kMaxTopLogprobs) {
    throw std::invalid_argument(
        fmt::format("top_logprobs must be in [0, {}], got {}", kMaxTopLogprobs, request.logprobs.top));
  }
  if (request.draft_q.size() > kMaxDraftRows) {
    throw std::invalid_argument(fmt::format("{} draft distributions, at most {}", request.draft_q.size(), kMaxDraftRows));
  }
  for (size_t i = 0; i < request.draft_q.size(); ++i) {
    const DraftDistribution& q = request.draft_q[i];
    if (q.ids.empty() || q.ids.size() > kMaxDraftSupport || q.ids.size() != q.probs.size()) {
      throw std::invalid_argument(fmt::format("draft {}: a distribution of {} ids and {} probabilities (1..{})", i,
                                              q.ids.size(), q.probs.size(), kMaxDraftSupport));
    }
    double sum = 0;
    for (size_t j = 0; j < q.ids.size(); ++j) {
      if (q.ids[j] < 0 || q.ids[j] >= vocab_size) {
        throw std::invalid_argument(fmt::format("draft {}: token id {} is outside [0, {})", i, q.ids[j], vocab_size));
      }
      if (!(q.probs[j] >= 0.0f && q.probs[j] <= 1.0f)) {
        throw std::invalid_argument(fmt::format("draft {}: probability {} is not in [0, 1]", i, q.probs[j]));
      }
      sum += q.probs[j];
    }
    if (std::fabs(sum - 1.0) > 1e-3) throw std::invalid_argument(fmt::format("draft {}: probabilities sum to {}, not 1", i, sum));
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
