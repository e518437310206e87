// Speculative decoding with a draft model: the speculative sampling rule for drafts
// sampled from a distribution q (the emitted token is distributed as the target's p,
// checked by chi-square on a small vocabulary with fixed seeds), the draft model's
// proposals, and the generation loop with the shipped model drafting for itself in
// another quantisation (greedy: the plain text).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include <unistd.h>

#include "model/draft_model.h"
#include "model/generation.h"
#include "model/local_backend.h"
#include "model/model.h"
#include "model/speculative.h"
#include "model/synth.h"
#include "tensor/thread_pool.h"

namespace baton {
namespace {

using Ids = std::vector<int32_t>;

std::string shipped(const char* dtype) {
  return (std::filesystem::path(BATON_SOURCE_DIR) / "models" / (std::string("baton-kjv-5m.") + dtype + ".gguf")).string();
}

SamplingRequest plain_sampling() {
  SamplingRequest r;
  r.sampler.temperature = 1.0f;
  r.sampler.top_k = 0, r.sampler.top_p = 1.0f, r.sampler.min_p = 0;
  return r;
}

// Pearson's statistic of `counts` against the law `p` (every p > 0).
double chi_square(const std::vector<int>& counts, const std::vector<double>& p, int n) {
  double chi = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double expected = n * p[i];
    chi += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  return chi;
}

// The statistic is chi-square with df degrees of freedom under the right law (mean df,
// variance 2 df): ten standard deviations above the mean is beyond any sane false alarm.
double chi_bound(size_t df) { return static_cast<double>(df) + 10.0 * std::sqrt(2.0 * static_cast<double>(df)); }

// A draft x ~ q verified against p: the emitted token follows p, whatever q is: q above p
// (rejected often, so the residual must put the mass back), q below p, and q without
// some of p's tokens at all (only the residual can emit them).
TEST(DraftRule, TheEmittedTokenFollowsTheTargetDistribution) {
  const size_t vocab = 6;
  const std::vector<double> p{0.05, 0.30, 0.20, 0.25, 0.15, 0.05};
  const std::vector<double> q{0.40, 0.10, 0.00, 0.35, 0.15, 0.00};
  const std::vector<double> p_next{0.2, 0.1, 0.3, 0.1, 0.2, 0.1};  // the row after the draft
  std::vector<float> logits(2 * vocab);
  for (size_t i = 0; i < vocab; ++i) {
    logits[i] = static_cast<float>(std::log(p[i]));
    logits[vocab + i] = static_cast<float>(std::log(p_next[i]));
  }
  DraftDistribution dq;
  for (size_t i = 0; i < vocab; ++i) {
    if (q[i] > 0) dq.ids.push_back(static_cast<int32_t>(i)), dq.probs.push_back(static_cast<float>(q[i]));
  }
  std::mt19937_64 drafts(7);
  std::discrete_distribution<int32_t> draw_q(q.begin(), q.end());
  const int n = 60000;
  std::vector<int> first(vocab, 0), bonus(vocab, 0);
  int accepted = 0;
  SamplingRequest req = plain_sampling();
  req.draft_q = {dq};
  for (int i = 0; i < n; ++i) {
    const int32_t x = draw_q(drafts);
    req.sampler.seed = 5000 + static_cast<uint64_t>(i);
    auto copy = logits;
    const VerifyResult r = verify_rows(copy, vocab, Ids{0, x}, 2, req);
    ASSERT_FALSE(r.tokens.empty());
    ++first[static_cast<size_t>(r.tokens[0].id)];
    if (r.accepted() == 1) {
      ASSERT_EQ(r.tokens[0].id, x);
      ASSERT_EQ(r.tokens.size(), 2u);
      ++bonus[static_cast<size_t>(r.tokens[1].id)];
      ++accepted;
    }
  }
  const double bound = chi_bound(vocab - 1);
  EXPECT_LT(chi_square(first, p, n), bound);
  EXPECT_LT(chi_square(bonus, p_next, accepted), bound);
  // Acceptance is sum(min(p, q)), 0.55 here: the rule accepts no more and no less.
  double overlap = 0;
  for (size_t i = 0; i < vocab; ++i) overlap += std::min(p[i], q[i]);
  EXPECT_NEAR(accepted, n * overlap, 6 * std::sqrt(n * overlap * (1 - overlap)));
  // The test can tell: emitting the draft itself (law q) would be far beyond the bound.
  std::vector<double> q_floor = q;
  for (double& v : q_floor) v = std::max(v, 1e-3);
  double wrong = 0;  // the statistic's expected value if the tokens followed q
  for (size_t i = 0; i < vocab; ++i) wrong += n * (q_floor[i] - p[i]) * (q_floor[i] - p[i]) / p[i];
  EXPECT_GT(wrong, 100 * bound);
}

TEST(DraftRule, GreedyIgnoresTheDraftDistribution) {
  const size_t vocab = 4;
  std::vector<float> logits{0, 3, 0, 0, /* row 1 */ 0, 0, 0, 3};
  SamplingRequest req;
  req.sampler.temperature = 0;
  req.draft_q = {{{1, 2}, {0.5f, 0.5f}}};
  const VerifyResult r = verify_rows(logits, vocab, Ids{0, 1}, 2, req);
  ASSERT_EQ(r.tokens.size(), 2u);
  EXPECT_EQ(r.tokens[0].id, 1);
  EXPECT_EQ(r.tokens[1].id, 3);
}

TEST(DraftRule, RefusesDistributionsThatDoNotFitTheDrafts) {
  const size_t vocab = 4;
  std::vector<float> logits(3 * vocab, 0.0f);
  SamplingRequest req = plain_sampling();
  req.draft_q = {{{1}, {1.0f}}};  // one distribution for two drafts
  EXPECT_THROW(verify_rows(logits, vocab, Ids{0, 1, 2}, 3, req), std::invalid_argument);
  req.draft_q = {{{2}, {1.0f}}};  // the draft (1) has no probability in its own q
  std::vector<float> two(2 * vocab, 0.0f);
  EXPECT_THROW(verify_rows(two, vocab, Ids{0, 1}, 2, req), std::invalid_argument);
  // The wire's checks: ids in the vocabulary, probabilities summing to 1, bounded size.
  req.draft_q = {{{9}, {1.0f}}};
  EXPECT_THROW(validate(req, 4), std::invalid_argument);
  req.draft_q = {{{1, 2}, {0.5f, 0.2f}}};
  EXPECT_THROW(validate(req, 4), std::invalid_argument);
  DraftDistribution wide;
  for (int32_t i = 0; i < static_cast<int32_t>(kMaxDraftSupport) + 1; ++i) {
    wide.ids.push_back(i), wide.probs.push_back(1.0f / static_cast<float>(kMaxDraftSupport + 1));
  }
  req.draft_q = {wide};
  EXPECT_THROW(validate(req, 4096), std::invalid_argument);
}

TEST(Sampler, DistributionIsWhatSampleDrawsFrom) {
  SamplerParams sp;
  sp.temperature = 0.7f, sp.top_k = 3, sp.top_p = 0.9f, sp.min_p = 0.05f;
  const std::vector<float> logits{1.0f, 2.5f, 0.3f, 2.0f, -1.0f, 1.8f};
  auto copy = logits;
  const std::vector<TokenProbability> d = Sampler(sp).distribution(copy, {});
  double total = 0;
  for (const auto& t : d) total += t.p;
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_LE(d.size(), 3u);
  std::vector<int> counts(logits.size(), 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    sp.seed = static_cast<uint64_t>(i);
    auto row = logits;
    ++counts[static_cast<size_t>(Sampler(sp).sample(row, {}))];
  }
  std::vector<double> p(logits.size(), 0.0);
  for (const auto& t : d) p[static_cast<size_t>(t.id)] = t.p;
  std::vector<int> in_support;
  std::vector<double> p_support;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] > 0) {
      in_support.push_back(counts[i]), p_support.push_back(p[i]);
    } else {
      EXPECT_EQ(counts[i], 0) << "token " << i << " is outside the distribution";
    }
  }
  EXPECT_LT(chi_square(in_support, p_support, n), chi_bound(p_support.size() - 1));
}

TEST(DraftModel, RefusesAnotherVocabulary) {
  auto target = Model::open(shipped("q8_0"));
  const auto path = std::filesystem::temp_directory_path() / ("baton-draft-test-other-vocab-" + std::to_string(::getpid()) + ".gguf");
  SynthOptions opt;
  opt.size = "tiny";
  synth_model(opt).write(path.string());
  auto other = Model::open(path.string());
  try {
    require_same_vocabulary(*target, *other, "other.gguf");
    ADD_FAILURE() << "a draft model of another vocabulary was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("same tokenizer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("other.gguf"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
  auto q4 = Model::open(shipped("q4_0"));
  EXPECT_NO_THROW(require_same_vocabulary(*target, *q4, "q4"));
}

// The draft model shipped for the default model (models/MODEL.md) has its vocabulary
// and proposes drafts the default model accepts often enough to be worth a frame's rows.
TEST(DraftModel, TheShippedDraftSharesTheDefaultModelsVocabulary) {
  auto target = Model::open(shipped("q8_0"));
  auto draft = Model::open((std::filesystem::path(BATON_SOURCE_DIR) / "models" / "baton-kjv-draft-1m.q8_0.gguf").string());
  EXPECT_NO_THROW(require_same_vocabulary(*target, *draft, "baton-kjv-draft-1m"));
  EXPECT_LT(draft->hparams().n_layers, target->hparams().n_layers);
  EXPECT_LT(draft->hparams().dim, target->hparams().dim);
}

class DraftGeneration : public ::testing::Test {
 protected:
  void SetUp() override {
    target_ = Model::open(shipped("q8_0"));
    draft_ = Model::open(shipped("q4_0"));
  }

  GenerationResult run(GenerationParams p, bool with_draft, Ids* ids) {
    LocalBackend backend(target_->transformer(), DType::F16, 512, &pool_);
    Generator gen(backend, target_->tokenizer());
    ModelDrafter drafter(*draft_, 512);
    if (with_draft) {
      p.speculation.enabled = true;
      p.drafter = [&](std::span<const int32_t> context, int32_t k, const SamplingRequest& r) {
        return drafter.propose(context, k, r);
      };
    }
    GenerationCallbacks cb;
    cb.on_token = [&](int32_t id, const std::string&) {
      if (id >= 0) ids->push_back(id);
    };
    return gen.generate(target_->tokenizer().encode(kPrompt, true, false), p, cb);
  }

  static GenerationParams params(float temperature) {
    GenerationParams p;
    p.max_tokens = 80;
    p.sampling.temperature = temperature;
    p.sampling.seed = 9;
    return p;
  }

  static constexpr const char* kPrompt = "Blessed are the";
  std::unique_ptr<Model> target_, draft_;
  ThreadPool pool_{2};
};

TEST_F(DraftGeneration, GreedyTextIsThePlainText) {
  Ids plain, spec;
  run(params(0), false, &plain);
  const auto r = run(params(0), true, &spec);
  EXPECT_EQ(plain, spec);
  EXPECT_GT(r.verify_steps, 0);
  EXPECT_GT(r.accepted_tokens, 0);  // the same model in 4 bits agrees most of the time
}

TEST_F(DraftGeneration, SampledDraftsAreVerifiedAndReproducible) {
  Ids a, b;
  const auto ra = run(params(0.9f), true, &a);
  run(params(0.9f), true, &b);
  // The draft's own generator and the request's are both seeded, and without a clock the
  // draft lengths follow acceptance alone: the same run twice gives the same text.
  EXPECT_EQ(a, b);
  EXPECT_GT(ra.drafted_tokens, 0);
  EXPECT_GT(ra.accepted_tokens, 0);
  EXPECT_EQ(static_cast<int32_t>(a.size()), ra.completion_tokens);
}

TEST(DraftModel, ProposesTheDraftModelsGreedyContinuation) {
  auto model = Model::open(shipped("q8_0"));
  const Ids prompt = model->tokenizer().encode("And the LORD said unto Moses,", true, false);
  // Plain greedy decoding of the same model: what a perfect draft proposes.
  LocalBackend local(model->transformer(), DType::F32, 256, nullptr);
  Generator gen(local, model->tokenizer());
  GenerationParams p;
  p.max_tokens = 6;
  p.sampling.temperature = 0;
  Ids plain;
  GenerationCallbacks cb;
  cb.on_token = [&](int32_t id, const std::string&) { plain.push_back(id); };
  gen.generate(prompt, p, cb);
  ModelDrafter drafter(*model, 256);
  SamplingRequest greedy;
  greedy.sampler.temperature = 0;
  const Draft d = drafter.propose(prompt, 5, greedy);
  EXPECT_TRUE(d.q.empty());
  EXPECT_EQ(d.tokens, Ids(plain.begin(), plain.begin() + 5));
  // A longer context sharing the prefix continues from the cache the same way.
  Ids longer = prompt;
  longer.insert(longer.end(), plain.begin(), plain.begin() + 2);
  EXPECT_EQ(drafter.propose(longer, 3, greedy).tokens, Ids(plain.begin() + 2, plain.begin() + 5));
  // Sampled: each draft comes with its distribution, holding the draft.
  const Draft s = drafter.propose(prompt, 4, plain_sampling());
  ASSERT_EQ(s.q.size(), s.tokens.size());
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    EXPECT_LE(s.q[i].ids.size(), kMaxDraftSupport);
    EXPECT_NE(std::find(s.q[i].ids.begin(), s.q[i].ids.end(), s.tokens[i]), s.q[i].ids.end());
  }
}

}  // namespace
}  // namespace baton
