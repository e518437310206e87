// The byte grammar matcher behind constrained sampling, and JSON schemas compiled into it:
// random texts the grammar allows (cut short by a budget the way max_tokens cuts a reply)
// must parse and satisfy the schema by an independent check; texts that break the schema
// are refused at the byte where they do; unsupported keywords are named.
#include "model/grammar.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>

#include "model/json_schema_grammar.h"
#include "tests/model/schema_check.h"

namespace baton {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

// The reference check reads plain JSON.
std::string schema_violation(const json& value, const ojson& schema) {
  return testing::schema_violation(value, json::parse(schema.dump()));
}

bool whole(const Grammar& g, const std::string& text) {
  GrammarState s(g);
  return s.feed(text) && s.complete();
}

// Bytes accepted before the first refusal.
size_t accepted_bytes(const Grammar& g, const std::string& text) {
  GrammarState s(g);
  for (size_t i = 0; i < text.size(); ++i) {
    if (!s.feed(static_cast<unsigned char>(text[i]))) return i;
  }
  return text.size();
}

// A random sentence: each byte drawn among those the state allows and after which the
// shortest ending still fits in `budget`; stops at random once whole, and must be whole
// when the budget runs out, as a constrained reply must be at max_tokens.
std::string random_sentence(const Grammar& g, std::mt19937& rng, int budget) {
  GrammarState s(g);
  std::string out;
  EXPECT_LE(static_cast<int>(s.shortest_ending_length()), budget);
  for (int left = budget; left > 0; --left) {
    if (s.complete() && rng() % 4 == 0) break;
    std::vector<unsigned char> allowed;
    for (int c = 0; c < 256; ++c) {
      GrammarState next = s;
      if (next.feed(static_cast<unsigned char>(c)) && static_cast<int>(next.shortest_ending_length()) <= left - 1) {
        allowed.push_back(static_cast<unsigned char>(c));
      }
    }
    if (allowed.empty()) {
      EXPECT_TRUE(s.complete()) << "stuck after " << out;
      break;
    }
    // Prefer structure over long runs of string bytes now and then, as a model would.
    const unsigned char c = allowed[rng() % allowed.size()];
    EXPECT_TRUE(s.feed(c));
    out.push_back(static_cast<char>(c));
  }
  EXPECT_TRUE(s.complete()) << "not whole at the end of the budget: " << out;
  return out;
}

TEST(Grammar, AlternativesSharePrefixesAndShortestEndingCloses) {
  Grammar g;
  const auto root = g.add_rule();
  const auto digits = g.add_rule();
  g.add_alternative(digits, {});
  g.add_alternative(digits, {Grammar::Item::bytes(Grammar::range('0', '9')), Grammar::Item::rule(digits)});
  g.add_alternative(root, Grammar::literal("abc"));
  g.add_alternative(root, Grammar::literal("abd"));
  auto n = Grammar::literal("n=");
  n.push_back(Grammar::Item::rule(digits));
  g.add_alternative(root, n);
  g.finish(root);
  EXPECT_TRUE(whole(g, "abc"));
  EXPECT_TRUE(whole(g, "abd"));
  EXPECT_FALSE(whole(g, "ab"));
  EXPECT_EQ(accepted_bytes(g, "abe"), 2u);
  EXPECT_TRUE(whole(g, "n=")) << "no digits is a whole sentence";
  EXPECT_TRUE(whole(g, "n=0123456789012345678901234567890123456789")) << "right recursion keeps the stack flat";
  GrammarState s(g);
  EXPECT_EQ(s.shortest_ending_length(), 2u);
  EXPECT_EQ(s.shortest_ending(), "n=");
  ASSERT_TRUE(s.feed("ab"));
  EXPECT_EQ(s.shortest_ending_length(), 1u);
  EXPECT_FALSE(s.feed('x'));
  EXPECT_TRUE(s.feed('d'));
  EXPECT_TRUE(s.complete());
  EXPECT_EQ(s.shortest_ending_length(), 0u);
}

TEST(Grammar, ARuleWithoutAFiniteSentenceIsRefused) {
  Grammar g;
  const auto loop = g.add_rule();
  g.add_alternative(loop, {Grammar::Item::bytes(Grammar::byte('a')), Grammar::Item::rule(loop)});
  EXPECT_THROW(g.finish(loop), std::invalid_argument);
}

const ojson kPerson = ojson::parse(R"({
  "type": "object",
  "properties": {
    "name": {"type": "string"},
    "age": {"type": "integer"},
    "height": {"type": "number"},
    "member": {"type": "boolean"},
    "pet": {"type": ["string", "null"]},
    "color": {"enum": ["red", "green", "blue"]},
    "kind": {"const": "person"},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "integer"}},
                "required": ["city", "zip"], "additionalProperties": false}
  },
  "required": ["name", "age", "height", "member", "pet", "color", "kind", "tags", "address"],
  "additionalProperties": false
})");

const ojson kOptional = ojson::parse(R"({
  "type": "object",
  "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}},
  "required": ["b"],
  "additionalProperties": false
})");

const ojson kAnyOf = ojson::parse(R"({
  "type": "object",
  "properties": {
    "shape": {"anyOf": [
      {"type": "object", "properties": {"radius": {"type": "number"}}, "required": ["radius"], "additionalProperties": false},
      {"type": "object", "properties": {"width": {"type": "number"}, "height": {"type": "number"}},
       "required": ["width", "height"], "additionalProperties": false}
    ]},
    "points": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4}
  },
  "required": ["shape", "points"],
  "additionalProperties": false
})");

const ojson kRecursive = ojson::parse(R"({
  "$defs": {
    "node": {"type": "object", "properties": {"value": {"type": "integer"},
             "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}},
             "required": ["value", "children"], "additionalProperties": false}
  },
  "type": "object",
  "properties": {"root": {"$ref": "#/$defs/node"}},
  "required": ["root"],
  "additionalProperties": false
})");

TEST(JsonSchemaGrammar, RandomSentencesParseAndFollowTheSchema) {
  std::mt19937 rng(7);
  int checked = 0;
  for (const ojson& schema : {kPerson, kOptional, kAnyOf, kRecursive, ojson::parse(R"({"type": "object"})"),
                              ojson::parse(R"({"type": "array", "items": {"type": ["integer", "boolean"]}})"),
                              ojson::parse("{}"), ojson::parse(R"({"enum": [1, "two", null, {"x": [3]}]})")}) {
    const auto grammar = compile_json_schema(schema);
    const int shortest = static_cast<int>(GrammarState(*grammar).shortest_ending_length());
    for (int i = 0; i < 60; ++i) {
      const int budget = shortest + static_cast<int>(rng() % 200);
      const std::string text = random_sentence(*grammar, rng, budget);
      ASSERT_TRUE(json::accept(text)) << schema.dump() << "\n" << text;
      EXPECT_EQ(schema_violation(json::parse(text), schema), "") << text;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 8 * 60);
}

TEST(JsonSchemaGrammar, ShortestEndingClosesEveryPrefix) {
  std::mt19937 rng(11);
  for (const ojson& schema : {kPerson, kAnyOf, kRecursive}) {
    const auto grammar = compile_json_schema(schema);
    for (int i = 0; i < 20; ++i) {
      const std::string text = random_sentence(*grammar, rng, 400);
      for (size_t cut = 0; cut <= text.size(); cut += 1 + rng() % 7) {
        GrammarState s(*grammar);
        ASSERT_TRUE(s.feed(text.substr(0, cut)));
        const std::string ending = s.shortest_ending();
        EXPECT_EQ(ending.size(), s.shortest_ending_length());
        const std::string closed = text.substr(0, cut) + ending;
        EXPECT_TRUE(whole(*grammar, closed)) << closed;
        EXPECT_EQ(schema_violation(json::parse(closed), schema), "") << closed;
      }
    }
  }
}

TEST(JsonSchemaGrammar, TextsThatBreakTheSchemaAreRefusedWhereTheyDo) {
  const auto person = compile_json_schema(kPerson);
  const std::string good =
      R"({"name": "Ann", "age": 41, "height": 1.72, "member": true, "pet": null, "color": "green", "kind": "person",)"
      R"( "tags": ["a", "b"], "address": {"city": "Oslo", "zip": 150}})";
  EXPECT_TRUE(whole(*person, good));
  EXPECT_EQ(schema_violation(json::parse(good), kPerson), "");
  const std::string prefix = R"({"name": "Ann", "age": )";
  EXPECT_EQ(accepted_bytes(*person, prefix + R"("41")"), prefix.size()) << "a string where an integer goes";
  EXPECT_EQ(accepted_bytes(*person, prefix + "4.5"), prefix.size() + 1) << "an integer has no fraction";
  EXPECT_EQ(accepted_bytes(*person, R"({"name": "Ann", "height")"), 17u) << "required 'age' comes next";
  EXPECT_EQ(accepted_bytes(*person, R"({"nickname": 1)"), 3u) << "no property beyond the listed ones";
  const std::string to_color = R"({"name": "", "age": 0, "height": 0, "member": false, "pet": "x", "color": ")";
  EXPECT_EQ(accepted_bytes(*person, to_color + "yellow\""), to_color.size()) << "not in the enum";
  const std::string to_tags = to_color + R"(red", "kind": "person", "tags": ["1", "2", "3")";
  EXPECT_EQ(accepted_bytes(*person, to_tags + ", \"4\"]"), to_tags.size()) << "maxItems 3";
  EXPECT_EQ(accepted_bytes(*person, R"({"name": "Ann"})"), 14u) << "the object cannot close before its required keys";

  const auto optional = compile_json_schema(kOptional);
  EXPECT_TRUE(whole(*optional, R"({"b": ""})"));
  EXPECT_TRUE(whole(*optional, R"({"a": 1, "b": "x", "c": true})"));
  EXPECT_FALSE(whole(*optional, R"({"a": 1})"));
  EXPECT_FALSE(whole(*optional, R"({"b": "x", "a": 1})")) << "properties come in the schema's order";

  const auto any_of = compile_json_schema(kAnyOf);
  EXPECT_TRUE(whole(*any_of, R"({"shape": {"width": 1, "height": 2}, "points": [1, 2]})"));
  EXPECT_FALSE(whole(*any_of, R"({"shape": {"radius": 1, "height": 2}, "points": [1, 2]})"));
  EXPECT_FALSE(whole(*any_of, R"({"shape": {"radius": 1}, "points": [1]})")) << "minItems 2";
}

TEST(JsonSchemaGrammar, StringsAreWellFormedUtf8WithoutLoneSurrogates) {
  const auto g = compile_json_schema(ojson::parse(R"({"type": "string"})"));
  EXPECT_TRUE(whole(*g, "\"caf\xC3\xA9 \\u00e9 \\n\""));
  EXPECT_FALSE(whole(*g, "\"\xC3\""));
  EXPECT_EQ(accepted_bytes(*g, "\"\xC0\xAF\""), 1u) << "an overlong encoding";
  EXPECT_EQ(accepted_bytes(*g, "\"\\ud800\""), 4u) << "a lone surrogate escape";
  EXPECT_EQ(accepted_bytes(*g, "\"a\nb\""), 2u) << "control characters must be escaped";
}

// A tool call: {"name": ..., "arguments": ...} naming one of the functions, with arguments
// that follow that function's schema (each function's $ref resolves in its own schema).
TEST(JsonSchemaGrammar, ToolCallsNameAFunctionAndFollowItsParameters) {
  const std::vector<ToolSchema> functions = {
      {"get_weather", ojson::parse(R"({"type": "object", "properties": {"city": {"type": "string"},
                                     "unit": {"enum": ["c", "f"]}}, "required": ["city", "unit"],
                                     "additionalProperties": false})")},
      {"add", ojson::parse(R"({"$defs": {"n": {"type": "integer"}}, "type": "object",
                             "properties": {"a": {"$ref": "#/$defs/n"}, "b": {"$ref": "#/$defs/n"}},
                             "required": ["a", "b"], "additionalProperties": false})")},
  };
  const auto grammar = compile_tool_call_grammar(functions);
  std::mt19937 rng(3);
  int seen[2] = {0, 0};
  for (int i = 0; i < 60; ++i) {
    const std::string text = random_sentence(*grammar, rng, 60 + static_cast<int>(rng() % 100));
    ASSERT_TRUE(json::accept(text)) << text;
    const json call = json::parse(text);
    ASSERT_TRUE(call.contains("name") && call.contains("arguments")) << text;
    const size_t which = call["name"] == "get_weather" ? 0 : 1;
    EXPECT_EQ(call["name"], functions[which].name);
    EXPECT_EQ(schema_violation(call["arguments"], functions[which].parameters), "") << text;
    ++seen[which];
  }
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
  EXPECT_FALSE(whole(*grammar, R"({"name": "add", "arguments": {"city": "x", "unit": "c"}})"));
  try {
    compile_tool_call_grammar({functions[0], {"bad", ojson::parse(R"({"type": "string", "pattern": "x"})")}});
    ADD_FAILURE() << "a pattern was accepted";
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.where, "1.pattern");
  }
}

TEST(JsonSchemaGrammar, UnsupportedKeywordsAreRefusedByName) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"type": "string", "pattern": "^a"})", "pattern"},
      {R"({"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}})", "properties.age.minimum"},
      {R"({"oneOf": [{"type": "string"}]})", "oneOf"},
      {R"({"type": "string", "format": "date"})", "format"},
      {R"({"allOf": []})", "allOf"},
      {R"({"type": "object", "additionalProperties": {"type": "string"}})", "additionalProperties"},
      {R"({"$ref": "https://example.com/s.json"})", "$ref"},
      {R"({"$ref": "#/$defs/missing"})", "$ref"},
      {R"({"type": "object", "properties": {}, "required": ["x"]})", "required"},
      {R"({"type": "text"})", "type"},
      {R"({"type": "integer", "enum": ["a"]})", "enum"},
      {R"({"type": "array", "maxItems": 100000})", "maxItems"},
  };
  for (const auto& [schema, where] : cases) {
    try {
      compile_json_schema(ojson::parse(schema));
      ADD_FAILURE() << "accepted " << schema;
    } catch (const SchemaError& e) {
      EXPECT_EQ(e.where, where) << schema << ": " << e.what();
    }
  }
  // A cycle through required properties has no finite instance.
  EXPECT_THROW(compile_json_schema(ojson::parse(
                   R"({"type": "object", "properties": {"next": {"$ref": "#"}}, "required": ["next"]})")),
               SchemaError);
}

}  // namespace
}  // namespace baton
