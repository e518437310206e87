// Structured output and tools through a real coordinator and 2 node processes with the
// shipped model: response_format json_schema replies always parse and follow the schema
// (checked by an independent validator), streamed or not, whatever the seed; schemas the
// server cannot enforce are refused with a 400 naming the keyword; a forced tool call is
// a valid call of a listed function, in message.tool_calls or as delta.tool_calls.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "local_cluster.h"
#include "tests/model/schema_check.h"

namespace baton {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string model_path() { return std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf"; }

// The context is longer than the model's 256 so that a prompt listing two tools fits.
class StructuredOutput : public test::SharedClusterSuite<StructuredOutput> {
 public:
  static std::unique_ptr<test::LocalCluster> start() {
    return std::unique_ptr<test::LocalCluster>(new test::LocalCluster(
        model_path(), std::vector<test::NodeSpec>(2), {"--ctx", "1024"}, test::temp_dir("structured-output")));
  }

 protected:
  // The reply's status and body; a stream's chunks are returned as an array.
  std::pair<int, json> post(const ojson& body) {
    httplib::Client c("127.0.0.1", cluster_->http_port());
    c.set_read_timeout(120, 0);
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return {0, nullptr};
    if (body.value("stream", false) && r->status == 200) {
      json chunks = json::array();
      std::istringstream lines(r->body);
      std::string line;
      while (std::getline(lines, line)) {
        if (line.rfind("data: ", 0) == 0 && line != "data: [DONE]") chunks.push_back(json::parse(line.substr(6)));
      }
      return {r->status, chunks};
    }
    return {r->status, json::parse(r->body)};
  }

  static ojson request(const ojson& schema, uint64_t seed, int max_tokens) {
    return {{"messages", {{{"role", "user"}, {"content", "Tell me about Moses as JSON."}}}},
            {"max_tokens", max_tokens},
            {"temperature", 1.0},
            {"seed", seed},
            {"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "reply"}, {"strict", true},
                                                                            {"schema", schema}}}}}};
  }
};

const ojson kSchemas[] = {
    ojson::parse(R"({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                   "prophet": {"type": "boolean"}}, "required": ["name", "age", "prophet"],
                   "additionalProperties": false})"),
    ojson::parse(R"({"type": "object", "properties": {
                   "tribe": {"enum": ["Levi", "Judah", "Dan"]},
                   "height": {"type": ["number", "null"]},
                   "books": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}},
                   "required": ["tribe", "height", "books"], "additionalProperties": false})"),
    ojson::parse(R"({"$defs": {"person": {"type": "object", "properties": {"name": {"type": "string"},
                   "children": {"type": "array", "items": {"$ref": "#/$defs/person"}, "maxItems": 2}},
                   "required": ["name", "children"], "additionalProperties": false}},
                   "type": "object", "properties": {"kind": {"const": "family"}, "head": {"$ref": "#/$defs/person"},
                   "place": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"x": {"type": "number"},
                   "y": {"type": "number"}}, "required": ["x", "y"], "additionalProperties": false}]}},
                   "required": ["kind", "head", "place"], "additionalProperties": false})"),
};

TEST_F(StructuredOutput, JsonSchemaRepliesParseAndFollowTheSchemaForEverySeed) {
  int ended_by_itself = 0, replies = 0;
  for (size_t s = 0; s < std::size(kSchemas); ++s) {
    const ojson& schema = kSchemas[s];
    const json plain = json::parse(schema.dump());
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      // Short ones must close in time (the third schema's shortest instance has 61 bytes).
      const int max_tokens = seed % 2 == 0 ? (s == 2 ? 72 : 48) : 200;
      const auto [status, body] = post(request(schema, seed, max_tokens));
      ASSERT_EQ(status, 200) << body.dump();
      const std::string text = body["choices"][0]["message"]["content"].get<std::string>();
      ASSERT_TRUE(json::accept(text)) << "seed " << seed << ": " << text;
      EXPECT_EQ(testing::schema_violation(json::parse(text), plain), "") << text;
      EXPECT_LE(body["usage"]["completion_tokens"].get<int>(), max_tokens);
      if (body["choices"][0]["finish_reason"] == "stop") ++ended_by_itself;
      if (seed == 1) std::printf("schema %zu: %s\n", s, text.c_str());
      ++replies;
    }
  }
  std::printf("json_schema: %d of %d replies ended by themselves, the rest closed at max_tokens\n", ended_by_itself,
              replies);
}

TEST_F(StructuredOutput, AStreamedJsonSchemaReplyIsWholeToo) {
  ojson body = request(kSchemas[0], 9, 64);
  body["stream"] = true;
  const auto [status, chunks] = post(body);
  ASSERT_EQ(status, 200) << chunks.dump();
  std::string text;
  for (const json& c : chunks) {
    if (c.contains("choices") && !c["choices"].empty()) text += c["choices"][0]["delta"].value("content", "");
  }
  ASSERT_TRUE(json::accept(text)) << text;
  EXPECT_EQ(testing::schema_violation(json::parse(text), json::parse(kSchemas[0].dump())), "") << text;
}

TEST_F(StructuredOutput, SchemasThatCannotBeEnforcedAreRefusedNamingTheKeyword) {
  const ojson schema = ojson::parse(R"({"type": "object", "properties": {"email": {"type": "string",
                                       "format": "email"}}, "required": ["email"], "additionalProperties": false})");
  const auto [status, body] = post(request(schema, 1, 64));
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["param"], "response_format.json_schema.schema.properties.email.format");
  EXPECT_NE(body["error"]["message"].get<std::string>().find("'format'"), std::string::npos) << body.dump();
  const auto [short_status, short_body] = post(request(kSchemas[0], 1, 8));
  EXPECT_EQ(short_status, 400);
  EXPECT_EQ(short_body["error"]["param"], "max_tokens");
}

const ojson kTools = ojson::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "description": "The weather in a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                  "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"],
                  "additionalProperties": false}}},
  {"type": "function", "function": {"name": "add", "description": "Adds two integers",
   "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                  "required": ["a", "b"], "additionalProperties": false}}}])");

// The function's schema, by name.
json parameters_of(const std::string& name) {
  for (const ojson& t : kTools) {
    if (t["function"]["name"] == name) return json::parse(t["function"]["parameters"].dump());
  }
  return nullptr;
}

TEST_F(StructuredOutput, ARequiredToolCallIsAValidCallForEverySeed) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const ojson body = {{"messages", {{{"role", "user"}, {"content", "What is the weather in Jerusalem?"}}}},
                        {"max_tokens", 64}, {"temperature", 1.0}, {"seed", seed}, {"tools", kTools},
                        {"tool_choice", "required"}};
    const auto [status, reply] = post(body);
    ASSERT_EQ(status, 200) << reply.dump();
    const json& choice = reply["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "tool_calls");
    EXPECT_TRUE(choice["message"]["content"].is_null());
    ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u) << reply.dump();
    const json& call = choice["message"]["tool_calls"][0];
    EXPECT_EQ(call["type"], "function");
    EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u);
    const json schema = parameters_of(call["function"]["name"].get<std::string>());
    ASSERT_FALSE(schema.is_null()) << call.dump();
    const std::string args = call["function"]["arguments"].get<std::string>();
    ASSERT_TRUE(json::accept(args)) << args;
    EXPECT_EQ(testing::schema_violation(json::parse(args), schema), "") << args;
  }
}

TEST_F(StructuredOutput, ANamedToolCallStreamsAsToolCallDeltas) {
  const ojson body = {{"messages", {{{"role", "user"}, {"content", "Add 2 and 3."}}}},
                      {"max_tokens", 48}, {"seed", 5}, {"stream", true}, {"tools", kTools},
                      {"tool_choice", {{"type", "function"}, {"function", {{"name", "add"}}}}}};
  const auto [status, chunks] = post(body);
  ASSERT_EQ(status, 200) << chunks.dump();
  std::string name, args, finish, content;
  for (const json& c : chunks) {
    if (!c.contains("choices") || c["choices"].empty()) continue;
    const json& choice = c["choices"][0];
    if (choice["finish_reason"].is_string()) finish = choice["finish_reason"].get<std::string>();
    const json& delta = choice["delta"];
    if (delta.contains("content") && delta["content"].is_string()) content += delta["content"].get<std::string>();
    for (const json& d : delta.value("tool_calls", json::array())) {
      EXPECT_EQ(d["index"], 0);
      if (d.contains("function") && d["function"].contains("name")) name += d["function"]["name"].get<std::string>();
      if (d.contains("function") && d["function"].contains("arguments")) {
        args += d["function"]["arguments"].get<std::string>();
      }
    }
  }
  EXPECT_EQ(finish, "tool_calls");
  EXPECT_EQ(content, "") << "a call is not shown as text";
  EXPECT_EQ(name, "add");
  ASSERT_TRUE(json::accept(args)) << args;
  EXPECT_EQ(testing::schema_violation(json::parse(args), parameters_of("add")), "") << args;
}

TEST_F(StructuredOutput, ToolResultsGoBackInAndAutoRepliesAreAnswered) {
  const ojson body = {
      {"messages", ojson::parse(R"([
        {"role": "user", "content": "What is the weather in Jerusalem?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Jerusalem\", \"unit\": \"celsius\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temperature\": 21}"}])")},
      {"max_tokens", 16}, {"seed", 1}, {"tools", kTools}};
  const auto [status, reply] = post(body);
  ASSERT_EQ(status, 200) << reply.dump();
  const json& message = reply["choices"][0]["message"];
  // auto: the model may answer or call again; either way the shape is OpenAI's.
  if (message.contains("tool_calls")) EXPECT_EQ(reply["choices"][0]["finish_reason"], "tool_calls");
  else EXPECT_TRUE(message["content"].is_string()) << reply.dump();
  // The rendered tools, call and result make the prompt longer than the question alone.
  ojson plain = {{"messages", {{{"role", "user"}, {"content", "What is the weather in Jerusalem?"}}}},
                 {"max_tokens", 1}};
  EXPECT_GT(reply["usage"]["prompt_tokens"].get<int>(), post(plain).second["usage"]["prompt_tokens"].get<int>() + 100);
}

}  // namespace
}  // namespace baton
