// The decode loop: determinism, seeded sampling, limits, cancel, stop strings and
// reuse of the cached prefix across turns.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "model/generation.h"
#include "model/json_prefix.h"
#include "model/json_schema_grammar.h"
#include "model/kv_cache.h"
#include "model/local_backend.h"
#include "model/model.h"
#include "model/stop_strings.h"
#include "tensor/thread_pool.h"
#include "test_models.h"
#include "tests/model/schema_check.h"

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
    if (r.finish == FinishReason::Length) {
      EXPECT_EQ(r.completion_tokens, n);
    }
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

// The embedding against a reference written here: every row through all layers in one
// piece, then the final RMS norm, the mean and the unit scaling in double precision.
std::vector<double> reference_embedding(const Model& model, const std::vector<int32_t>& ids, ThreadPool& pool) {
  const Transformer& tf = model.transformer();
  const HyperParams& hp = model.hparams();
  const auto dim = static_cast<size_t>(hp.dim);
  KVCache kv(DType::F32, tf.weights().range, 256, hp.kv_dim());
  std::vector<float> hidden(ids.size() * dim);
  tf.embed(ids, hidden.data());
  tf.forward_layers(0, hp.n_layers, hidden.data(), static_cast<int64_t>(ids.size()), 0, kv, &pool);
  std::vector<double> mean(dim, 0.0);
  for (size_t t = 0; t < ids.size(); ++t) {
    const float* x = hidden.data() + t * dim;
    double squares = 0;
    for (size_t d = 0; d < dim; ++d) squares += static_cast<double>(x[d]) * x[d];
    const double scale = 1.0 / std::sqrt(squares / static_cast<double>(dim) + hp.rms_eps);
    for (size_t d = 0; d < dim; ++d) mean[d] += x[d] * scale * tf.weights().output_norm[d] / static_cast<double>(ids.size());
  }
  double length = 0;
  for (double v : mean) length += v * v;
  for (double& v : mean) v /= std::sqrt(length);
  return mean;
}

TEST_F(GenerationTest, EmbeddingIsTheMeanOfTheFinalNormsAtUnitLength) {
  const auto ids = prompt("the quick brown fox jumps over the lazy dog");
  LocalBackend backend(model_->transformer(), DType::F32, 256, &pool_);
  Generator gen(backend, model_->tokenizer());
  const std::vector<float> whole = gen.embed(ids, 64);
  const std::vector<double> reference = reference_embedding(*model_, ids, pool_);
  ASSERT_EQ(whole.size(), reference.size());
  double length = 0, worst = 0;
  for (size_t d = 0; d < whole.size(); ++d) {
    length += static_cast<double>(whole[d]) * whole[d];
    worst = std::max(worst, std::abs(whole[d] - reference[d]));
  }
  EXPECT_NEAR(length, 1.0, 1e-5);
  // float32 sums of a few dozen rows against double: a few ulps of values near 0.1.
  EXPECT_LT(worst, 2e-6) << "largest difference from the double-precision reference";

  // Smaller chunks (several frames, as a pipeline sends them) pool the same rows.
  const std::vector<float> chunked = gen.embed(ids, 3);
  for (size_t d = 0; d < whole.size(); ++d) EXPECT_NEAR(chunked[d], whole[d], 2e-6) << d;
  EXPECT_EQ(gen.history(), ids) << "the cache holds the input afterwards";

  const std::vector<float> other = gen.embed(prompt("in the beginning was the word"), 64);
  double cosine = 0;
  for (size_t d = 0; d < whole.size(); ++d) cosine += static_cast<double>(whole[d]) * other[d];
  EXPECT_LT(cosine, 0.999) << "different texts, different embeddings";
}

TEST_F(GenerationTest, AGenerationAfterAnEmbeddingReusesItsCacheAndMatchesAFreshRun) {
  const auto ids = prompt("the quick brown fox");
  LocalBackend backend(model_->transformer(), DType::F16, 256, &pool_);
  Generator gen(backend, model_->tokenizer());
  gen.embed(ids, 64);
  const GenerationResult after = gen.generate(ids, greedy(16), {});
  EXPECT_EQ(after.reused_tokens, static_cast<int32_t>(ids.size()) - 1);
  EXPECT_EQ(after.text, run(ids, greedy(16)).text);
}

TEST_F(GenerationTest, EmbeddingRefusesEmptyAndOverlongInputAndStopsWhenCancelled) {
  LocalBackend backend(model_->transformer(), DType::F16, 16, &pool_);
  Generator gen(backend, model_->tokenizer());
  EXPECT_THROW(gen.embed({}, 64), std::invalid_argument);
  EXPECT_THROW(gen.embed(std::vector<int32_t>(17, 5), 64), std::length_error);
  std::atomic<bool> cancel{true};
  EXPECT_TRUE(gen.embed(std::vector<int32_t>(8, 5), 4, &cancel).empty());
  EXPECT_THROW(mean_pooled_unit({1.0f}, 0), std::invalid_argument);
  EXPECT_EQ(mean_pooled_unit({3.0f, 4.0f}, 2), (std::vector<float>{0.6f, 0.8f}));
  EXPECT_EQ(mean_pooled_unit({0.0f, 0.0f}, 1), (std::vector<float>{0.0f, 0.0f})) << "no direction: stays zero";
}

// response_format json_object: whatever the weights want (these are random), the reply is
// a whole JSON object.
TEST_F(GenerationTest, AJsonObjectReplyIsAlwaysValidJson) {
  int ended_by_itself = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    GenerationParams p = greedy(96);
    p.json_object = true;
    p.speculation.enabled = true;  // ignored: masking needs the logits where it samples
    if (seed > 1) {
      p.sampling.temperature = 1.0f;
      p.sampling.seed = seed;
    }
    const GenerationResult r = run(prompt("Describe a dog in JSON."), p);
    JsonPrefix check;
    EXPECT_TRUE(check.feed(r.text) && check.complete()) << "seed " << seed << ": " << r.text;
    EXPECT_TRUE(nlohmann::json::accept(r.text) && nlohmann::json::parse(r.text).is_object()) << r.text;
    EXPECT_EQ(r.verify_steps, 0) << "no speculation under a constraint";
    if (r.finish == FinishReason::Stop) ++ended_by_itself;
  }
  std::printf("json_object: %d of 6 replies ended by themselves, the rest closed at max_tokens\n", ended_by_itself);
}

// A reply that runs into max_tokens still closes its object: the last tokens write the
// shortest ending, then the end of generation.
TEST_F(GenerationTest, AJsonObjectReplyClosesBeforeMaxTokens) {
  for (int32_t limit : {3, 8, 24, 64}) {
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      GenerationParams p = greedy(limit);
      p.json_object = true;
      p.sampling.temperature = 1.0f;
      p.sampling.seed = seed;
      const GenerationResult r = run(prompt("Describe a dog in JSON."), p);
      EXPECT_TRUE(nlohmann::json::accept(r.text) && nlohmann::json::parse(r.text).is_object())
          << "max_tokens " << limit << ", seed " << seed << ": " << r.text;
      EXPECT_LE(r.completion_tokens, limit);
    }
  }
}

// response_format json_schema: whatever the weights want, the reply parses and follows the
// schema (types, required keys, enum), including when max_tokens cuts it short.
TEST_F(GenerationTest, AJsonSchemaReplyAlwaysFollowsTheSchema) {
  const auto schema = nlohmann::ordered_json::parse(R"({
    "type": "object",
    "properties": {"name": {"type": "string"}, "legs": {"type": "integer"},
                   "mood": {"enum": ["calm", "loud"]}, "tags": {"type": "array", "items": {"type": "boolean"}}},
    "required": ["name", "legs", "mood", "tags"], "additionalProperties": false})");
  const auto grammar = compile_json_schema(schema);
  const auto plain = nlohmann::json::parse(schema.dump());
  for (int32_t limit : {46, 64, 128}) {  // the shortest instance has 44 bytes
    for (uint64_t seed = 0; seed <= 3; ++seed) {
      GenerationParams p = greedy(limit);
      p.grammar = grammar;
      p.speculation.enabled = true;  // ignored under a constraint
      if (seed > 0) {
        p.sampling.temperature = 1.0f;
        p.sampling.seed = seed;
      }
      const GenerationResult r = run(prompt("Describe a dog in JSON."), p);
      ASSERT_TRUE(nlohmann::json::accept(r.text)) << "max_tokens " << limit << ", seed " << seed << ": " << r.text;
      EXPECT_EQ(testing::schema_violation(nlohmann::json::parse(r.text), plain), "") << r.text;
      EXPECT_LE(r.completion_tokens, limit);
      EXPECT_EQ(r.verify_steps, 0);
    }
  }
}

// The context can end a reply before max_tokens does: a constrained reply closes in time
// for that too.
TEST_F(GenerationTest, AJsonSchemaReplyClosesBeforeTheContextIsFull) {
  const auto grammar = compile_json_schema(nlohmann::ordered_json::parse(
      R"({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
          "additionalProperties": false})"));  // random weights write long strings
  std::vector<int32_t> input = prompt("Describe a dog in JSON.");
  for (int room : {16, 24, 40}) {  // the context holds 256
    std::vector<int32_t> long_input = input;
    while (static_cast<int>(long_input.size()) < 256 - room) long_input.push_back(input.back());
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      GenerationParams p = greedy(200);
      p.grammar = grammar;
      p.sampling.temperature = 1.0f;
      p.sampling.seed = seed;
      const GenerationResult r = run(long_input, p);
      EXPECT_TRUE(nlohmann::json::accept(r.text)) << "room " << room << ", seed " << seed << ": " << r.text;
    }
  }
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
