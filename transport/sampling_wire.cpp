#include "transport/sampling_wire.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace baton {

void write_sampling(const SamplingRequest& r, rpc::Sampling::Builder out) {
  const SamplerParams& p = r.sampler;
  out.setTemperature(p.temperature);
  out.setTopK(p.top_k);
  out.setTopP(p.top_p);
  out.setMinP(p.min_p);
  out.setRepeatPenalty(p.repeat_penalty);
  out.setRepeatLastN(p.repeat_last_n);
  out.setPresencePenalty(p.presence_penalty);
  out.setFrequencyPenalty(p.frequency_penalty);
  out.setSeed(p.seed);
  out.setRngDraws(r.rng_draws);
  if (!p.logit_bias.empty()) {
    auto bias = out.initLogitBias(static_cast<unsigned>(p.logit_bias.size()));
    for (unsigned i = 0; i < p.logit_bias.size(); ++i) {
      bias[i].setId(p.logit_bias[i].first);
      bias[i].setBias(p.logit_bias[i].second);
    }
  }
  out.setLogprobs(r.logprobs.chosen);
  out.setTopLogprobs(r.logprobs.top);
  if (!r.draft_q.empty()) {
    auto drafts = out.initDraftQ(static_cast<unsigned>(r.draft_q.size()));
    for (unsigned i = 0; i < r.draft_q.size(); ++i) {
      const DraftDistribution& q = r.draft_q[i];
      auto ids = drafts[i].initIds(static_cast<unsigned>(q.ids.size()));
      auto probs = drafts[i].initProbs(static_cast<unsigned>(q.probs.size()));
      for (unsigned j = 0; j < q.ids.size(); ++j) ids.set(j, q.ids[j]);
      for (unsigned j = 0; j < q.probs.size(); ++j) probs.set(j, q.probs[j]);
    }
  }
}

SamplingRequest read_sampling(rpc::Sampling::Reader in, int vocab_size) {
  SamplingRequest r;
  SamplerParams& p = r.sampler;
  p.temperature = in.getTemperature();
  p.top_k = in.getTopK();
  p.top_p = in.getTopP();
  p.min_p = in.getMinP();
  p.repeat_penalty = in.getRepeatPenalty();
  p.repeat_last_n = in.getRepeatLastN();
  p.presence_penalty = in.getPresencePenalty();
  p.frequency_penalty = in.getFrequencyPenalty();
  p.seed = in.getSeed();
  r.rng_draws = in.getRngDraws();
  auto bias = in.getLogitBias();
  if (bias.size() > kMaxLogitBias) {
    throw std::invalid_argument(fmt::format("sampling: {} logit_bias entries, at most {}", bias.size(), kMaxLogitBias));
  }
  for (auto b : bias) p.logit_bias.emplace_back(b.getId(), b.getBias());
  r.logprobs.chosen = in.getLogprobs();
  r.logprobs.top = in.getTopLogprobs();
  auto drafts = in.getDraftQ();
  if (drafts.size() > kMaxDraftRows) {
    throw std::invalid_argument(fmt::format("sampling: {} draft distributions, at most {}", drafts.size(), kMaxDraftRows));
  }
  for (auto d : drafts) {
    auto ids = d.getIds();
    auto probs = d.getProbs();
    if (ids.size() > kMaxDraftSupport || probs.size() > kMaxDraftSupport) {
      throw std::invalid_argument(fmt::format("sampling: a draft distribution of {} ids and {} probabilities, at most {}",
                                              ids.size(), probs.size(), kMaxDraftSupport));
    }
    DraftDistribution q;
    for (int32_t id : ids) q.ids.push_back(id);
    for (float prob : probs) q.probs.push_back(prob);
    r.draft_q.push_back(std::move(q));
  }
  validate(r, vocab_size);
  return r;
}

void write_sampled(const SampledToken& t, rpc::SampledToken::Builder out) {
  out.setId(t.id);
  out.setLogprob(t.logprob ? *t.logprob : std::numeric_limits<float>::quiet_NaN());
  if (!t.top.empty()) {
    auto ids = out.initTopIds(static_cast<unsigned>(t.top.size()));
    auto lps = out.initTopLogprobs(static_cast<unsigned>(t.top.size()));
    for (unsigned i = 0; i < t.top.size(); ++i) {
      ids.set(i, t.top[i].id);
      lps.set(i, t.top[i].logprob);
    }
  }
}

SampledToken read_sampled(rpc::SampledToken::Reader in, int vocab_size) {
  auto in_vocab = [vocab_size](int32_t id) { return id >= 0 && id < vocab_size; };
  SampledToken t;
  t.id = in.getId();
  if (!in_vocab(t.id)) throw std::invalid_argument(fmt::format("sampled token id {} is outside [0, {})", t.id, vocab_size));
  if (!std::isnan(in.getLogprob())) t.logprob = in.getLogprob();
  auto ids = in.getTopIds();
  auto lps = in.getTopLogprobs();
  if (ids.size() > kMaxTopLogprobs || ids.size() != lps.size()) {
    throw std::invalid_argument(fmt::format("sampled token: {} alternatives with {} logprobs (at most {})", ids.size(),
                                            lps.size(), kMaxTopLogprobs));
  }
  for (unsigned i = 0; i < ids.size(); ++i) {
    if (!in_vocab(ids[i])) throw std::invalid_argument(fmt::format("alternative id {} is outside [0, {})", ids[i], vocab_size));
    t.top.push_back({ids[i], lps[i]});
  }
  return t;
}

}  // namespace baton
