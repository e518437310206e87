// response_format of a completion request: "text", "json_object" (any JSON object), or
// "json_schema" (a JSON schema compiled into the grammar that constrains sampling). A
// schema keyword the compiler cannot honour is refused with a 400 naming it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "model/grammar.h"

namespace baton {

struct ResponseFormat {
  bool json_object = false;
  std::shared_ptr<const Grammar> grammar;  // json_schema
};

// `body` is the request parsed with its key order kept (properties are written in the
// schema's order). Throws ApiError 400 naming the field.
ResponseFormat parse_response_format(const nlohmann::ordered_json& body);

// A grammar's shortest sentence must fit in max_tokens (every byte has a token of its
// own), else the reply could not be whole: throws ApiError 400 on `max_tokens` then.
void check_room_for_grammar(const Grammar& grammar, int32_t max_tokens, const std::string& what);

// A schema compiled for the API: SchemaError becomes a 400 whose param is
// `param_prefix` + the place inside the schema.
std::shared_ptr<const Grammar> compile_schema_param(const nlohmann::ordered_json& schema, const std::string& param_prefix);

}  // namespace baton
