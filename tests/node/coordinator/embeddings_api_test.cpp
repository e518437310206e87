// POST /v1/embeddings as the official clients send it (strings or token arrays, float or
// base64) and what it must refuse, naming the field.
#include "node/coordinator/embeddings_api.h"

#include <gtest/gtest.h>

#include "node/coordinator/openai_api.h"

namespace baton {
namespace {

constexpr int64_t kWidth = 8;

ApiError error_of(const std::string& body) {
  try {
    parse_embedding_request(body, "m", kWidth);
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(200, "", "", "accepted");
}

TEST(EmbeddingsApi, EveryInputShapeOpenAiDocuments) {
  auto one = parse_embedding_request(R"({"model": "m", "input": "hello"})", "m", kWidth);
  ASSERT_EQ(one.inputs.size(), 1u);
  EXPECT_FALSE(one.inputs[0].is_ids);
  EXPECT_EQ(one.inputs[0].text, "hello");
  EXPECT_FALSE(one.base64);

  auto many = parse_embedding_request(R"({"input": ["a", "b", "c"], "encoding_format": "base64"})", "m", kWidth);
  ASSERT_EQ(many.inputs.size(), 3u);
  EXPECT_EQ(many.inputs[2].text, "c");
  EXPECT_TRUE(many.base64);

  auto ids = parse_embedding_request(R"({"input": [1, 2, 3]})", "m", kWidth);
  ASSERT_EQ(ids.inputs.size(), 1u) << "an array of integers is one input of token ids";
  EXPECT_TRUE(ids.inputs[0].is_ids);
  EXPECT_EQ(ids.inputs[0].ids, (std::vector<int64_t>{1, 2, 3}));

  auto nested = parse_embedding_request(R"({"input": [[1, 2], "text", [3]], "dimensions": 8, "user": "u"})", "m", kWidth);
  ASSERT_EQ(nested.inputs.size(), 3u);
  EXPECT_TRUE(nested.inputs[0].is_ids);
  EXPECT_FALSE(nested.inputs[1].is_ids);
  EXPECT_EQ(nested.inputs[2].ids, (std::vector<int64_t>{3}));
}

TEST(EmbeddingsApi, WhatCannotBeEmbeddedIsA400NamingTheField) {
  struct Case {
    const char* body;
    const char* param;
    const char* says;
  };
  const Case cases[] = {
      {R"({})", "input", "'input' is required"},
      {R"({"input": ""})", "input", "empty string"},
      {R"({"input": []})", "input", "empty array"},
      {R"({"input": 5})", "input", "must be a string"},
      {R"({"input": ["a", 5]})", "input[1]", "must be a string or an array of token ids"},
      {R"({"input": ["a", ""]})", "input[1]", "empty string"},
      {R"({"input": [[1], []]})", "input[1]", "empty array"},
      {R"({"input": [1, "x"]})", "input", "'input[1]' must be a token id"},
      {R"({"input": "a", "encoding_format": "int8"})", "encoding_format", "\"float\" or \"base64\""},
      {R"({"input": "a", "dimensions": 4})", "dimensions", "have 8 dimensions"},
      {R"({"input": "a", "user": 3})", "user", "must be a string"},
  };
  for (const Case& c : cases) {
    const ApiError e = error_of(c.body);
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << c.body << ": " << e.what();
  }
  EXPECT_EQ(error_of(R"({"model": "other", "input": "a"})").status, 404);
  EXPECT_EQ(error_of("{\"input\": \"\xff\"}").status, 400) << "invalid UTF-8";
  std::string too_many = R"({"input": [)";
  for (size_t i = 0; i <= kMaxEmbeddingInputs; ++i) too_many += std::string(i ? "," : "") + "\"x\"";
  too_many += "]}";
  EXPECT_EQ(error_of(too_many).param, "input");
}

TEST(EmbeddingsApi, Base64IsTheLittleEndianFloat32Bytes) {
  // 1.0f = 00 00 80 3F, -2.0f = 00 00 00 C0 (IEEE 754, little-endian), in RFC 4648 base64.
  EXPECT_EQ(base64_of_floats(std::vector<float>{1.0f}), "AACAPw==");
  EXPECT_EQ(base64_of_floats(std::vector<float>{1.0f, -2.0f}), "AACAPwAAAMA=");
  EXPECT_EQ(base64_of_floats(std::vector<float>{1.0f, -2.0f, 0.0f}), "AACAPwAAAMAAAAAA");
  EXPECT_EQ(base64_of_floats(std::vector<float>{}), "");
}

TEST(EmbeddingsApi, TheResponseHasOpenAisShape) {
  const auto body = embedding_response({{0.6f, 0.8f}, {1.0f, 0.0f}}, false, "m", 7);
  EXPECT_EQ(body["object"], "list");
  EXPECT_EQ(body["model"], "m");
  ASSERT_EQ(body["data"].size(), 2u);
  EXPECT_EQ(body["data"][1]["object"], "embedding");
  EXPECT_EQ(body["data"][1]["index"], 1);
  EXPECT_EQ(body["data"][0]["embedding"][1].get<float>(), 0.8f);
  EXPECT_EQ(body["usage"]["prompt_tokens"], 7);
  EXPECT_EQ(body["usage"]["total_tokens"], 7);
  const auto b64 = embedding_response({{1.0f}}, true, "m", 1);
  EXPECT_EQ(b64["data"][0]["embedding"], "AACAPw==");
}

}  // namespace
}  // namespace baton
