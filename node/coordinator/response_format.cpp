#include "node/coordinator/response_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "model/json_schema_grammar.h"
#include "node/coordinator/openai_api.h"

namespace baton {

namespace {

using ojson = nlohmann::ordered_json;

ApiError bad(const std::string& param, const std::string& message) {
  return ApiError(400, param, "invalid_value", message);
}

// OpenAI's rule for a response format's name: letters, digits, '_' and '-', at most 64.
void check_name(const ojson& spec) {
  if (!spec.contains("name") || !spec["name"].is_string()) {
    throw bad("response_format.json_schema.name", "'response_format.json_schema.name' is required (a string)");
  }
  const std::string name = spec["name"].get<std::string>();
  const bool ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  if (!ok) {
    throw bad("response_format.json_schema.name",
              "'response_format.json_schema.name' must be 1 to 64 letters, digits, '_' or '-'");
  }
}

}  // namespace

std::shared_ptr<const Grammar> compile_schema_param(const ojson& schema, const std::string& param_prefix) {
  try {
    return compile_json_schema(schema);
  } catch (const SchemaError& e) {
    const std::string param = e.where.empty() ? param_prefix : param_prefix + "." + e.where;
    throw bad(param, fmt::format("'{}': {}", param, e.what()));
  }
}

ResponseFormat parse_response_format(const ojson& body) {
  ResponseFormat out;
  if (!body.contains("response_format") || body["response_format"].is_null()) return out;
  const ojson& f = body["response_format"];
  if (!f.is_object() || !f.contains("type") || !f["type"].is_string()) {
    throw bad("response_format",
              "'response_format' must be an object with a 'type' (\"text\", \"json_object\" or \"json_schema\")");
  }
  const std::string type = f["type"].get<std::string>();
  if (type == "text") return out;
  if (type == "json_object") {
    out.json_object = true;
    return out;
  }
  if (type != "json_schema") {
    throw bad("response_format.type", fmt::format("'response_format.type' must be \"text\", \"json_object\" or "
                                                  "\"json_schema\", got \"{}\"", type));
  }
  if (!f.contains("json_schema") || !f["json_schema"].is_object()) {
    throw bad("response_format.json_schema", "'response_format.json_schema' is required: {name, schema, strict}");
  }
  const ojson& spec = f["json_schema"];
  check_name(spec);
  if (spec.contains("strict") && !spec["strict"].is_null() && !spec["strict"].is_boolean()) {
    throw bad("response_format.json_schema.strict", "'response_format.json_schema.strict' must be a boolean");
  }
  if (!spec.contains("schema") || !spec["schema"].is_object()) {
    throw bad("response_format.json_schema.schema", "'response_format.json_schema.schema' is required (an object)");
  }
  // strict or not, the schema is enforced: every keyword it uses must be one we honour.
  out.grammar = compile_schema_param(spec["schema"], "response_format.json_schema.schema");
  return out;
}

void check_room_for_grammar(const Grammar& grammar, int32_t max_tokens, const std::string& what) {
  const uint32_t shortest = GrammarState(grammar).shortest_ending_length();
  if (static_cast<int64_t>(shortest) > max_tokens) {
    throw bad("max_tokens", fmt::format("'max_tokens' is {}, but the shortest {} takes {} bytes (up to one token "
                                        "each): raise max_tokens",
                                        max_tokens, what, shortest));
  }
}

}  // namespace baton
