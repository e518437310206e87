// OpenAI sampling fields through a real coordinator and 2 node processes, checked against
// the whole model run in this process: logprobs (chosen token and alternatives, streamed
// and not) equal the log-softmax of the single-node logits, logit_bias bans and forces
// tokens, and penalised greedy output equals the single-node Generator's. The wire is f32
// so that the pipeline's logits are the single node's (no activation quantisation).
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "local_cluster.h"
#include "model/generation.h"
#include "model/local_backend.h"
#include "model/model.h"
#include "model/sampler.h"

namespace baton {
namespace {

using nlohmann::json;

// The pipeline computes the same float operations as this process; the only difference
// allowed is the float -> JSON -> double round trip of the reported value.
constexpr double kLogprobTolerance = 1e-4;

std::string model_path() { return std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf"; }

class HttpSampling : public test::SharedClusterSuite<HttpSampling> {
 public:
  static std::unique_ptr<test::LocalCluster> start() {
    return std::unique_ptr<test::LocalCluster>(new test::LocalCluster(
        model_path(), std::vector<test::NodeSpec>(2), {"--wire", "f32", "--ctx", "256"},
        test::temp_dir("http-sampling")));
  }

 protected:
  void SetUp() override {
    SharedClusterSuite::SetUp();
    model_ = Model::open(model_path());
    prompt_ = model_->tokenizer().encode("And God said unto Moses", true, false);
  }

  json post(const std::string& path, const json& body, int expect_status = 200) {
    httplib::Client c("127.0.0.1", cluster_->http_port());
    c.set_read_timeout(60, 0);
    auto r = c.Post(path.c_str(), body.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, expect_status) << r->body;
    if (body.value("stream", false) && r->status == 200) return sse_chunks(r->body);
    return json::parse(r->body);
  }

  static json sse_chunks(const std::string& body) {
    json chunks = json::array();
    std::istringstream lines(body);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("data: ", 0) == 0 && line != "data: [DONE]") chunks.push_back(json::parse(line.substr(6)));
    }
    return chunks;
  }

  // Greedy steps of the whole model in this process: per generated token, the raw logits.
  std::vector<std::vector<float>> reference_logits(const std::vector<int32_t>& generated) {
    LocalBackend local(model_->transformer(), DType::F16, 256, nullptr);
    std::vector<std::vector<float>> out;
    out.push_back(local.forward(prompt_, 0));
    int64_t pos = static_cast<int64_t>(prompt_.size());
    for (size_t i = 0; i + 1 < generated.size(); ++i) {
      out.push_back(local.forward(std::vector<int32_t>{generated[i]}, pos++));
    }
    return out;
  }

  // Greedy ids of the single node: each step's argmax.
  std::vector<int32_t> reference_greedy(int n) {
    LocalBackend local(model_->transformer(), DType::F16, 256, nullptr);
    std::vector<int32_t> ids;
    std::vector<float> logits = local.forward(prompt_, 0);
    for (int i = 0; i < n; ++i) {
      ids.push_back(argmax(logits));
      logits = local.forward(std::vector<int32_t>{ids.back()}, static_cast<int64_t>(prompt_.size() + i));
    }
    return ids;
  }

  std::string text_of(int32_t id) const { return model_->tokenizer().token_bytes(id); }

  std::unique_ptr<Model> model_;
  std::vector<int32_t> prompt_;
};

TEST_F(HttpSampling, CompletionLogprobsEqualTheSingleNodeLogSoftmax) {
  constexpr int kTokens = 8;
  const std::vector<int32_t> greedy = reference_greedy(kTokens);
  const auto logits = reference_logits(greedy);
  const json body = {{"prompt", prompt_}, {"max_tokens", kTokens}, {"temperature", 0}, {"logprobs", 5}};
  const json reply = post("/v1/completions", body);
  const json& lp = reply["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), static_cast<size_t>(kTokens)) << reply.dump();
  // Streamed: the same values, spread over the chunks.
  json streamed_tokens = json::array(), streamed_logprobs = json::array();
  json with_stream = body;
  with_stream["stream"] = true;
  for (const json& chunk : post("/v1/completions", with_stream)) {
    const json& l = chunk["choices"][0]["logprobs"];
    if (l.is_null()) continue;
    for (const auto& t : l["tokens"]) streamed_tokens.push_back(t);
    for (const auto& v : l["token_logprobs"]) streamed_logprobs.push_back(v);
  }
  EXPECT_EQ(streamed_tokens, lp["tokens"]);
  ASSERT_EQ(streamed_logprobs.size(), static_cast<size_t>(kTokens));

  int64_t offset = 0;
  for (int i = 0; i < kTokens; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(lp["tokens"][i], text_of(greedy[i]));
    const double expected = log_probability(logits[i], greedy[i]);
    EXPECT_NEAR(lp["token_logprobs"][i].get<double>(), expected, kLogprobTolerance);
    EXPECT_NEAR(streamed_logprobs[i].get<double>(), expected, kLogprobTolerance);
    EXPECT_EQ(lp["text_offset"][i], offset);
    offset += static_cast<int64_t>(text_of(greedy[i]).size());
    const auto top = top_log_probabilities(logits[i], 5);
    const json& alternatives = lp["top_logprobs"][i];
    EXPECT_LE(alternatives.size(), 5u);  // fewer when two tokens share a text
    for (const auto& [id, value] : top) {
      if (!alternatives.contains(text_of(id))) continue;  // a same-text token took the key
      EXPECT_GE(alternatives[text_of(id)].get<double>(), value - kLogprobTolerance);
    }
    EXPECT_NEAR(alternatives[text_of(top[0].first)].get<double>(), top[0].second, kLogprobTolerance);
  }
}

TEST_F(HttpSampling, ChatLogprobsReportTheChosenTokenAndItsAlternatives) {
  const json body = {{"messages", json::array({{{"role", "user"}, {"content", "Tell me a fortune."}}})},
                     {"max_tokens", 6},
                     {"temperature", 0},
                     {"logprobs", true},
                     {"top_logprobs", 3}};
  const json reply = post("/v1/chat/completions", body);
  const json& content = reply["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), reply["usage"]["completion_tokens"].get<size_t>()) << reply.dump();
  std::string joined;
  for (const json& t : content) {
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    // Greedy: the chosen token is the most likely one.
    EXPECT_EQ(t["top_logprobs"][0]["token"], t["token"]);
    EXPECT_DOUBLE_EQ(t["top_logprobs"][0]["logprob"].get<double>(), t["logprob"].get<double>());
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    EXPECT_GE(t["top_logprobs"][1]["logprob"].get<double>(), t["top_logprobs"][2]["logprob"].get<double>());
    std::string bytes;
    for (const auto& b : t["bytes"]) bytes += static_cast<char>(b.get<int>());
    joined += bytes;
  }
  EXPECT_EQ(joined, reply["choices"][0]["message"]["content"]);

  json with_stream = body;
  with_stream["stream"] = true;
  json streamed = json::array();
  for (const json& chunk : post("/v1/chat/completions", with_stream)) {
    const json& l = chunk["choices"][0]["logprobs"];
    if (!l.is_null()) {
      for (const auto& t : l["content"]) streamed.push_back(t);
    }
  }
  EXPECT_EQ(streamed, content);

  EXPECT_TRUE(post("/v1/chat/completions", json{{"messages", body["messages"]}, {"max_tokens", 2}})["choices"][0]["logprobs"]
                  .is_null());
}

TEST_F(HttpSampling, LogitBiasBansAndForcesTokens) {
  const std::vector<int32_t> greedy = reference_greedy(4);
  const auto logits = reference_logits(greedy);
  json body = {{"prompt", prompt_}, {"max_tokens", 4}, {"temperature", 0}, {"logprobs", 0}};
  const json plain = post("/v1/completions", body);
  ASSERT_EQ(plain["choices"][0]["logprobs"]["tokens"][0], text_of(greedy[0]));

  // -100 on the greedy token: the runner-up comes first.
  body["logit_bias"] = {{std::to_string(greedy[0]), -100}};
  const json banned = post("/v1/completions", body);
  const auto top = top_log_probabilities(logits[0], 2);
  ASSERT_EQ(top[0].first, greedy[0]);
  EXPECT_EQ(banned["choices"][0]["logprobs"]["tokens"][0], text_of(top[1].first)) << banned.dump();
  EXPECT_NE(banned["choices"][0]["text"], plain["choices"][0]["text"]);

  // +100 on an unlikely token: it is chosen every step, with a probability near 1.
  const int32_t forced = model_->tokenizer().encode(" Egypt", false, false).back();
  body["logit_bias"] = {{std::to_string(forced), 100}};
  const json forcing = post("/v1/completions", body);
  ASSERT_EQ(forcing["choices"][0]["logprobs"]["tokens"].size(), 4u) << forcing.dump();
  for (const auto& t : forcing["choices"][0]["logprobs"]["tokens"]) EXPECT_EQ(t, text_of(forced));
  for (const auto& v : forcing["choices"][0]["logprobs"]["token_logprobs"]) EXPECT_GT(v.get<double>(), -1e-3);

  // Ids outside the vocabulary are refused, naming the field.
  body["logit_bias"] = {{std::to_string(model_->tokenizer().vocab_size()), 5}};
  const json refused = post("/v1/completions", body, 400);
  EXPECT_EQ(refused["error"]["param"], "logit_bias");
}

TEST_F(HttpSampling, PenalisedGreedyOutputEqualsTheSingleNodeGenerator) {
  constexpr int kTokens = 24;
  GenerationParams params;
  params.max_tokens = kTokens;
  params.sampling.temperature = 0;
  params.sampling.presence_penalty = 0.5f;
  params.sampling.frequency_penalty = 1.5f;
  params.sampling.repeat_penalty = 1.0f;
  params.sampling.repeat_last_n = -1;  // OpenAI counts over the whole text
  LocalBackend local(model_->transformer(), DType::F16, 256, nullptr);
  Generator generator(local, model_->tokenizer());
  const GenerationResult expected = generator.generate(prompt_, params, {});

  const json base = {{"prompt", prompt_}, {"max_tokens", kTokens}, {"temperature", 0}};
  json penalised = base;
  penalised["presence_penalty"] = 0.5;
  penalised["frequency_penalty"] = 1.5;
  const json reply = post("/v1/completions", penalised);
  EXPECT_EQ(reply["choices"][0]["text"], expected.text);
  // Not vacuous: the penalties change what greedy decoding says.
  EXPECT_NE(post("/v1/completions", base)["choices"][0]["text"], expected.text);
}

}  // namespace
}  // namespace baton
