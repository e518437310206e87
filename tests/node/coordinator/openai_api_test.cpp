// Request bodies the HTTP API must refuse as the client's fault (400), including the ones
// the fuzzer found.
#include "node/coordinator/openai_api.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

int status_of(const std::string& body) {
  try {
    parse_completion_request(body, false, "m", 64);
  } catch (const ApiError& e) {
    return e.status;
  }
  return 200;
}

TEST(OpenAiApi, NumbersBeyondDoubleAndOtherBrokenJsonAre400) {
  EXPECT_EQ(status_of("5e5353"), 400);
  EXPECT_EQ(status_of(R"({"prompt": "x", "max_tokens": 1e999})"), 400);
  EXPECT_EQ(status_of("{\"prompt\": \"x\""), 400);
  EXPECT_EQ(status_of("\xff\xfe"), 400);
  EXPECT_EQ(status_of(R"({"prompt": "x", "max_tokens": 3})"), 200);
}

ApiError error_of(const std::string& body, bool chat = true) {
  try {
    parse_completion_request(body, chat, "m", 64);
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(200, "", "", "accepted");
}

TEST(OpenAiApi, InvalidUtf8IsRefusedNamingTheField) {
  const ApiError content = error_of("{\"messages\": [{\"role\": \"user\", \"content\": \"ok\"}, "
                                    "{\"role\": \"user\", \"content\": \"caf\xc3\x28\"}]}");
  EXPECT_EQ(content.status, 400);
  EXPECT_EQ(content.param, "messages[1].content");
  EXPECT_NE(std::string(content.what()).find("UTF-8"), std::string::npos) << content.what();
  EXPECT_NE(std::string(content.what()).find("0xC3"), std::string::npos) << content.what();
  const ApiError prompt = error_of("{\"prompt\": \"\xff\"}", false);
  EXPECT_EQ(prompt.status, 400);
  EXPECT_EQ(prompt.param, "prompt");
  const ApiError key = error_of("{\"messages\": [], \"\xfe\": 1}");
  EXPECT_EQ(key.status, 400);
  EXPECT_EQ(key.param, "(a key)");
  // The message itself is UTF-8: it can go into a JSON reply.
  EXPECT_NO_THROW(error_body(content).dump());
}

TEST(OpenAiApi, ContentPartsAreJoinedTextAndOtherPartsRefused) {
  const CompletionRequest r = parse_completion_request(
      R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]}]})",
      true, "m", 64);
  ASSERT_EQ(r.prompt.messages.size(), 1u);
  EXPECT_EQ(r.prompt.messages[0].content, "Hello\nthere");
  const ApiError image = error_of(
      R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": "data:,"}}]}]})");
  EXPECT_EQ(image.status, 400);
  EXPECT_EQ(image.param, "messages[0].content[1].type");
  EXPECT_NE(std::string(image.what()).find("image_url"), std::string::npos);
  EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": [{"text": "no type"}]}]})").param,
            "messages[0].content[0].type");
  EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": 5}]})").param, "messages[0].content");
}

TEST(OpenAiApi, DeveloperIsSystemAndToolCallsMayHaveNullContent) {
  const CompletionRequest r = parse_completion_request(
      R"({"messages": [{"role": "developer", "content": "Be brief."},
                       {"role": "user", "content": "Weather?"},
                       {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "weather", "arguments": "{}"}}]},
                       {"role": "user", "content": "Thanks"}]})",
      true, "m", 64);
  ASSERT_EQ(r.prompt.messages.size(), 4u);
  EXPECT_EQ(r.prompt.messages[0].role, "system");
  EXPECT_EQ(r.prompt.messages[2].role, "assistant");
  // The call goes back into the conversation in the tools' prompt format.
  EXPECT_EQ(r.prompt.messages[2].content, "<tool_call>\n{\"name\":\"weather\",\"arguments\":{}}\n</tool_call>");
  // Without tool_calls, content is required.
  EXPECT_EQ(error_of(R"({"messages": [{"role": "assistant", "content": null}]})").param, "messages[0].content");
  EXPECT_EQ(error_of(R"({"messages": [{"role": "user"}]})").param, "messages[0].content");
  EXPECT_EQ(error_of(R"({"messages": [{"role": "wizard", "content": "x"}]})").param, "messages[0].role");
}

TEST(OpenAiApi, ChoicesCount) {
  EXPECT_EQ(parse_completion_request(R"({"prompt": "x"})", false, "m", 64).n, 1);
  EXPECT_EQ(parse_completion_request(R"({"prompt": "x", "n": 3})", false, "m", 64).n, 3);
  EXPECT_EQ(error_of(R"({"prompt": "x", "n": 0})", false).param, "n");
  EXPECT_EQ(error_of(R"({"prompt": "x", "n": 1000})", false).param, "n");
  CompletionRequest req = parse_completion_request(R"({"prompt": "x", "n": 2})", false, "m", 64);
  GenerationResult a, b;
  a.text = "one";
  a.prompt_tokens = 4;
  a.completion_tokens = 2;
  b.text = "two";
  b.prompt_tokens = 4;
  b.completion_tokens = 3;
  b.finish = FinishReason::Length;
  const auto body = completion_response(req, "cmpl-1", 0, "m", {a, b});
  ASSERT_EQ(body["choices"].size(), 2u);
  EXPECT_EQ(body["choices"][1]["index"], 1);
  EXPECT_EQ(body["choices"][1]["text"], "two");
  EXPECT_EQ(body["choices"][1]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 4);
  EXPECT_EQ(body["usage"]["completion_tokens"], 5);
}

}  // namespace
}  // namespace baton

namespace baton {
namespace {

TEST(OpenAiApi, ResponseFormatJsonObjectAndJsonSchemaAreHonoured) {
  const auto with = [](const std::string& format, int max_tokens = 256) {
    return std::string(R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": )") +
           std::to_string(max_tokens) + R"(, "response_format": )" + format + "}";
  };
  EXPECT_TRUE(parse_completion_request(with(R"({"type": "json_object"})"), true, "m", 64).params.json_object);
  EXPECT_FALSE(parse_completion_request(with(R"({"type": "text"})"), true, "m", 64).params.json_object);
  EXPECT_FALSE(parse_completion_request(with("null"), true, "m", 64).params.json_object);
  const std::string person = R"({"type": "json_schema", "json_schema": {"name": "person", "strict": true, "schema":
      {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
       "required": ["name", "age"], "additionalProperties": false}}})";
  const CompletionRequest r = parse_completion_request(with(person), true, "m", 64);
  ASSERT_TRUE(r.params.grammar);
  EXPECT_FALSE(r.params.json_object);
  // The schema's order, not the parser's alphabetical one: "name" comes first.
  GrammarState state(*r.params.grammar);
  EXPECT_TRUE(state.feed(R"({"name": "Ann", "age": 3})") && state.complete());
  EXPECT_FALSE(GrammarState(*r.params.grammar).feed(R"({"age")"));

  const ApiError keyword = error_of(with(R"({"type": "json_schema", "json_schema": {"name": "x", "schema":
      {"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}}}})"));
  EXPECT_EQ(keyword.status, 400);
  EXPECT_EQ(keyword.param, "response_format.json_schema.schema.properties.age.minimum");
  EXPECT_NE(std::string(keyword.what()).find("'minimum'"), std::string::npos) << keyword.what();
  EXPECT_EQ(error_of(with(R"({"type": "json_schema", "json_schema": {"schema": {}}})")).param,
            "response_format.json_schema.name");
  EXPECT_EQ(error_of(with(R"({"type": "json_schema", "json_schema": {"name": "x"}})")).param,
            "response_format.json_schema.schema");
  EXPECT_EQ(error_of(with(R"({"type": "json_schema"})")).param, "response_format.json_schema");
  EXPECT_EQ(error_of(with(person, 10)).param, "max_tokens") << "the shortest instance has 22 bytes";
  EXPECT_EQ(error_of(with(R"({"type": "yaml"})")).param, "response_format.type");
  EXPECT_EQ(error_of(with(R"("json")")).param, "response_format");
}

}  // namespace
}  // namespace baton
