// Speculative decoding's pure parts: prompt lookup, the verification rule (greedy and
// its sampled law, checked statistically with a fixed seed), the draft-length controller,
// and the generation loop with speculation on the shipped model: the same text as plain
// decoding, whatever the drafts.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>

#include "model/generation.h"
#include "model/local_backend.h"
#include "model/model.h"
#include "model/speculative.h"
#include "tensor/thread_pool.h"

namespace baton {
namespace {

using Ids = std::vector<int32_t>;

TEST(PromptLookup, ProposesWhatFollowedTheMostRecentEarlierOccurrence) {
  //                 0  1  2  3  4  5  6  7  8  9
  const Ids context{5, 6, 7, 8, 1, 6, 7, 9, 4, 6, 7};
  // Suffix [6, 7] occurred at 5 (most recent, followed by 9, 4, 6, 7) and at 1.
  EXPECT_EQ(prompt_lookup_draft(context, 3, 2, 2), (Ids{9, 4, 6}));
  // Asking for more than there is stops at the end of the context.
  EXPECT_EQ(prompt_lookup_draft(context, 10, 2, 2), (Ids{9, 4, 6, 7}));
}

TEST(PromptLookup, PrefersTheLongestMatchingSuffix) {
  //                 0  1  2  3  4  5  6  7  8
  const Ids context{1, 2, 3, 4, 9, 2, 3, 5, 1, 2, 3};
  // [2, 3] last occurred at 5 (-> 5), but [1, 2, 3] occurred at 0 (-> 4): longer wins.
  EXPECT_EQ(prompt_lookup_draft(context, 2, 2, 3), (Ids{4, 9}));
  EXPECT_EQ(prompt_lookup_draft(context, 2, 2, 2), (Ids{5, 1}));
}

TEST(PromptLookup, NothingWithoutAnEarlierOccurrence) {
  EXPECT_TRUE(prompt_lookup_draft(Ids{1, 2, 3, 4, 5}, 4, 2, 4).empty());
  EXPECT_TRUE(prompt_lookup_draft(Ids{1, 2, 3, 1, 2}, 0, 2, 4).empty());
  EXPECT_TRUE(prompt_lookup_draft(Ids{7}, 4, 1, 4).empty());
  // A suffix of one token with min_ngram 1: [.., 3] occurred at 2, followed by 1.
  EXPECT_EQ(prompt_lookup_draft(Ids{1, 2, 3, 1, 3}, 1, 1, 4), (Ids{1}));
  // The suffix itself is never its own match (a run of one token).
  EXPECT_EQ(prompt_lookup_draft(Ids{4, 4, 4}, 3, 2, 2), (Ids{4}));
}

// Logits rows with one clear winner each.
std::vector<float> rows_with_winners(const Ids& winners, size_t vocab) {
  std::vector<float> logits(winners.size() * vocab, 0.0f);
  for (size_t r = 0; r < winners.size(); ++r) logits[r * vocab + static_cast<size_t>(winners[r])] = 5.0f;
  return logits;
}

SamplingRequest greedy_request() {
  SamplingRequest r;
  r.sampler.temperature = 0;
  return r;
}

TEST(VerifyRows, GreedyAcceptsDraftsWhileTheyAreTheArgmaxThenCorrects) {
  const size_t vocab = 10;
  // history: ... 1 | last token 2, drafts 3 4 5. Targets after each row: 3, 4, 7, 8.
  const Ids history{1, 2, 3, 4, 5};
  auto logits = rows_with_winners({3, 4, 7, 8}, vocab);
  VerifyResult r = verify_rows(logits, vocab, history, 4, greedy_request());
  ASSERT_EQ(r.tokens.size(), 3u);
  EXPECT_EQ(r.tokens[0].id, 3);
  EXPECT_EQ(r.tokens[1].id, 4);
  EXPECT_EQ(r.tokens[2].id, 7);  // the correction; the row after it is never looked at
  EXPECT_EQ(r.accepted(), 2);
}

TEST(VerifyRows, AllDraftsAcceptedGiveTheBonusToken) {
  const size_t vocab = 10;
  auto logits = rows_with_winners({3, 4, 5, 9}, vocab);
  VerifyResult r = verify_rows(logits, vocab, Ids{2, 3, 4, 5}, 4, greedy_request());
  ASSERT_EQ(r.tokens.size(), 4u);
  EXPECT_EQ(r.tokens[3].id, 9);
  EXPECT_EQ(r.accepted(), 3);
}

TEST(VerifyRows, AFirstDraftThatIsWrongGivesOnlyTheCorrection) {
  const size_t vocab = 10;
  auto logits = rows_with_winners({6, 4, 5}, vocab);
  VerifyResult r = verify_rows(logits, vocab, Ids{2, 3, 4}, 3, greedy_request());
  ASSERT_EQ(r.tokens.size(), 1u);
  EXPECT_EQ(r.tokens[0].id, 6);
  EXPECT_EQ(r.accepted(), 0);
}

TEST(VerifyRows, PenaltiesSeeTheSequenceUpToEachRow) {
  // Row 1 (after draft 3) prefers 3 by a hair; a presence penalty over the window makes
  // 4 win there only if the window includes the draft 3 itself (as plain decoding's would).
  const size_t vocab = 6;
  std::vector<float> logits(2 * vocab, 0.0f);
  logits[0 * vocab + 3] = 2.5f, logits[0 * vocab + 4] = 2.0f;  // row 0: 3 by 0.5, unless 3 were in its window
  logits[1 * vocab + 3] = 2.1f, logits[1 * vocab + 4] = 2.0f;  // row 1: 3 by 0.1
  SamplingRequest req = greedy_request();
  req.sampler.presence_penalty = 1.0f;
  req.sampler.repeat_last_n = -1;
  VerifyResult r = verify_rows(logits, vocab, Ids{1, 2, 3}, 2, req);
  ASSERT_EQ(r.tokens.size(), 2u);
  EXPECT_EQ(r.tokens[0].id, 3);  // 3 not yet in the window of row 0 (1, 2)
  EXPECT_EQ(r.tokens[1].id, 4);  // window of row 1 is (1, 2, 3): 3 is penalised
  // And a logit bias applies to every row.
  std::vector<float> again(2 * vocab, 0.0f);
  again[0 * vocab + 3] = 5.0f;
  again[1 * vocab + 2] = 5.0f;
  req.sampler.presence_penalty = 0;
  req.sampler.logit_bias = {{5, 10.0f}};
  r = verify_rows(again, vocab, Ids{1, 2, 3}, 2, req);
  ASSERT_EQ(r.tokens.size(), 1u);
  EXPECT_EQ(r.tokens[0].id, 5);
}

TEST(VerifyRows, SampledEqualsPlainSamplingRowByRow) {
  // Whatever is accepted, each emitted token is the one plain decoding would have drawn
  // at that position with the same generator state.
  const size_t vocab = 8;
  std::vector<float> logits(3 * vocab);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>((i * 37) % 11) / 4.0f;
  SamplingRequest req;
  req.sampler.temperature = 1.0f;
  req.sampler.top_k = 0, req.sampler.top_p = 1.0f, req.sampler.min_p = 0;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    req.sampler.seed = seed;
    req.rng_draws = 3;
    const Ids history{0, 1, 2, 3};  // last token 1... rows: tokens 1, 2, 3
    auto copy = logits;
    VerifyResult r = verify_rows(copy, vocab, history, 3, req);
    SamplingRequest plain = req;
    for (size_t j = 0; j < r.tokens.size(); ++j) {
      auto row = std::vector<float>(logits.begin() + static_cast<std::ptrdiff_t>(j * vocab),
                                    logits.begin() + static_cast<std::ptrdiff_t>((j + 1) * vocab));
      SampleResult s = sample_next(row, std::span<const int32_t>(history).first(2 + j), plain);
      ASSERT_EQ(r.tokens[j].id, s.token.id) << "seed " << seed << " row " << j;
      plain.rng_draws = s.rng_draws;
    }
    EXPECT_EQ(r.rng_draws, plain.rng_draws);
  }
}

// The speculative sampling law with a point-mass draft x: accepted with probability
// p(x); on rejection the token follows p with x removed and renormalised; after an
// accepted draft the next token follows the next row's p. Fixed seeds, so the counts
// are the same on every run; the bounds are 5 standard deviations / a chi-square far in
// the tail, so a correct rule passes and a wrong one (e.g. accepting with p(x)^2, or
// resampling from p including x) fails by far more.
TEST(VerifyRows, SampledFollowsTheSpeculativeSamplingLaw) {
  const size_t vocab = 5;
  const std::vector<double> p0{0.1, 0.4, 0.2, 0.25, 0.05};  // row 0 (after the last token)
  const std::vector<double> p1{0.3, 0.1, 0.1, 0.1, 0.4};    // row 1 (after draft x)
  const int32_t x = 3;
  std::vector<float> logits(2 * vocab);
  for (size_t i = 0; i < vocab; ++i) {
    logits[i] = static_cast<float>(std::log(p0[i]));
    logits[vocab + i] = static_cast<float>(std::log(p1[i]));
  }
  SamplingRequest req;
  req.sampler.temperature = 1.0f;
  req.sampler.top_k = 0, req.sampler.top_p = 1.0f, req.sampler.min_p = 0;
  const int n = 40000;
  int accepted = 0;
  std::vector<int> rejected_as(vocab, 0), bonus(vocab, 0);
  for (int i = 0; i < n; ++i) {
    req.sampler.seed = 1000 + static_cast<uint64_t>(i);
    auto copy = logits;
    VerifyResult r = verify_rows(copy, vocab, Ids{0, x}, 2, req);
    if (r.accepted() == 1) {
      ++accepted;
      ASSERT_EQ(r.tokens.size(), 2u);
      ++bonus[static_cast<size_t>(r.tokens[1].id)];
    } else {
      ASSERT_EQ(r.tokens.size(), 1u);
      ASSERT_NE(r.tokens[0].id, x);
      ++rejected_as[static_cast<size_t>(r.tokens[0].id)];
    }
  }
  const double pa = p0[x];
  EXPECT_NEAR(accepted, n * pa, 5 * std::sqrt(n * pa * (1 - pa)));
  // Chi-square against p0 without x (3 degrees of freedom: 25 is far beyond p = 1e-4).
  double chi = 0;
  const int rejections = n - accepted;
  for (size_t y = 0; y < vocab; ++y) {
    if (static_cast<int32_t>(y) == x) continue;
    const double expected = rejections * p0[y] / (1 - pa);
    chi += (rejected_as[y] - expected) * (rejected_as[y] - expected) / expected;
  }
  EXPECT_LT(chi, 25.0);
  chi = 0;  // 4 degrees of freedom
  for (size_t y = 0; y < vocab; ++y) {
    const double expected = accepted * p1[y];
    chi += (bonus[y] - expected) * (bonus[y] - expected) / expected;
  }
  EXPECT_LT(chi, 27.0);
}

TEST(VerifyRows, RefusesMismatchedShapes) {
  std::vector<float> logits(10);
  EXPECT_THROW(verify_rows(logits, 4, Ids{1, 2}, 2, greedy_request()), std::invalid_argument);
  EXPECT_THROW(verify_rows(logits, 5, Ids{1}, 2, greedy_request()), std::invalid_argument);
}

TEST(DraftLength, HighAcceptanceAndCheapRowsDraftTheMost) {
  DraftLengthController c(8);
  for (int i = 0; i < 20; ++i) {
    c.record_verify(4, 4);
    c.record_step_time(1, 10000);       // a round trip of 10 ms
    c.record_step_time(5, 10000 + 4 * 100);  // 0.1 ms per extra row
  }
  EXPECT_GT(c.acceptance(), 0.9);
  EXPECT_NEAR(c.base_micros(), 10000, 1);
  EXPECT_NEAR(c.per_row_micros(), 100, 1);
  EXPECT_EQ(c.next_k(), 8);
}

TEST(DraftLength, LowAcceptanceStopsDraftingButProbes) {
  DraftLengthController c(8);
  for (int i = 0; i < 20; ++i) {
    c.record_verify(4, 0);
    c.record_step_time(1, 1000);
    c.record_step_time(5, 1000 + 4 * 300);  // rows cost 30% of a step each
  }
  EXPECT_LT(c.acceptance(), 0.05);
  int drafts = 0, steps = 0;
  for (; steps < 4 * DraftLengthController::kProbeEvery; ++steps) drafts += c.next_k() > 0;
  EXPECT_EQ(drafts, 4);  // one probe of one draft every kProbeEvery steps
}

TEST(DraftLength, ExpensiveRowsKeepTheDraftShort) {
  DraftLengthController cheap(16), costly(16);
  for (int i = 0; i < 20; ++i) {
    for (auto* c : {&cheap, &costly}) c->record_verify(4, 3);
    cheap.record_step_time(1, 1000), cheap.record_step_time(5, 1000 + 4 * 10);
    costly.record_step_time(1, 1000), costly.record_step_time(5, 1000 + 4 * 250);
  }
  const int32_t k_cheap = cheap.next_k(), k_costly = costly.next_k();
  EXPECT_GT(k_cheap, k_costly);
  EXPECT_GE(k_costly, 1);
  // The choice maximises the modelled rate.
  for (int32_t k = 0; k <= 16; ++k) EXPECT_LE(costly.rate(k), costly.rate(k_costly) * 1.0001);
}

// ---------------------------------------------------------------- the generation loop

class SpeculativeGeneration : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = Model::open((std::filesystem::path(BATON_SOURCE_DIR) / "models" / "baton-kjv-5m.q8_0.gguf").string(), {});
  }

  GenerationResult run(const GenerationParams& p, Ids* ids, const std::string& text = kPrompt) {
    LocalBackend backend(model_->transformer(), DType::F16, 512, &pool_);
    Generator gen(backend, model_->tokenizer());
    GenerationCallbacks cb;
    cb.on_token = [&](int32_t id, const std::string&) {
      if (id >= 0) ids->push_back(id);
    };
    return gen.generate(model_->tokenizer().encode(text, true, false), p, cb);
  }

  static GenerationParams params(float temperature, bool speculative) {
    GenerationParams p;
    p.max_tokens = 120;
    p.sampling.temperature = temperature;
    p.sampling.seed = 42;
    p.speculation.enabled = speculative;
    return p;
  }

  static constexpr const char* kPrompt =
      "And God said, Let there be light: and there was light. And God saw the light, that it was good: "
      "and God divided the light from the darkness. And God said,";
  std::unique_ptr<Model> model_;
  ThreadPool pool_{2};
};

TEST_F(SpeculativeGeneration, GreedyTextIsThePlainText) {
  Ids plain, spec;
  const auto a = run(params(0, false), &plain);
  const auto b = run(params(0, true), &spec);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(plain, spec);
  EXPECT_EQ(a.verify_steps, 0);
  // Prompt lookup found drafts, and both outcomes occurred: accepted (fewer forwards)
  // and rejected (rolled back).
  EXPECT_GT(b.verify_steps, 0);
  EXPECT_GT(b.accepted_tokens, 0);
  EXPECT_LT(b.accepted_tokens, b.drafted_tokens);
}

TEST_F(SpeculativeGeneration, SeededSampledTextIsThePlainText) {
  for (const float t : {0.7f, 1.2f}) {
    Ids plain, spec;
    GenerationParams p = params(t, false);
    p.sampling.repeat_penalty = 1.1f;
    p.sampling.frequency_penalty = 0.2f;
    const auto a = run(p, &plain);
    p.speculation.enabled = true;
    const auto b = run(p, &spec);
    EXPECT_EQ(plain, spec) << "temperature " << t;
    EXPECT_EQ(a.rng_draws, b.rng_draws);
  }
}

TEST_F(SpeculativeGeneration, AllWrongDraftsStillGiveThePlainText) {
  Ids plain, spec;
  const auto a = run(params(0, false), &plain);
  GenerationParams p = params(0, true);
  const int32_t vocab = model_->hparams().vocab_size;
  // Drafts that are never right: each is the plain text's next token plus one.
  p.drafter = [&](std::span<const int32_t> context, int32_t k, const SamplingRequest&) {
    Draft d;
    for (int32_t i = 0; i < k; ++i) d.tokens.push_back((context.back() + 1 + i) % vocab);
    return d;
  };
  const auto b = run(p, &spec);
  EXPECT_EQ(plain, spec);
  EXPECT_GT(b.drafted_tokens, 0);
  EXPECT_LT(b.accepted_tokens, b.drafted_tokens / 4);
}

TEST_F(SpeculativeGeneration, PerfectDraftsTakeFewerForwards) {
  Ids plain;
  run(params(0, false), &plain);
  GenerationParams p = params(0, true);
  Ids prompt_ids = model_->tokenizer().encode(kPrompt, true, false);
  // An oracle drafter that knows the plain continuation.
  p.drafter = [&](std::span<const int32_t> context, int32_t k, const SamplingRequest&) {
    const size_t done = context.size() - prompt_ids.size();  // tokens of the reply already in context
    Draft d;
    for (size_t i = done; i < plain.size() && d.tokens.size() < static_cast<size_t>(k); ++i) d.tokens.push_back(plain[i]);
    return d;
  };
  Ids spec;
  const auto b = run(p, &spec);
  EXPECT_EQ(plain, spec);
  EXPECT_EQ(b.accepted_tokens, b.drafted_tokens);
  EXPECT_LT(b.verify_steps, static_cast<int32_t>(plain.size()) / 3);
}

}  // namespace
}  // namespace baton
