// A JSON schema compiled into a Grammar whose sentences are JSON texts that follow it: the
// core of response_format json_schema and of tool calls. The subset is the one OpenAI's
// strict mode accepts: type (one or a list), properties / required /
// additionalProperties, items with minItems / maxItems, enum, const, anyOf, $defs (or
// definitions) with $ref to them or to "#", and the annotations (title, description,
// default, examples, ...), which change nothing. Every other keyword is refused by name
// rather than ignored, since ignoring one would let the output break the schema.
//
// What the grammar writes is a subset of what the schema accepts, chosen so that a small
// model cannot wander: properties in the schema's order (optional ones may be left out),
// no properties beyond the listed ones, numbers without exponents and with at most 15
// digits before and after the point (exact in a double), strings in UTF-8 with \u escapes
// outside the surrogates, and whitespace only as a space or a newline and a short indent.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/grammar.h"

namespace baton {

// A schema the compiler cannot honour. `where` is the JSON path of the offending place
// inside the schema ("properties.age.minimum"; empty for the schema itself).
class SchemaError : public std::invalid_argument {
 public:
  SchemaError(std::string where, const std::string& message)
      : std::invalid_argument(message), where(std::move(where)) {}
  std::string where;
};

// Bounds on what one schema may ask for (a request is untrusted input).
inline constexpr int kMaxSchemaDepth = 32;
inline constexpr size_t kMaxSchemaRules = 20000;
inline constexpr int64_t kMaxSchemaItemsBound = 1000;  // minItems / maxItems

// Ordered: properties are written in the order the schema lists them.
std::shared_ptr<const Grammar> compile_json_schema(const nlohmann::ordered_json& schema);

// A function the model may call, with the schema of its arguments.
struct ToolSchema {
  std::string name;
  nlohmann::ordered_json parameters;
};
// The text of one call to any of `functions`: {"name": "NAME", "arguments": {...}} with
// the arguments following that function's schema. A SchemaError's `where` starts with
// the function's index ("1.properties.x.minimum").
std::shared_ptr<const Grammar> compile_tool_call_grammar(const std::vector<ToolSchema>& functions);

}  // namespace baton
