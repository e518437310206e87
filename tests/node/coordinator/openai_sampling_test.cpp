// The OpenAI sampling fields the last stage applies (presence/frequency penalties,
// logit_bias) and the logprobs it reports: parsed into the request with OpenAI's ranges,
// refused with a 400 naming the field, and rendered in OpenAI's documented shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "node/coordinator/openai_api.h"

namespace baton {
namespace {

using nlohmann::json;

CompletionRequest parse(const json& body, bool chat) {
  return parse_completion_request(body.dump(), chat, "m", 64);
}

json chat_body(json extra) {
  json body = {{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  if (!extra.is_null()) body.update(extra);
  return body;
}

ApiError refusal(const json& body, bool chat = true) {
  try {
    parse(body, chat);
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(200, "", "", "accepted");
}

TEST(OpenAiSampling, PenaltiesAreParsedWithOpenAiRangesAndCountTheWholeText) {
  const CompletionRequest r = parse(chat_body({{"presence_penalty", 1.5}, {"frequency_penalty", -0.5}}), true);
  EXPECT_FLOAT_EQ(r.params.sampling.presence_penalty, 1.5f);
  EXPECT_FLOAT_EQ(r.params.sampling.frequency_penalty, -0.5f);
  EXPECT_EQ(r.params.sampling.repeat_last_n, -1) << "OpenAI counts occurrences over the text so far";

  const CompletionRequest plain = parse(chat_body({}), true);
  EXPECT_EQ(plain.params.sampling.presence_penalty, 0.0f);
  EXPECT_EQ(plain.params.sampling.frequency_penalty, 0.0f);
  EXPECT_EQ(plain.params.sampling.repeat_last_n, SamplerParams{}.repeat_last_n);

  for (const char* field : {"presence_penalty", "frequency_penalty"}) {
    for (const json& v : {json(2.5), json(-2.01), json("1")}) {
      const ApiError e = refusal(chat_body({{field, v}}));
      EXPECT_EQ(e.status, 400) << field << " " << v;
      EXPECT_EQ(e.param, field);
    }
    EXPECT_EQ(refusal(chat_body({{field, 2}})).status, 200);
    EXPECT_EQ(refusal(chat_body({{field, nullptr}})).status, 200);
  }
}

TEST(OpenAiSampling, LogitBiasMapsTokenIdsToBiases) {
  const CompletionRequest r = parse({{"prompt", "x"}, {"logit_bias", {{"17", -100}, {"4", 100}, {"9", 0.5}}}}, false);
  auto bias = r.params.sampling.logit_bias;
  std::sort(bias.begin(), bias.end());
  ASSERT_EQ(bias.size(), 3u);
  EXPECT_EQ(bias[0], (std::pair<int32_t, float>{4, 100.0f}));
  EXPECT_EQ(bias[1], (std::pair<int32_t, float>{9, 0.5f}));
  EXPECT_EQ(bias[2], (std::pair<int32_t, float>{17, -100.0f}));
  EXPECT_NO_THROW(check_logit_bias_ids(r, 18));
  try {
    check_logit_bias_ids(r, 17);
    ADD_FAILURE() << "token 17 is outside a vocabulary of 17";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "logit_bias");
    EXPECT_NE(std::string(e.what()).find("token 17"), std::string::npos) << e.what();
  }
}

TEST(OpenAiSampling, BadLogitBiasIsRefusedNamingIt) {
  json too_many = json::object();
  for (size_t i = 0; i <= kMaxApiLogitBias; ++i) too_many[std::to_string(i)] = 1;
  for (const json& v : {json::array({1, 2}), json("x"), json({{"abc", 1}}), json({{"-3", 1}}), json({{"1.5", 1}}),
                        json({{"", 1}}), json({{"99999999999", 1}}), json({{"3", 101}}), json({{"3", -100.5}}),
                        json({{"3", "1"}}), json({{"3", nullptr}}), too_many}) {
    const ApiError e = refusal(chat_body({{"logit_bias", v}}));
    EXPECT_EQ(e.status, 400) << v.dump().substr(0, 80);
    EXPECT_EQ(e.param, "logit_bias");
  }
  EXPECT_EQ(refusal(chat_body({{"logit_bias", json::object()}})).status, 200);
  EXPECT_EQ(refusal(chat_body({{"logit_bias", nullptr}})).status, 200);
}

TEST(OpenAiSampling, LogprobsFieldsFollowEachEndpoint) {
  const CompletionRequest chat = parse(chat_body({{"logprobs", true}, {"top_logprobs", 20}}), true);
  EXPECT_TRUE(chat.params.logprobs.chosen);
  EXPECT_EQ(chat.params.logprobs.top, 20u);
  EXPECT_FALSE(parse(chat_body({{"logprobs", false}}), true).params.logprobs.any());
  EXPECT_EQ(refusal(chat_body({{"top_logprobs", 2}})).param, "top_logprobs") << "needs logprobs: true";
  EXPECT_EQ(refusal(chat_body({{"logprobs", true}, {"top_logprobs", 21}})).param, "top_logprobs");
  EXPECT_EQ(refusal(chat_body({{"logprobs", 3}})).param, "logprobs") << "a boolean on chat";

  const CompletionRequest zero = parse({{"prompt", "x"}, {"logprobs", 0}}, false);
  EXPECT_TRUE(zero.params.logprobs.chosen) << "0: the chosen token only";
  EXPECT_EQ(zero.params.logprobs.top, 0u);
  EXPECT_EQ(parse({{"prompt", "x"}, {"logprobs", 5}}, false).params.logprobs.top, 5u);
  EXPECT_FALSE(parse({{"prompt", "x"}}, false).params.logprobs.any());
  EXPECT_EQ(refusal({{"prompt", "x"}, {"logprobs", 6}}, false).param, "logprobs");
  EXPECT_EQ(refusal({{"prompt", "x"}, {"logprobs", true}}, false).param, "logprobs");
}

std::string fake_text(int32_t id) { return id == 7 ? std::string("\xc3") : "t" + std::to_string(id); }

std::vector<GenerationResult> one_result() {
  GenerationResult g;
  g.completion_tokens = 2;
  g.text = "t3\xc3";
  g.sampled = {{3, -0.25f, {{3, -0.25f}, {5, -1.5f}}}, {7, -INFINITY, {{2, -0.1f}, {7, -INFINITY}}}};
  return {g};
}

TEST(OpenAiSampling, ChatLogprobsHaveOpenAisShape) {
  const CompletionRequest req = parse(chat_body({{"logprobs", true}, {"top_logprobs", 2}}), true);
  const json reply = completion_response(req, "id", 0, "m", one_result(), fake_text);
  const json& lp = reply["choices"][0]["logprobs"];
  ASSERT_TRUE(lp.is_object()) << reply.dump();
  EXPECT_TRUE(lp["refusal"].is_null());
  const json& content = lp["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0]["token"], "t3");
  EXPECT_DOUBLE_EQ(content[0]["logprob"].get<double>(), -0.25);
  EXPECT_EQ(content[0]["bytes"], json::array({116, 51}));
  ASSERT_EQ(content[0]["top_logprobs"].size(), 2u);
  EXPECT_EQ(content[0]["top_logprobs"][1]["token"], "t5");
  EXPECT_DOUBLE_EQ(content[0]["top_logprobs"][1]["logprob"].get<double>(), -1.5);
  EXPECT_EQ(content[0]["top_logprobs"][1]["bytes"], json::array({116, 53}));
  // A token that is part of a UTF-8 character keeps its bytes; -inf becomes OpenAI's -9999.
  EXPECT_EQ(content[1]["bytes"], json::array({0xc3}));
  EXPECT_DOUBLE_EQ(content[1]["logprob"].get<double>(), -9999.0);
  EXPECT_DOUBLE_EQ(content[1]["top_logprobs"][1]["logprob"].get<double>(), -9999.0);

  const CompletionRequest without = parse(chat_body({}), true);
  EXPECT_TRUE(completion_response(without, "id", 0, "m", one_result(), fake_text)["choices"][0]["logprobs"].is_null());
}

TEST(OpenAiSampling, CompletionLogprobsHaveTheLegacyShape) {
  const CompletionRequest req = parse({{"prompt", "x"}, {"logprobs", 2}}, false);
  const json reply = completion_response(req, "id", 0, "m", one_result(), fake_text);
  const json& lp = reply["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], json::array({"t3", "\xc3"}));
  EXPECT_DOUBLE_EQ(lp["token_logprobs"][0].get<double>(), -0.25);
  EXPECT_DOUBLE_EQ(lp["top_logprobs"][0]["t5"].get<double>(), -1.5);
  EXPECT_FLOAT_EQ(lp["top_logprobs"][1]["t2"].get<float>(), -0.1f);
  EXPECT_EQ(lp["text_offset"], json::array({0, 2}));

  // A streamed chunk carries its own tokens, offsets continuing the choice's text.
  const std::vector<SampledToken> second = {one_result()[0].sampled[1]};
  const json chunk = completion_chunk(req, "id", 0, "m", "\xc3", std::nullopt, false, 0,
                                      logprobs_json(req, second, fake_text, 2));
  EXPECT_EQ(chunk["choices"][0]["logprobs"]["text_offset"], json::array({2}));
  EXPECT_EQ(chunk["choices"][0]["logprobs"]["tokens"].size(), 1u);
}

}  // namespace
}  // namespace baton
