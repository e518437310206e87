// The decode loop: determinism, seeded sampling, limits, cancel, stop strings and
// reuse of the cached prefix across turns.
#include <gtest/gtest.h>

#include "model/generation.h"
#include "model/local_backend.h"
#include "model/model.h"
#include "model/stop_strings.h"
#include "tensor/thread_pool.h"
#include "test_models.h"

namespace baton {
namespace {

class GenerationTest : public ::testing::Test {
 protected:
  void SetUp() override { model_ = Model::open(test::synth_model_path("tiny", DType::Q8_0), {}); }

  GenerationResult run(const std::vector<int32_t>& input, const GenerationParams& p,
                       const std::atomic<bool>* cancel = nullptr, std::vector<int32_t>* ids = nullptr) {
    LocalBackend backend(model_->transformer(), DType::F16, 256, &pool_);
    Generator gen(backend, model_->tokenizer());
    GenerationCallbacks cb;
    cb.on_token = [&](int32_t id, const std::string&) {
      if (ids && id >= 0) ids->push_back(id);
    };
    return gen.generate(input, p, cb, cancel);
  }

  std::vector<int32_t> prompt(const std::string& text) const {
    return model_->tokenizer().encode(text, true, false);
  }

  GenerationParams greedy(int n) const {
    GenerationParams p;
    p.max_tokens = n;
    p.sampling.temperature = 0;
    p.sampling.repeat_penalty = 1.0f;
    return p;
  }

  std::unique_ptr<Model> model_;
  ThreadPool pool_{2};
};

TEST_F(GenerationTest, GreedyIsDeterministic) {
  std::vector<int32_t> a, b;
  const auto r1 = run(prompt("the quick brown fox"), greedy(24), nullptr, &a);
  const auto r2 = run(prompt("the quick brown fox"), greedy(24), nullptr, &b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(r1.text, r2.text);
  EXPECT_GT(r1.completion_tokens, 0);
}

TEST_F(GenerationTest, SeededSamplingIsReproducibleAndSeedMatters) {
  GenerationParams p = greedy(32);
  p.sampling.temperature = 1.0f;
  p.sampling.top_k = 0;
  p.sampling.top_p = 1.0f;
  p.sampling.min_p = 0.0f;
  p.sampling.seed = 1234;
  std::vector<int32_t> a, b, c;
  run(prompt("once upon a time"), p, nullptr, &a);
  run(prompt("once upon a time"), p, nullptr, &b);
  EXPECT_EQ(a, b);
  p.sampling.seed = 99;
  run(prompt("once upon a time"), p, nullptr, &c);
  EXPECT_NE(a, c) << "different seeds gave the same 32 sampled tokens";
}

TEST_F(GenerationTest, MaxTokensBoundsTheReply) {
  for (int n : {0, 1, 5}) {
    const auto r = run(prompt("hello"), greedy(n));
    EXPECT_LE(r.completion_tokens, n);
    if (r.finish == FinishReason::Length) EXPECT_EQ(r.completion_tokens, n);
  }
}

TEST_F(GenerationTest, CancelStopsTheReply) {
  std::atomic<bool> cancel{false};
  LocalBackend backend(model_->transformer(), DType::F16, 256, &pool_);
  Generator gen(backend, model_->tokenizer());
  int seen = 0;
  GenerationCallbacks cb;
  cb.on_token = [&](int32_t id, const std::string&) {
    if (id >= 0 && ++seen == 3) cancel = true;
  };
  GenerationParams p = greedy(50);
  const auto r = gen.generate(prompt("a b c"), p, cb, &cancel);
  if (r.finish != FinishReason::Stop) {  // an end-of-generation token may come first
    EXPECT_EQ(r.finish, FinishReason::Cancelled);
    EXPECT_EQ(r.completion_tokens, 3);
  }
}

TEST_F(GenerationTest, StopStringEndsTheReplyWithoutEmittingIt) {
  const auto full = run(prompt("the world is"), greedy(40));
  ASSERT_GT(full.text.size(), 8u) << "need some text to pick a stop string from";
  const std::string stop = full.text.substr(full.text.size() / 2, 3);
  const size_t cut = full.text.find(stop);
  GenerationParams p = greedy(40);
  p.stop = {stop};
  const auto r = run(prompt("the world is"), p);
  EXPECT_EQ(r.finish, FinishReason::Stop);
  EXPECT_EQ(r.text, full.text.substr(0, cut));
}

TEST_F(GenerationTest, SecondTurnReusesTheCachedPrefixAndMatchesAFreshRun) {
  LocalBackend backend(model_->transformer(), DType::F16, 256, &pool_);
  Generator gen(backend, model_->tokenizer());
  const auto first_input = prompt("in the beginning");
  const auto r1 = gen.generate(first_input, greedy(8), {});
  std::vector<int32_t> second_input = gen.history();
  const auto more = model_->tokenizer().encode(" and then", false, false);
  second_input.insert(second_input.end(), more.begin(), more.end());
  const auto r2 = gen.generate(second_input, greedy(8), {});
  EXPECT_GE(r2.reused_tokens, static_cast<int32_t>(first_input.size()));
  const auto fresh = run(second_input, greedy(8));
  EXPECT_EQ(r2.text, fresh.text);
  EXPECT_EQ(r1.prompt_tokens, static_cast<int32_t>(first_input.size()));
}

TEST_F(GenerationTest, PromptLongerThanContextIsRejected) {
  LocalBackend backend(model_->transformer(), DType::F16, 8, &pool_);
  Generator gen(backend, model_->tokenizer());
  std::vector<int32_t> input(9, 5);
  EXPECT_THROW(gen.generate(input, greedy(4), {}), std::length_error);
}

TEST(StopStringFilter, HoldsBackPossiblePrefixes) {
  StopStringFilter f({"END", "xyz"});
  EXPECT_EQ(f.push("abc E"), "abc ");
  EXPECT_EQ(f.push("N"), "");
  EXPECT_EQ(f.push("x"), "EN");  // "ENx" cannot become "END", but "x" may start "xyz"
  EXPECT_FALSE(f.stopped());
  EXPECT_EQ(f.flush(), "x");
}

TEST(StopStringFilter, StopsAtEarliestMatchAndDropsTheRest) {
  StopStringFilter f({"END"});
  EXPECT_EQ(f.push("one EN"), "one ");
  EXPECT_EQ(f.push("D two"), "");
  EXPECT_TRUE(f.stopped());
  EXPECT_EQ(f.push("more"), "");
  EXPECT_EQ(f.flush(), "");
}

TEST(StopStringFilter, FlushReleasesHeldText) {
  StopStringFilter f({"stop"});
  EXPECT_EQ(f.push("go st"), "go ");
  EXPECT_EQ(f.flush(), "st");
  StopStringFilter none({});
  EXPECT_EQ(none.push("anything"), "anything");
}

}  // namespace
}  // namespace baton
