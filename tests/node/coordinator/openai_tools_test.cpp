// Tools in the chat API: definitions, earlier calls and results rendered into the
// conversation; tool_choice parsed (a forced call gets the grammar of a call to the
// allowed functions); replies read back into OpenAI's tool_calls.
#include "node/coordinator/openai_tools.h"

#include <gtest/gtest.h>

#include "node/coordinator/openai_api.h"

namespace baton {
namespace {

using nlohmann::json;

const char* kTools = R"("tools": [
  {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
                  "required": ["city", "unit"], "additionalProperties": false}}},
  {"type": "function", "function": {"name": "add", "parameters": {"type": "object",
   "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"],
   "additionalProperties": false}}}])";

CompletionRequest parse(const std::string& extra, const std::string& messages = R"([{"role": "user", "content": "hi"}])") {
  return parse_completion_request("{\"messages\": " + messages + ", " + extra + "}", true, "m", 64);
}

ApiError error_of(const std::string& extra, const std::string& messages = R"([{"role": "user", "content": "hi"}])") {
  try {
    parse(extra, messages);
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(200, "", "", "accepted");
}

TEST(OpenAiTools, ToolsAreListedInTheSystemMessageAndAutoIsTheDefault) {
  const CompletionRequest r = parse(kTools, R"([{"role": "system", "content": "Be brief."},
                                               {"role": "user", "content": "Weather in Oslo?"}])");
  EXPECT_EQ(r.tools.choice, ToolChoice::Auto);
  EXPECT_FALSE(r.tools.call_grammar) << "auto samples freely";
  EXPECT_FALSE(r.params.grammar);
  ASSERT_EQ(r.prompt.messages.size(), 2u);
  const std::string& system = r.prompt.messages[0].content;
  EXPECT_EQ(system.rfind("Be brief.\n\n# Tools", 0), 0u) << system;
  EXPECT_NE(system.find(R"({"type":"function","function":{"name":"get_weather","description":"Weather in a city",)"
                        R"("parameters":{"type":"object","properties":{"city":)"),
            std::string::npos)
      << "listed in the client's key order: " << system;
  EXPECT_NE(system.find("<tool_call>"), std::string::npos);
  // Without a system message one is added first; with "none" nothing is.
  EXPECT_EQ(parse(kTools).prompt.messages[0].role, "system");
  const CompletionRequest none = parse(std::string(kTools) + R"(, "tool_choice": "none")");
  EXPECT_EQ(none.tools.choice, ToolChoice::None);
  EXPECT_EQ(none.prompt.messages.size(), 1u);
}

TEST(OpenAiTools, RequiredAndNamedChoicesConstrainTheReplyToACall) {
  const CompletionRequest required = parse(std::string(kTools) + R"(, "tool_choice": "required")");
  ASSERT_TRUE(required.params.grammar);
  GrammarState any(*required.params.grammar);
  EXPECT_TRUE(any.feed(R"({"name": "add", "arguments": {"a": 1, "b": 2}})") && any.complete());
  EXPECT_FALSE(GrammarState(*required.params.grammar).feed(R"({"name": "sub")"));

  const CompletionRequest named =
      parse(std::string(kTools) + R"(, "tool_choice": {"type": "function", "function": {"name": "get_weather"}})");
  EXPECT_EQ(named.tools.choice, ToolChoice::Named);
  ASSERT_TRUE(named.params.grammar);
  EXPECT_FALSE(GrammarState(*named.params.grammar).feed(R"({"name": "add")")) << "only the named function";
  GrammarState weather(*named.params.grammar);
  EXPECT_TRUE(weather.feed(R"({"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}})") &&
              weather.complete());
  EXPECT_FALSE(GrammarState(*named.params.grammar)
                   .feed(R"({"name": "get_weather", "arguments": {"city": "Oslo", "unit": "k")"))
      << "the unit's enum";
}

TEST(OpenAiTools, BadToolsAndChoicesAreRefusedNamingTheField) {
  EXPECT_EQ(error_of(R"("tools": [{"type": "function", "function": {"name": "a b"}}])").param, "tools[0].function.name");
  EXPECT_EQ(error_of(R"("tools": [{"type": "retrieval"}])").param, "tools[0].type");
  EXPECT_EQ(error_of(R"("tools": {"a": 1})").param, "tools");
  EXPECT_EQ(error_of(std::string(kTools) + R"(, "tool_choice": "always")").param, "tool_choice");
  EXPECT_EQ(error_of(std::string(kTools) + R"(, "tool_choice": {"type": "function", "function": {"name": "nope"}})").param,
            "tool_choice");
  EXPECT_EQ(error_of(R"("tool_choice": "required")").param, "tool_choice") << "no tools to call";
  // A forced call must follow the schema: a keyword the server cannot enforce is named.
  const ApiError keyword = error_of(R"("tools": [{"type": "function", "function": {"name": "f", "parameters":
      {"type": "object", "properties": {"d": {"type": "string", "format": "date"}}}}}], "tool_choice": "required")");
  EXPECT_EQ(keyword.param, "tools[0].function.parameters.properties.d.format");
  // ... but with auto the schema is only shown to the model.
  EXPECT_EQ(error_of(R"("tools": [{"type": "function", "function": {"name": "f", "parameters":
      {"type": "object", "properties": {"d": {"type": "string", "format": "date"}}}}}])").status, 200);
  EXPECT_EQ(error_of(std::string(kTools) + R"(, "tool_choice": "required", "response_format": {"type": "json_object"})").param,
            "response_format");
}

TEST(OpenAiTools, EarlierCallsAndToolResultsGoBackIntoTheConversation) {
  const CompletionRequest r = parse(kTools, R"([
    {"role": "user", "content": "Weather in Oslo?"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
     "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\", \"unit\": \"c\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 4}"}])");
  ASSERT_EQ(r.prompt.messages.size(), 4u);
  EXPECT_EQ(r.prompt.messages[2].role, "assistant");
  EXPECT_EQ(r.prompt.messages[2].content,
            "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\",\"unit\":\"c\"}}\n</tool_call>");
  EXPECT_EQ(r.prompt.messages[3].role, "user");
  EXPECT_EQ(r.prompt.messages[3].content, "<tool_response>\n{\"temp\": 4}\n</tool_response>");
  EXPECT_EQ(error_of(kTools, R"([{"role": "tool", "content": "x"}])").param, "messages[0].tool_call_id");
  EXPECT_EQ(error_of(kTools, R"([{"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type":
      "function", "function": {"name": "f", "arguments": "{oops"}}]}])").param,
            "messages[0].tool_calls[0].function.arguments");
}

TEST(OpenAiTools, RepliesAreReadIntoToolCalls) {
  const CompletionRequest r = parse(kTools);
  const ToolReply tagged = read_tool_reply(
      r.tools, "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
      "x_0");
  ASSERT_EQ(tagged.tool_calls.size(), 1u);
  EXPECT_EQ(tagged.tool_calls[0]["id"], "call_x_0_0");
  EXPECT_EQ(tagged.tool_calls[0]["type"], "function");
  EXPECT_EQ(tagged.tool_calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(tagged.tool_calls[0]["function"]["arguments"].get<std::string>()), json({{"city", "Oslo"}}));
  EXPECT_EQ(tagged.content, "Let me look.");

  const ToolReply bare = read_tool_reply(r.tools, R"( {"name": "add", "arguments": {"a": 1, "b": 2}} )", "x_0");
  ASSERT_EQ(bare.tool_calls.size(), 1u);
  EXPECT_FALSE(bare.content);

  const ToolReply unknown = read_tool_reply(r.tools, R"(<tool_call>{"name": "rm", "arguments": {}}</tool_call>)", "x");
  EXPECT_TRUE(unknown.tool_calls.empty()) << "not a listed function: it stays text";
  EXPECT_EQ(unknown.content, R"(<tool_call>{"name": "rm", "arguments": {}}</tool_call>)");
  EXPECT_TRUE(read_tool_reply(r.tools, "It is cold.", "x").tool_calls.empty());

  GenerationResult result;
  result.text = R"({"name": "add", "arguments": {"a": 1, "b": 2}})";
  const json body = completion_response(r, "chatcmpl-abc", 0, "m", {result});
  const json& choice = body["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_TRUE(choice["message"]["content"].is_null());
  EXPECT_EQ(choice["message"]["tool_calls"][0]["id"], "call_abc_0_0");
  EXPECT_EQ(choice["message"]["tool_calls"][0]["function"]["arguments"], R"({"a":1,"b":2})");
}

}  // namespace
}  // namespace baton
