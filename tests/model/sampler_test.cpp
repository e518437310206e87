// Sampler: greedy, reproducibility, filters (top-k, top-p, min-p), repeat penalty, and a
// chi-square test of temperature sampling against a double-precision softmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "model/sampler.h"

namespace baton {
namespace {

SamplerParams plain(float temperature, uint64_t seed = 1) {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.seed = seed;
  return p;
}

std::vector<float> random_logits(std::mt19937& g, size_t n) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(static_cast<double>(g() % 20000) / 1000.0 - 10.0);  // ties happen
  return v;
}

int32_t brute_argmax(const std::vector<float>& v) {
  int32_t best = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] > v[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  }
  return best;
}

TEST(Sampler, GreedyIsArgmaxLowestIdOnTies) {
  std::mt19937 g(3);
  Sampler s(plain(0.0f));
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> logits = random_logits(g, 1 + g() % 300);
    const int32_t expected = brute_argmax(logits);
    EXPECT_EQ(s.sample(logits, {}), expected);
  }
  const std::vector<float> ties = {1, 3, 3, 2};
  EXPECT_EQ(argmax(ties), 1);
  const std::vector<float> with_nan = {std::nanf(""), 1.0f, 0.5f};
  EXPECT_EQ(argmax(with_nan), 1);
}

TEST(Sampler, SeededRunsRepeatAndSeedsDiffer) {
  std::mt19937 g(5);
  const std::vector<float> base = random_logits(g, 50);
  auto run = [&](uint64_t seed) {
    SamplerParams p = plain(1.0f, seed);
    p.top_k = 20;
    p.top_p = 0.9f;
    p.min_p = 0.01f;
    p.repeat_penalty = 1.2f;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 300; ++i) {
      std::vector<float> logits = base;
      out.push_back(s.sample(logits, out));
    }
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, TopKOneIsGreedy) {
  std::mt19937 g(7);
  SamplerParams p = plain(1.5f);
  p.top_k = 1;
  Sampler s(p);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> logits = random_logits(g, 1 + g() % 500);
    const int32_t expected = brute_argmax(logits);
    EXPECT_EQ(s.sample(logits, {}), expected);
  }
}

TEST(Sampler, TemperatureFrequenciesMatchSoftmax) {
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
  const double temperature = 0.7;
  std::vector<double> expected(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += expected[i] = std::exp(logits[i] / temperature);
  for (double& e : expected) e /= sum;

  Sampler s(plain(static_cast<float>(temperature), 2024));
  const int n = 20000;
  std::vector<int> counts(logits.size());
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    ++counts[static_cast<size_t>(s.sample(l, {}))];
  }
  double chi2 = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const double e = expected[i] * n;
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  // 4 degrees of freedom: P(chi2 > 30) ~ 5e-6 for a correct sampler. Sampling at
  // temperature 1 instead of 0.7 gives a chi2 in the hundreds here.
  EXPECT_LT(chi2, 30.0) << "counts " << counts[0] << " " << counts[1] << " " << counts[2] << " " << counts[3] << " "
                        << counts[4];
}

// Logits whose softmax (temperature 1) is exactly the given probabilities.
std::vector<float> logits_for(const std::vector<double>& probs) {
  std::vector<float> out;
  for (double p : probs) out.push_back(static_cast<float>(std::log(p)));
  return out;
}

std::vector<int> histogram(SamplerParams p, const std::vector<float>& logits, int n) {
  Sampler s(p);
  std::vector<int> counts(logits.size());
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    ++counts[static_cast<size_t>(s.sample(l, {}))];
  }
  return counts;
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  const auto logits = logits_for({0.05, 0.5, 0.15, 0.3});  // sorted: 1 (0.5), 3 (0.3), 2 (0.15), 0 (0.05)
  SamplerParams p = plain(1.0f, 9);
  p.top_p = 0.75f;  // 0.5 < 0.75 <= 0.8: keep ids 1 and 3
  auto c = histogram(p, logits, 4000);
  EXPECT_EQ(c[0], 0);
  EXPECT_EQ(c[2], 0);
  EXPECT_NEAR(c[1] / 4000.0, 0.5 / 0.8, 0.04);
  p.top_p = 0.85f;  // 0.8 < 0.85 <= 0.95: ids 1, 3, 2
  c = histogram(p, logits, 4000);
  EXPECT_EQ(c[0], 0);
  EXPECT_GT(c[2], 0);
  p.top_p = 0.3f;  // the first token alone reaches it
  c = histogram(p, logits, 500);
  EXPECT_EQ(c[1], 500);
}

TEST(Sampler, TopPOverALargeFlatVocabulary) {
  // 5000 equal logits: top-p 0.5 keeps 2500 of them (the lowest ids, by the tie rule), so
  // the sorted prefix must grow past its first guess.
  std::vector<float> logits(5000, 0.0f);
  SamplerParams p = plain(1.0f, 11);
  p.top_p = 0.5f;
  Sampler s(p);
  int32_t highest = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<float> l = logits;
    highest = std::max(highest, s.sample(l, {}));
  }
  EXPECT_LT(highest, 2501);
  EXPECT_GT(highest, 2000);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  const auto logits = logits_for({0.5, 0.3, 0.15, 0.05});
  SamplerParams p = plain(1.0f, 13);
  p.min_p = 0.2f;  // threshold 0.1: drops id 3 only
  auto c = histogram(p, logits, 4000);
  EXPECT_EQ(c[3], 0);
  EXPECT_GT(c[2], 0);
  p.min_p = 0.61f;  // threshold 0.305: only id 0 is left
  c = histogram(p, logits, 500);
  EXPECT_EQ(c[0], 500);
}

// Greedy means greedy: with the default parameters and temperature 0 the pick is the
// argmax even when it was just generated (no repeat penalty unless asked, as llama.cpp).
TEST(Sampler, DefaultGreedyIsArgmaxOverRepeatedTokens) {
  SamplerParams p;
  EXPECT_EQ(p.repeat_penalty, 1.0f);
  p.temperature = 0.0f;
  Sampler s(p);
  std::vector<float> logits = {2.0f, 1.95f, -1.0f};
  const std::vector<int32_t> history = {0, 0, 0, 2};
  EXPECT_EQ(s.sample(logits, history), 0);
  EXPECT_FLOAT_EQ(logits[0], 2.0f);
}

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegative) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.1f;
  p.repeat_last_n = 2;
  Sampler s(p);
  std::vector<float> logits = {2.0f, 1.9f, -1.0f, -1.2f};
  const std::vector<int32_t> history = {0, 0, 2};  // window [0, 2]: tokens 0 and 2, once each
  EXPECT_EQ(s.sample(logits, history), 1);         // 2.0 / 1.1 = 1.818 < 1.9
  EXPECT_FLOAT_EQ(logits[0], 2.0f / 1.1f);
  EXPECT_FLOAT_EQ(logits[2], -1.0f * 1.1f);
  EXPECT_FLOAT_EQ(logits[1], 1.9f);
  EXPECT_FLOAT_EQ(logits[3], -1.2f);
  // Outside the window: not penalised.
  std::vector<float> again = {2.0f, 1.9f};
  const std::vector<int32_t> old = {0, 1, 1};
  p.repeat_last_n = 1;
  Sampler windowed(p);
  std::vector<float> l2 = again;
  EXPECT_EQ(windowed.sample(l2, old), 0);
  EXPECT_FLOAT_EQ(l2[1], 1.9f / 1.1f);
  // Negative logits: -1.0 * 1.5 = -1.5 falls below -1.2.
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 64;
  Sampler strong(p);
  std::vector<float> neg = {-1.0f, -1.2f};
  EXPECT_EQ(strong.sample(neg, std::vector<int32_t>{0}), 1);
}

TEST(Sampler, PartialLogitsWithMinusInfinity) {
  std::vector<float> logits(100, -std::numeric_limits<float>::infinity());
  logits[3] = 0.0f;
  logits[7] = 0.5f;
  SamplerParams p = plain(1.0f, 17);
  p.top_k = 40;
  Sampler s(p);
  for (int i = 0; i < 200; ++i) {
    std::vector<float> l = logits;
    const int32_t id = s.sample(l, {});
    EXPECT_TRUE(id == 3 || id == 7) << id;
  }
}

TEST(Sampler, TopKOnALargeVocabularyStaysInTheTopK) {
  std::mt19937 g(19);
  const std::vector<float> logits = random_logits(g, 150000);
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  SamplerParams p = plain(2.0f, 23);
  p.top_k = 40;
  Sampler s(p);
  for (int i = 0; i < 20; ++i) {
    std::vector<float> l = logits;
    EXPECT_GE(logits[static_cast<size_t>(s.sample(l, {}))], sorted[39]);
  }
}

void expect_invalid(const SamplerParams& p, const std::string& field) {
  try {
    validate(p);
    ADD_FAILURE() << "expected an error naming " << field;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
  EXPECT_THROW(Sampler{p}, std::invalid_argument);
}

TEST(Sampler, ValidationNamesTheField) {
  EXPECT_NO_THROW(validate(SamplerParams{}));
  SamplerParams p;
  p.top_p = 1.5f;
  expect_invalid(p, "top_p must be in (0, 1], got 1.5");
  p = {};
  p.top_p = 0.0f;
  expect_invalid(p, "top_p");
  p = {};
  p.min_p = -0.1f;
  expect_invalid(p, "min_p");
  p = {};
  p.repeat_penalty = 0.0f;
  expect_invalid(p, "repeat_penalty");
  p = {};
  p.temperature = std::nanf("");
  expect_invalid(p, "temperature");
  p = {};
  p.repeat_last_n = -2;
  expect_invalid(p, "repeat_last_n");
}

}  // namespace
}  // namespace baton
