// measure_perplexity against a computation written here: each window fed one token at a
// time through the decode path (not the batched prefill measure_perplexity uses), the
// log-softmax taken in long double by this file, the standard error from the per-token
// values kept in a list. Plus the window arithmetic and the refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "model/model.h"
#include "model/perplexity.h"
#include "test_models.h"

namespace baton {
namespace {

// Negative log-likelihood of every scored token, computed without model/perplexity.
std::vector<long double> reference_nlls(const Model& m, const std::vector<int32_t>& tokens, int64_t context) {
  const HyperParams& hp = m.hparams();
  std::vector<long double> nlls;
  for (size_t start = 0; start + context + 1 <= tokens.size(); start += static_cast<size_t>(context)) {
    KVCache kv(DType::F32, LayerRange{0, hp.n_layers}, context, hp.kv_dim());
    std::vector<float> hidden(static_cast<size_t>(hp.dim)), logits(static_cast<size_t>(hp.vocab_size));
    for (int64_t i = 0; i < context; ++i) {
      const int32_t token = tokens[start + static_cast<size_t>(i)];
      m.transformer().embed(std::span<const int32_t>(&token, 1), hidden.data());
      m.transformer().forward_layers(0, hp.n_layers, hidden.data(), 1, i, kv, nullptr);
      m.transformer().head(hidden.data(), 1, logits.data(), nullptr);
      long double sum = 0;
      for (float l : logits) sum += std::exp(static_cast<long double>(l));
      const int32_t target = tokens[start + static_cast<size_t>(i) + 1];
      nlls.push_back(std::log(sum) - static_cast<long double>(logits[static_cast<size_t>(target)]));
    }
  }
  return nlls;
}

std::vector<int32_t> some_tokens(const Model& m, size_t n) {
  // Real text tokenised, repeated: a synthetic model's predictions are as good as random,
  // but the ids cover the vocabulary the way text does.
  std::vector<int32_t> out;
  const std::vector<int32_t> ids =
      m.tokenizer().encode("In the beginning God created the heaven and the earth. And the earth was without form, "
                           "and void; and darkness was upon the face of the deep.", true, false);
  while (out.size() < n) out.insert(out.end(), ids.begin(), ids.end());
  out.resize(n);
  return out;
}

TEST(Perplexity, MatchesTokenByTokenLogSoftmax) {
  const auto m = Model::open(test::synth_model_path("tiny", DType::F32));
  const std::vector<int32_t> tokens = some_tokens(*m, 3 * 24 + 1 + 10);  // 3 windows of 24 and a tail of 10
  PerplexityOptions o;
  o.context = 24;
  o.batch = 10;  // windows in three forward calls of 10, 10 and 4 rows
  o.kv_dtype = DType::F32;
  int64_t calls = 0;
  o.progress = [&](int64_t done, int64_t total, double ppl) {
    EXPECT_EQ(done, ++calls);
    EXPECT_EQ(total, 3);
    EXPECT_GT(ppl, 1.0);
  };
  const PerplexityResult r = measure_perplexity(m->transformer(), tokens, o, nullptr);

  const std::vector<long double> nlls = reference_nlls(*m, tokens, 24);
  ASSERT_EQ(nlls.size(), 72u);
  const long double mean = std::accumulate(nlls.begin(), nlls.end(), 0.0L) / nlls.size();
  long double var = 0;
  for (long double x : nlls) var += (x - mean) * (x - mean);
  var /= static_cast<long double>(nlls.size() - 1);
  const double stderr_mean = static_cast<double>(std::sqrt(var / nlls.size()));

  EXPECT_EQ(r.windows, 3);
  EXPECT_EQ(r.predicted, 72);
  EXPECT_EQ(calls, 3);
  // Batched prefill and one-token decode add in different orders: agreement to ~1e-5 nats.
  EXPECT_NEAR(r.mean_nll, static_cast<double>(mean), 2e-5);
  EXPECT_NEAR(r.perplexity, std::exp(static_cast<double>(mean)), 2e-5 * r.perplexity);
  EXPECT_NEAR(r.mean_nll_stderr, stderr_mean, 1e-3 * stderr_mean);
  EXPECT_NEAR(r.perplexity_stderr, r.perplexity * stderr_mean, 1e-3 * r.perplexity * stderr_mean);
  // A synthetic model with random weights is close to uniform over its vocabulary.
  EXPECT_GT(r.perplexity, 0.1 * m->hparams().vocab_size);

  // --max-windows: the first window alone, as the reference's first 24 tokens.
  o.max_windows = 1;
  o.progress = nullptr;
  const PerplexityResult first = measure_perplexity(m->transformer(), tokens, o, nullptr);
  EXPECT_EQ(first.windows, 1);
  EXPECT_EQ(first.predicted, 24);
  const long double first_mean = std::accumulate(nlls.begin(), nlls.begin() + 24, 0.0L) / 24;
  EXPECT_NEAR(first.mean_nll, static_cast<double>(first_mean), 2e-5);
}

TEST(Perplexity, WindowsAreNonOverlappingAndTheTailIsDropped) {
  EXPECT_EQ(perplexity_windows(257, 256), 1);
  EXPECT_EQ(perplexity_windows(256, 256), 0);
  EXPECT_EQ(perplexity_windows(34766, 256), 135) << "the shipped model's held-out stream";
  EXPECT_EQ(perplexity_windows(100, 0), 0);
  EXPECT_EQ(perplexity_windows(34766, 256, 10), 10);
  EXPECT_EQ(perplexity_windows(34766, 256, 1000), 135);
}

TEST(Perplexity, RefusesShortTextsAndOverlongContexts) {
  const auto m = Model::open(test::synth_model_path("tiny", DType::F32));
  const std::vector<int32_t> tokens = some_tokens(*m, 20);
  PerplexityOptions o;
  o.context = 20;
  try {
    measure_perplexity(m->transformer(), tokens, o, nullptr);
    FAIL() << "20 tokens cannot fill a window of 20 + 1";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("20 tokens"), std::string::npos) << e.what();
  }
  o.context = m->hparams().ctx_train + 1;
  EXPECT_THROW(measure_perplexity(m->transformer(), some_tokens(*m, 2000), o, nullptr), std::invalid_argument);
  o.context = 8;
  std::vector<int32_t> bad = some_tokens(*m, 20);
  bad[3] = m->hparams().vocab_size;
  EXPECT_THROW(measure_perplexity(m->transformer(), bad, o, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace baton
