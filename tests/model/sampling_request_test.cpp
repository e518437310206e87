// Sampling one step at a time where the logits are: a sampler rebuilt at every step from
// (seed, numbers drawn) continues the same generator as one sampler kept for the whole
// run; logit bias, frequency and presence penalties; log-probabilities.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "model/sampling_request.h"

namespace baton {
namespace {

std::vector<float> random_logits(std::mt19937& g, size_t n) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(static_cast<double>(g() % 20000) / 1000.0 - 10.0);
  return v;
}

SamplerParams chain(uint64_t seed) {
  SamplerParams p;  // the defaults of `baton run`: top-k, top-p, min-p, repeat penalty
  p.temperature = 0.8f;
  p.seed = seed;
  p.presence_penalty = 0.3f;
  p.frequency_penalty = 0.2f;
  p.logit_bias = {{3, 2.0f}, {7, -100.0f}};
  return p;
}

TEST(SamplingRequest, RebuiltEveryStepEqualsOneSamplerForTheWholeRun) {
  std::mt19937 g(11);
  std::vector<std::vector<float>> steps;
  for (int i = 0; i < 200; ++i) steps.push_back(random_logits(g, 64));
  for (uint64_t seed : {1ull, 42ull, 0xdeadbeefull}) {
    Sampler kept(chain(seed));
    std::vector<int32_t> one, rebuilt;
    SamplingRequest request{chain(seed), {}, 0};
    for (const auto& logits : steps) {
      std::vector<float> a = logits, b = logits;
      one.push_back(kept.sample(a, one));
      const SampleResult r = sample_next(b, rebuilt, request);
      rebuilt.push_back(r.token.id);
      request.rng_draws = r.rng_draws;
      ASSERT_EQ(rebuilt.back(), one.back()) << "seed " << seed << " step " << one.size();
    }
    EXPECT_EQ(request.rng_draws, kept.draws());
    EXPECT_EQ(kept.draws(), steps.size()) << "one number per sampled token";
  }
}

TEST(SamplingRequest, GreedyDrawsNothing) {
  SamplingRequest request{chain(5), {}, 17};
  request.sampler.temperature = 0;
  std::vector<float> logits = {0.5f, 2.0f, 1.0f};
  const SampleResult r = sample_next(logits, {}, request);
  EXPECT_EQ(r.token.id, 1);
  EXPECT_EQ(r.rng_draws, 17u);
}

TEST(SamplingRequest, LogitBiasAndFrequencyPresencePenalties) {
  SamplerParams p;
  p.temperature = 0;
  p.repeat_penalty = 1.0f;
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  p.logit_bias = {{0, 1.0f}};
  Sampler s(p);
  std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.0f};
  const std::vector<int32_t> history = {1, 1, 1, 2, 9999, -1};  // out-of-vocabulary ids are ignored
  s.sample(logits, history);
  EXPECT_FLOAT_EQ(logits[0], 2.0f);                      // bias only
  EXPECT_FLOAT_EQ(logits[1], 3.0f - 3 * 0.5f - 0.25f);  // seen three times
  EXPECT_FLOAT_EQ(logits[2], 2.0f - 0.5f - 0.25f);      // once
  EXPECT_FLOAT_EQ(logits[3], 0.0f);
  // A bias of -100 keeps a token out even when it is the most likely.
  SamplingRequest banned{chain(3), {}, 0};
  banned.sampler.temperature = 0;
  banned.sampler.logit_bias = {{1, -100.0f}};
  std::vector<float> l2 = {1.0f, 3.0f, 2.0f};
  EXPECT_EQ(sample_next(l2, {}, banned).token.id, 2);
}

TEST(SamplingRequest, LogprobsOnlyWhenAskedAndNormalised) {
  std::mt19937 g(2);
  const std::vector<float> logits = random_logits(g, 100);
  SamplingRequest request{chain(9), {}, 0};
  std::vector<float> a = logits;
  const SampleResult plain = sample_next(a, {}, request);
  EXPECT_FALSE(plain.token.logprob);
  EXPECT_TRUE(plain.token.top.empty());

  request.logprobs = {true, 5};
  std::vector<float> b = logits;
  const SampleResult r = sample_next(b, {}, request);
  EXPECT_EQ(r.token.id, plain.token.id) << "asking for logprobs does not change the choice";
  ASSERT_TRUE(r.token.logprob);
  ASSERT_EQ(r.token.top.size(), 5u);
  // `b` holds the adjusted logits: the probabilities over it sum to one.
  double total = 0;
  for (size_t i = 0; i < b.size(); ++i) total += std::exp(log_probability(b, static_cast<int32_t>(i)));
  EXPECT_NEAR(total, 1.0, 1e-5);
  EXPECT_FLOAT_EQ(*r.token.logprob, log_probability(b, r.token.id));
  for (size_t i = 0; i + 1 < r.token.top.size(); ++i) EXPECT_GE(r.token.top[i].logprob, r.token.top[i + 1].logprob);
  EXPECT_EQ(r.token.top[0].id, argmax(b));
  EXPECT_EQ(r.token.logprob <= 0.0f, true);
}

TEST(SamplingRequest, ValidationNamesTheField) {
  SamplingRequest r;
  r.logprobs.top = 21;
  try {
    validate(r, 100);
    ADD_FAILURE() << "top_logprobs 21 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("top_logprobs"), std::string::npos);
  }
  r = {};
  r.sampler.logit_bias = {{100, 1.0f}};
  EXPECT_THROW(validate(r, 100), std::invalid_argument);
  r.sampler.logit_bias = {{-1, 1.0f}};
  EXPECT_THROW(validate(r, 100), std::invalid_argument);
  r.sampler.logit_bias = {{5, std::nanf("")}};
  EXPECT_THROW(validate(r, 100), std::invalid_argument);
  r = {};
  r.sampler.presence_penalty = 1000;
  EXPECT_THROW(validate(r, 100), std::invalid_argument);
}

}  // namespace
}  // namespace baton
