#include "model/json_schema_grammar.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace baton {

namespace {

using json = nlohmann::ordered_json;
using Item = Grammar::Item;
using Sequence = Grammar::Sequence;
using RuleId = Grammar::RuleId;

// Keywords that describe a schema without constraining instances.
const std::set<std::string> kAnnotations = {"title", "description", "$schema", "$id", "$comment", "default",
                                            "examples", "deprecated", "readOnly", "writeOnly"};
const std::set<std::string> kSupported = {"type", "properties", "required", "additionalProperties", "items",
                                          "minItems", "maxItems", "enum", "const", "anyOf", "$ref", "$defs",
                                          "definitions"};
const std::set<std::string> kTypes = {"object", "array", "string", "number", "integer", "boolean", "null"};

constexpr int kMaxDigits = 15;  // integer and fraction digits: exact in a double
constexpr int kMaxIndent = 16;  // spaces after a newline

std::string joined(const std::string& where, const std::string& key) { return where.empty() ? key : where + "." + key; }

bool matches_type(const json& v, const std::string& type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") return v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())));
  if (type == "boolean") return v.is_boolean();
  return v.is_null();
}

Sequence seq(std::initializer_list<Item> items) { return Sequence(items); }
Sequence operator+(Sequence a, const Sequence& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class SchemaCompiler {
 public:
  // Adds the schema's rules to `g` (several schemas may share one grammar: tool calls).
  SchemaCompiler(const json& root, std::shared_ptr<Grammar> g) : root_(root), g_(std::move(g)) {}

  // The rule of the schema's instances.
  RuleId top() { return schema_rule(root_, "", 0); }

  // Optional whitespace between the tokens of JSON text.
  RuleId ws() {
    if (!ws_) {
      RuleId spaces = rule_of({{}});
      for (int i = 0; i < kMaxIndent; ++i) spaces = rule_of({{}, Grammar::literal(" ") + seq({r(spaces)})});
      ws_ = rule_of({{}, Grammar::literal(" "), Grammar::literal("\n") + seq({r(spaces)})});
    }
    return *ws_;
  }

 private:
  RuleId new_rule() {
    if (g_->rule_count() >= kMaxSchemaRules) {
      throw SchemaError("", fmt::format("the schema needs more than {} grammar rules; make it smaller",
                                        kMaxSchemaRules));
    }
    return g_->add_rule();
  }
  RuleId rule_of(std::vector<Sequence> alternatives) {
    const RuleId r = new_rule();
    for (Sequence& s : alternatives) g_->add_alternative(r, std::move(s));
    return r;
  }
  static Item r(RuleId id) { return Item::rule(id); }
  static Item b(ByteSet set) { return Item::bytes(set); }

  // --- The shared pieces of JSON text, built once on first use. ---

  // Up to n more bytes from `set` (0..n).
  RuleId up_to(int n, const ByteSet& set) {
    RuleId tail = rule_of({{}});
    for (int i = 0; i < n; ++i) tail = rule_of({{}, seq({b(set), r(tail)})});
    return tail;
  }
  RuleId string() {
    if (!string_) {
      const ByteSet hex = Grammar::range('0', '9') | Grammar::range('a', 'f') | Grammar::range('A', 'F');
      ByteSet plain = Grammar::range(0x20, 0x7f);
      plain.reset('"');
      plain.reset('\\');
      const ByteSet cont = Grammar::range(0x80, 0xbf);
      ByteSet simple_escape;
      for (char c : std::string("\"\\/bfnrt")) simple_escape.set(static_cast<unsigned char>(c));
      // \uXXXX outside the surrogates (D800-DFFF), which would need a valid pair.
      const ByteSet not_d = Grammar::range('0', '9') | Grammar::range('a', 'c') | Grammar::range('A', 'C') |
                            Grammar::range('e', 'f') | Grammar::range('E', 'F');
      const RuleId unicode = rule_of({seq({b(not_d), b(hex), b(hex), b(hex)}),
                                      seq({b(Grammar::byte('d') | Grammar::byte('D')), b(Grammar::range('0', '7')),
                                           b(hex), b(hex)})});
      // Well-formed UTF-8 (RFC 3629 table 3-7), as strict parsers demand.
      const RuleId character = rule_of({
          seq({b(plain)}),
          seq({b(Grammar::byte('\\')), b(simple_escape)}),
          seq({b(Grammar::byte('\\')), b(Grammar::byte('u')), r(unicode)}),
          seq({b(Grammar::range(0xc2, 0xdf)), b(cont)}),
          seq({b(Grammar::byte(0xe0)), b(Grammar::range(0xa0, 0xbf)), b(cont)}),
          seq({b(Grammar::range(0xe1, 0xec) | Grammar::range(0xee, 0xef)), b(cont), b(cont)}),
          seq({b(Grammar::byte(0xed)), b(Grammar::range(0x80, 0x9f)), b(cont)}),
          seq({b(Grammar::byte(0xf0)), b(Grammar::range(0x90, 0xbf)), b(cont), b(cont)}),
          seq({b(Grammar::range(0xf1, 0xf3)), b(cont), b(cont), b(cont)}),
          seq({b(Grammar::byte(0xf4)), b(Grammar::range(0x80, 0x8f)), b(cont), b(cont)}),
      });
      const RuleId characters = new_rule();
      g_->add_alternative(characters, {});
      g_->add_alternative(characters, seq({r(character), r(characters)}));
      string_ = rule_of({Grammar::literal("\"") + seq({r(characters)}) + Grammar::literal("\"")});
    }
    return *string_;
  }
  RuleId integer() {
    if (!integer_) {
      const RuleId magnitude = rule_of({Grammar::literal("0"), seq({b(Grammar::range('1', '9')),
                                                                   r(up_to(kMaxDigits - 1, Grammar::range('0', '9')))})});
      integer_ = rule_of({seq({r(magnitude)}), Grammar::literal("-") + seq({r(magnitude)})});
    }
    return *integer_;
  }
  RuleId number() {
    if (!number_) {
      const RuleId fraction = rule_of({{}, Grammar::literal(".") + seq({b(Grammar::range('0', '9')),
                                                                       r(up_to(kMaxDigits - 1, Grammar::range('0', '9')))})});
      number_ = rule_of({seq({r(integer()), r(fraction)})});
    }
    return *number_;
  }
  RuleId literal_rule(const std::string& text) { return rule_of({Grammar::literal(text)}); }
  RuleId boolean() {
    if (!boolean_) boolean_ = rule_of({Grammar::literal("true"), Grammar::literal("false")});
    return *boolean_;
  }
  RuleId null() {
    if (!null_) null_ = literal_rule("null");
    return *null_;
  }
  // Any JSON value (a schema that says nothing, or an object without properties).
  RuleId any() {
    if (!any_) {
      any_ = new_rule();
      const RuleId member = rule_of({seq({r(string()), r(ws()), b(Grammar::byte(':')), r(ws()), r(*any_), r(ws())})});
      const RuleId object = list('{', '}', member);
      const RuleId item = rule_of({seq({r(*any_), r(ws())})});
      const RuleId array = list('[', ']', item);
      for (RuleId v : {object, array, string(), number(), boolean(), null()}) g_->add_alternative(*any_, seq({r(v)}));
    }
    return *any_;
  }
  // open ws [element ("," ws element)*] close, where an element ends with its own ws.
  RuleId list(char open, char close, RuleId element) {
    const RuleId more = new_rule();
    g_->add_alternative(more, {});
    g_->add_alternative(more, seq({b(Grammar::byte(',')), r(ws()), r(element), r(more)}));
    return rule_of({seq({b(Grammar::byte(open)), r(ws()), b(Grammar::byte(close))}),
                    seq({b(Grammar::byte(open)), r(ws()), r(element), r(more), b(Grammar::byte(close))})});
  }

  // --- Schemas. ---

  RuleId schema_rule(const json& s, const std::string& where, int depth) {
    if (depth > kMaxSchemaDepth) {
      throw SchemaError(where, fmt::format("the schema nests deeper than {} levels", kMaxSchemaDepth));
    }
    if (s.is_boolean()) {
      if (!s.get<bool>()) throw SchemaError(where, "the schema 'false' accepts nothing");
      return any();
    }
    if (!s.is_object()) throw SchemaError(where, fmt::format("a schema must be an object, got {}", s.type_name()));
    for (const auto& [key, value] : s.items()) {
      if (!kSupported.contains(key) && !kAnnotations.contains(key)) {
        throw SchemaError(joined(where, key),
                          fmt::format("the schema keyword '{}' is not supported; supported are type, properties, "
                                      "required, additionalProperties, items, minItems, maxItems, enum, const, "
                                      "anyOf, $defs and $ref",
                                      key));
      }
    }
    if (s.contains("$ref")) return reference(s, where, depth);
    const std::vector<std::string> types = type_list(s, where);
    if (s.contains("const")) return values_rule({s["const"]}, types, joined(where, "const"));
    if (s.contains("enum")) {
      const json& e = s["enum"];
      if (!e.is_array() || e.empty()) throw SchemaError(joined(where, "enum"), "'enum' must be a non-empty array");
      return values_rule(std::vector<json>(e.begin(), e.end()), types, joined(where, "enum"));
    }
    if (s.contains("anyOf")) {
      if (!types.empty()) {
        throw SchemaError(joined(where, "anyOf"), "'anyOf' beside 'type' is not supported: put the type in each branch");
      }
      const json& branches = s["anyOf"];
      if (!branches.is_array() || branches.empty()) {
        throw SchemaError(joined(where, "anyOf"), "'anyOf' must be a non-empty array of schemas");
      }
      const RuleId out = new_rule();
      for (size_t i = 0; i < branches.size(); ++i) {
        g_->add_alternative(out, seq({r(schema_rule(branches[i], fmt::format("{}[{}]", joined(where, "anyOf"), i),
                                                     depth + 1))}));
      }
      return out;
    }
    std::vector<std::string> kinds = types;
    if (kinds.empty()) {
      // No type: what the other keywords imply, else any value.
      if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) kinds = {"object"};
      else if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) kinds = {"array"};
      else return any();
    }
    const RuleId out = new_rule();
    for (const std::string& kind : kinds) g_->add_alternative(out, seq({r(typed(s, kind, where, depth))}));
    return out;
  }

  std::vector<std::string> type_list(const json& s, const std::string& where) {
    std::vector<std::string> out;
    if (!s.contains("type")) return out;
    const json& t = s["type"];
    const std::string w = joined(where, "type");
    if (t.is_string()) {
      out.push_back(t.get<std::string>());
    } else if (t.is_array() && !t.empty()) {
      for (const json& x : t) {
        if (!x.is_string()) throw SchemaError(w, "'type' must be a type name or an array of them");
        out.push_back(x.get<std::string>());
      }
    } else {
      throw SchemaError(w, "'type' must be a type name or a non-empty array of them");
    }
    for (const std::string& name : out) {
      if (!kTypes.contains(name)) {
        throw SchemaError(w, fmt::format("unknown type '{}' (object, array, string, number, integer, boolean, null)",
                                         name));
      }
    }
    return out;
  }

  RuleId values_rule(const std::vector<json>& values, const std::vector<std::string>& types, const std::string& where) {
    const RuleId out = new_rule();
    for (const json& v : values) {
      if (!types.empty() && std::none_of(types.begin(), types.end(), [&](const std::string& t) { return matches_type(v, t); })) {
        throw SchemaError(where, fmt::format("the value {} does not have the schema's type", v.dump()));
      }
      g_->add_alternative(out, Grammar::literal(v.dump()));
    }
    return out;
  }

  RuleId typed(const json& s, const std::string& kind, const std::string& where, int depth) {
    if (kind == "object") return object(s, where, depth);
    if (kind == "array") return array(s, where, depth);
    if (kind == "string") return string();
    if (kind == "number") return number();
    if (kind == "integer") return integer();
    if (kind == "boolean") return boolean();
    return null();
  }

  RuleId object(const json& s, const std::string& where, int depth) {
    if (s.contains("additionalProperties") && !s["additionalProperties"].is_boolean()) {
      throw SchemaError(joined(where, "additionalProperties"),
                        "'additionalProperties' must be true or false (a schema for extra properties is not supported)");
    }
    const json props = s.value("properties", json::object());
    if (!props.is_object()) throw SchemaError(joined(where, "properties"), "'properties' must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
      const json& req = s["required"];
      if (!req.is_array()) throw SchemaError(joined(where, "required"), "'required' must be an array of names");
      for (const json& name : req) {
        if (!name.is_string() || !props.contains(name.get<std::string>())) {
          throw SchemaError(joined(where, "required"),
                            fmt::format("'required' names {}, which is not in 'properties'", name.dump()));
        }
        required.insert(name.get<std::string>());
      }
    }
    const bool closed = s.value("additionalProperties", true) == false;
    if (props.empty() && !closed) return any_object();
    // One member per property: "name" ws ":" ws value ws, in the schema's order.
    std::vector<RuleId> members;
    std::vector<bool> must;
    const std::string pw = joined(where, "properties");
    for (const auto& [name, sub] : props.items()) {
      const RuleId value = schema_rule(sub, joined(pw, name), depth + 1);
      members.push_back(rule_of({Grammar::literal(json(name).dump()) +
                                 seq({r(ws()), b(Grammar::byte(':')), r(ws()), r(value), r(ws())})}));
      must.push_back(required.contains(name));
    }
    // first[i]: the members from i on when none was written yet; after[i]: when one was
    // (each then starts with a comma). Optional properties may be skipped, in order.
    const size_t n = members.size();
    std::vector<RuleId> first(n + 1), after(n + 1);
    for (size_t i = n + 1; i-- > 0;) {
      first[i] = new_rule();
      after[i] = new_rule();
      bool skippable = true;
      for (size_t j = i; j < n && skippable; ++j) {
        g_->add_alternative(first[i], seq({r(members[j]), r(after[j + 1])}));
        g_->add_alternative(after[i], seq({b(Grammar::byte(',')), r(ws()), r(members[j]), r(after[j + 1])}));
        skippable = !must[j];
      }
      if (skippable) {
        g_->add_alternative(first[i], {});
        g_->add_alternative(after[i], {});
      }
    }
    return rule_of({seq({b(Grammar::byte('{')), r(ws()), r(first[0]), b(Grammar::byte('}'))})});
  }

  RuleId any_object() {
    if (!any_object_) {
      const RuleId member = rule_of({seq({r(string()), r(ws()), b(Grammar::byte(':')), r(ws()), r(any()), r(ws())})});
      any_object_ = list('{', '}', member);
    }
    return *any_object_;
  }

  int64_t item_bound(const json& s, const char* key, const std::string& where, int64_t fallback) {
    if (!s.contains(key)) return fallback;
    const json& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxSchemaItemsBound) {
      throw SchemaError(joined(where, key), fmt::format("'{}' must be an integer in [0, {}]", key, kMaxSchemaItemsBound));
    }
    return v.get<int64_t>();
  }

  RuleId array(const json& s, const std::string& where, int depth) {
    const RuleId value = s.contains("items") ? schema_rule(s["items"], joined(where, "items"), depth + 1) : any();
    const int64_t lo = item_bound(s, "minItems", where, 0);
    const int64_t hi = item_bound(s, "maxItems", where, -1);  // -1: unbounded
    if (hi >= 0 && hi < lo) throw SchemaError(joined(where, "maxItems"), "'maxItems' is below 'minItems'");
    const RuleId element = rule_of({seq({r(value), r(ws())})});
    const Sequence next = seq({b(Grammar::byte(',')), r(ws()), r(element)});
    // What may follow the mandatory items: up to (hi - max(lo, 1)) more, or any number.
    RuleId optional_tail = new_rule();
    g_->add_alternative(optional_tail, {});
    if (hi < 0) {
      g_->add_alternative(optional_tail, next + seq({r(optional_tail)}));
    } else {
      for (int64_t k = std::max<int64_t>(lo, 1); k < hi; ++k) optional_tail = rule_of({{}, next + seq({r(optional_tail)})});
    }
    Sequence items = seq({r(element)});
    for (int64_t k = 1; k < lo; ++k) items = items + next;
    const Sequence open = seq({b(Grammar::byte('[')), r(ws())});
    const RuleId out = new_rule();
    if (lo == 0) g_->add_alternative(out, open + seq({b(Grammar::byte(']'))}));
    if (hi != 0) g_->add_alternative(out, open + items + seq({r(optional_tail), b(Grammar::byte(']'))}));
    return out;
  }

  RuleId reference(const json& s, const std::string& where, int depth) {
    const std::string w = joined(where, "$ref");
    if (!s["$ref"].is_string()) throw SchemaError(w, "'$ref' must be a string");
    const std::string ref = s["$ref"].get<std::string>();
    for (const auto& [key, value] : s.items()) {
      if (key != "$ref" && !kAnnotations.contains(key)) {
        throw SchemaError(joined(where, key), fmt::format("'{}' beside '$ref' is not supported", key));
      }
    }
    if (const auto it = refs_.find(ref); it != refs_.end()) return it->second;
    if (ref.empty() || ref[0] != '#') {
      throw SchemaError(w, fmt::format("'$ref' must point into this schema (\"#\" or \"#/$defs/NAME\"), got \"{}\"", ref));
    }
    json::json_pointer pointer;
    try {
      pointer = json::json_pointer(ref.substr(1));
    } catch (const json::exception&) {
      throw SchemaError(w, fmt::format("'$ref' \"{}\" is not a JSON pointer", ref));
    }
    if (!root_.contains(pointer)) throw SchemaError(w, fmt::format("'$ref' \"{}\" points to nothing", ref));
    // The rule exists before its target is compiled, so a definition may refer to itself.
    const RuleId out = new_rule();
    refs_.emplace(ref, out);
    g_->add_alternative(out, seq({r(schema_rule(root_.at(pointer), ref.size() > 2 ? ref.substr(2) : "", depth + 1))}));
    return out;
  }

  const json& root_;
  std::shared_ptr<Grammar> g_;
  std::map<std::string, RuleId> refs_;
  std::optional<RuleId> ws_, string_, integer_, number_, boolean_, null_, any_, any_object_;
};

}  // namespace

namespace {

std::shared_ptr<const Grammar> finished(std::shared_ptr<Grammar> g, RuleId root) {
  try {
    g->finish(root);
  } catch (const std::invalid_argument& e) {
    // The grammar's own check: e.g. a $ref cycle through required properties only.
    throw SchemaError("", fmt::format("the schema has no finite instance ({})", e.what()));
  }
  return g;
}

}  // namespace

std::shared_ptr<const Grammar> compile_json_schema(const json& schema) {
  auto g = std::make_shared<Grammar>();
  const RuleId root = SchemaCompiler(schema, g).top();
  return finished(std::move(g), root);
}

std::shared_ptr<const Grammar> compile_tool_call_grammar(const std::vector<ToolSchema>& functions) {
  if (functions.empty()) throw SchemaError("", "a tool call needs at least one function");
  auto g = std::make_shared<Grammar>();
  const RuleId root = g->add_rule();
  for (size_t i = 0; i < functions.size(); ++i) {
    SchemaCompiler compiler(functions[i].parameters, g);
    RuleId arguments;
    try {
      arguments = compiler.top();
    } catch (const SchemaError& e) {
      throw SchemaError(fmt::format("{}{}{}", i, e.where.empty() ? "" : ".", e.where), e.what());
    }
    g->add_alternative(root, Grammar::literal("{\"name\": " + json(functions[i].name).dump() + ", \"arguments\": ") +
                                 seq({Item::rule(arguments), Item::rule(compiler.ws())}) + Grammar::literal("}"));
  }
  return finished(std::move(g), root);
}

}  // namespace baton
