// An independent check of a JSON value against the JSON-schema subset the grammar
// compiler accepts, written from the JSON Schema validation spec (not from the compiler):
// the reference the constrained outputs are held to. Returns "" when valid, else what
// is wrong and where.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace baton::testing {

inline std::string schema_violation(const nlohmann::json& v, const nlohmann::json& s, const nlohmann::json& root,
                                    const std::string& at = "$") {
  using nlohmann::json;
  if (s.is_boolean()) return s.get<bool>() ? "" : at + ": schema false";
  if (s.contains("$ref")) {
    const std::string ref = s["$ref"].get<std::string>();
    return schema_violation(v, root.at(json::json_pointer(ref.substr(1))), root, at);
  }
  if (s.contains("type")) {
    const json types = s["type"].is_array() ? s["type"] : json::array({s["type"]});
    bool ok = false;
    for (const json& t : types) {
      const std::string name = t.get<std::string>();
      ok = ok || (name == "object" && v.is_object()) || (name == "array" && v.is_array()) ||
           (name == "string" && v.is_string()) || (name == "number" && v.is_number()) ||
           (name == "integer" && (v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<long long>(v.get<double>()))))) ||
           (name == "boolean" && v.is_boolean()) || (name == "null" && v.is_null());
    }
    if (!ok) return at + ": not of type " + types.dump() + ": " + v.dump();
  }
  if (s.contains("const") && v != s["const"]) return at + ": not the const " + s["const"].dump();
  if (s.contains("enum")) {
    bool found = false;
    for (const json& e : s["enum"]) found = found || e == v;
    if (!found) return at + ": not in the enum: " + v.dump();
  }
  if (s.contains("anyOf")) {
    bool any = false;
    for (const json& branch : s["anyOf"]) any = any || schema_violation(v, branch, root, at).empty();
    if (!any) return at + ": matches no anyOf branch: " + v.dump();
  }
  if (v.is_object()) {
    const json props = s.value("properties", json::object());
    for (const json& name : s.value("required", json::array())) {
      if (!v.contains(name.get<std::string>())) return at + ": required '" + name.get<std::string>() + "' missing";
    }
    for (const auto& [key, value] : v.items()) {
      if (props.contains(key)) {
        const std::string inner = schema_violation(value, props[key], root, at + "." + key);
        if (!inner.empty()) return inner;
      } else if (s.value("additionalProperties", json(true)) == json(false)) {
        return at + ": property '" + key + "' not allowed";
      }
    }
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return at + ": fewer than minItems";
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return at + ": more than maxItems";
    if (s.contains("items")) {
      for (size_t i = 0; i < v.size(); ++i) {
        const std::string inner = schema_violation(v[i], s["items"], root, at + "[" + std::to_string(i) + "]");
        if (!inner.empty()) return inner;
      }
    }
  }
  return "";
}

inline std::string schema_violation(const nlohmann::json& v, const nlohmann::json& schema) {
  return schema_violation(v, schema, schema);
}

}  // namespace baton::testing
