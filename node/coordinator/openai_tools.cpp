#include "node/coordinator/openai_tools.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "model/json_schema_grammar.h"
#include "node/coordinator/openai_api.h"

namespace baton {

namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr std::string_view kCallOpen = "<tool_call>";
constexpr std::string_view kCallClose = "</tool_call>";

ApiError bad(const std::string& param, const std::string& message) {
  return ApiError(400, param, "invalid_value", message);
}

bool valid_function_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
         });
}

ToolFunction tool_function(const ojson& tool, const std::string& p) {
  if (!tool.is_object() || tool.value("type", ojson()) != "function") {
    throw bad(p + ".type", fmt::format("'{}' must be {{\"type\": \"function\", \"function\": {{...}}}}", p));
  }
  if (!tool.contains("function") || !tool["function"].is_object()) {
    throw bad(p + ".function", fmt::format("'{}.function' is required (an object)", p));
  }
  const ojson& f = tool["function"];
  const std::string q = p + ".function";
  if (!f.contains("name") || !f["name"].is_string() || !valid_function_name(f["name"].get<std::string>())) {
    throw bad(q + ".name", fmt::format("'{}.name' must be 1 to 64 letters, digits, '_' or '-'", q));
  }
  if (f.contains("description") && !f["description"].is_string() && !f["description"].is_null()) {
    throw bad(q + ".description", fmt::format("'{}.description' must be a string", q));
  }
  if (f.contains("strict") && !f["strict"].is_boolean() && !f["strict"].is_null()) {
    throw bad(q + ".strict", fmt::format("'{}.strict' must be a boolean", q));
  }
  ToolFunction out;
  out.name = f["name"].get<std::string>();
  out.parameters = ojson{{"type", "object"}};
  if (f.contains("parameters") && !f["parameters"].is_null()) {
    if (!f["parameters"].is_object()) throw bad(q + ".parameters", fmt::format("'{}.parameters' must be a JSON schema object", q));
    out.parameters = f["parameters"];
  }
  out.definition = {{"name", out.name}};
  if (f.contains("description") && f["description"].is_string()) out.definition["description"] = f["description"];
  out.definition["parameters"] = out.parameters;
  return out;
}

// The grammar of a call to one of `indices` (into tools.functions); schema errors name
// the function's place in the request.
std::shared_ptr<const Grammar> call_grammar(const ToolSet& tools, const std::vector<size_t>& indices) {
  std::vector<ToolSchema> schemas;
  for (size_t i : indices) schemas.push_back({tools.functions[i].name, tools.functions[i].parameters});
  try {
    return compile_tool_call_grammar(schemas);
  } catch (const SchemaError& e) {
    const size_t dot = e.where.find('.');
    const size_t k = std::stoul(e.where.substr(0, dot));
    const std::string param = fmt::format("tools[{}].function.parameters{}", indices.at(k),
                                          dot == std::string::npos ? "" : e.where.substr(dot));
    throw bad(param, fmt::format("'{}': {} (a forced call must follow the schema, so every keyword must be one the "
                                 "server enforces)",
                                 param, e.what()));
  }
}

void parse_choice(const ojson& body, ToolSet& tools) {
  const bool has_tools = !tools.functions.empty();
  tools.choice = has_tools ? ToolChoice::Auto : ToolChoice::None;
  if (!body.contains("tool_choice") || body["tool_choice"].is_null()) return;
  const ojson& c = body["tool_choice"];
  if (c.is_string()) {
    const std::string s = c.get<std::string>();
    if (s == "none") tools.choice = ToolChoice::None;
    else if (s == "auto") tools.choice = has_tools ? ToolChoice::Auto : ToolChoice::None;
    else if (s == "required") tools.choice = ToolChoice::Required;
    else throw bad("tool_choice", fmt::format("'tool_choice' must be \"none\", \"auto\", \"required\" or "
                                              "{{\"type\": \"function\", \"function\": {{\"name\": ...}}}}, got \"{}\"", s));
  } else if (c.is_object() && c.value("type", ojson()) == "function" && c.contains("function") &&
             c["function"].is_object() && c["function"].contains("name") && c["function"]["name"].is_string()) {
    tools.choice = ToolChoice::Named;
    tools.named = c["function"]["name"].get<std::string>();
  } else {
    throw bad("tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or "
                             "{\"type\": \"function\", \"function\": {\"name\": ...}}");
  }
  if (tools.choice != ToolChoice::None && !has_tools) {
    throw bad("tool_choice", "'tool_choice' asks for a call, but the request has no 'tools'");
  }
}

std::string trim(std::string_view s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return {};
  const size_t b = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(a, b - a + 1));
}

// A call object naming a listed function with object arguments (also given as JSON text).
std::optional<json> as_call(const ToolSet& tools, const std::string& text) {
  if (!json::accept(text)) return std::nullopt;
  json call = json::parse(text);
  if (!call.is_object() || !call.contains("name") || !call["name"].is_string()) return std::nullopt;
  const std::string name = call["name"].get<std::string>();
  if (std::none_of(tools.functions.begin(), tools.functions.end(), [&](const ToolFunction& f) { return f.name == name; })) {
    return std::nullopt;
  }
  json args = call.contains("arguments") ? call["arguments"] : json::object();
  if (args.is_string() && json::accept(args.get<std::string>())) args = json::parse(args.get<std::string>());
  if (!args.is_object()) return std::nullopt;
  return json{{"name", name}, {"arguments", args.dump()}};
}

}  // namespace

ToolSet parse_tools(const ojson& body) {
  ToolSet tools;
  if (body.contains("tools") && !body["tools"].is_null()) {
    const ojson& list = body["tools"];
    if (!list.is_array()) throw bad("tools", "'tools' must be an array of {\"type\": \"function\", ...}");
    if (list.size() > kMaxTools) throw bad("tools", fmt::format("'tools' has {} entries; at most {}", list.size(), kMaxTools));
    std::set<std::string> names;
    for (size_t i = 0; i < list.size(); ++i) {
      tools.functions.push_back(tool_function(list[i], fmt::format("tools[{}]", i)));
      if (!names.insert(tools.functions.back().name).second) {
        throw bad(fmt::format("tools[{}].function.name", i),
                  fmt::format("two tools are named '{}'", tools.functions.back().name));
      }
    }
  }
  if (body.contains("parallel_tool_calls") && !body["parallel_tool_calls"].is_null() &&
      !body["parallel_tool_calls"].is_boolean()) {
    throw bad("parallel_tool_calls", "'parallel_tool_calls' must be a boolean");
  }
  parse_choice(body, tools);
  if (tools.choice == ToolChoice::Required) {
    std::vector<size_t> all(tools.functions.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    tools.call_grammar = call_grammar(tools, all);
  } else if (tools.choice == ToolChoice::Named) {
    const auto it = std::find_if(tools.functions.begin(), tools.functions.end(),
                                 [&](const ToolFunction& f) { return f.name == tools.named; });
    if (it == tools.functions.end()) {
      throw bad("tool_choice", fmt::format("'tool_choice' names '{}', which is not in 'tools'", tools.named));
    }
    tools.call_grammar = call_grammar(tools, {static_cast<size_t>(it - tools.functions.begin())});
  }
  return tools;
}

std::string tools_system_text(const ToolSet& tools) {
  std::string out = "# Tools\n\nYou may call these functions:\n<tools>\n";
  for (const ToolFunction& f : tools.functions) {
    out += ojson{{"type", "function"}, {"function", f.definition}}.dump() + "\n";
  }
  out +=
      "</tools>\n\nTo call one, write its name and arguments as JSON inside <tool_call></tool_call>:\n"
      "<tool_call>\n{\"name\": <function name>, \"arguments\": <arguments object>}\n</tool_call>";
  if (tools.choice == ToolChoice::Required) out += "\n\nAnswer with a function call.";
  if (tools.choice == ToolChoice::Named) out += "\n\nAnswer with a call to " + tools.named + ".";
  return out;
}

void add_tools_to_messages(std::vector<ChatMessage>& messages, const ToolSet& tools) {
  if (!tools.active()) return;
  const std::string text = tools_system_text(tools);
  if (!messages.empty() && messages.front().role == "system") {
    messages.front().content += "\n\n" + text;
  } else {
    messages.insert(messages.begin(), ChatMessage{"system", text});
  }
}

std::string render_tool_calls(const json& tool_calls, const std::string& param) {
  if (!tool_calls.is_array()) throw bad(param, fmt::format("'{}' must be an array of tool calls", param));
  std::string out;
  for (size_t i = 0; i < tool_calls.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", param, i);
    const json& call = tool_calls[i];
    if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) {
      throw bad(p, fmt::format("'{}' must be {{\"id\", \"type\": \"function\", \"function\": {{\"name\", "
                               "\"arguments\"}}}}", p));
    }
    const json& f = call["function"];
    if (!f.contains("name") || !f["name"].is_string()) {
      throw bad(p + ".function.name", fmt::format("'{}.function.name' must be a string", p));
    }
    json args = f.value("arguments", json("{}"));
    if (args.is_string()) {
      if (!json::accept(args.get<std::string>())) {
        throw bad(p + ".function.arguments", fmt::format("'{}.function.arguments' must be JSON text", p));
      }
      args = json::parse(args.get<std::string>());
    }
    if (!out.empty()) out += "\n";
    out += std::string(kCallOpen) + "\n" +
           ojson{{"name", f["name"]}, {"arguments", ojson::parse(args.dump())}}.dump() + "\n" +
           std::string(kCallClose);
  }
  return out;
}

ChatMessage tool_result_message(const std::string& content) {
  return {"user", "<tool_response>\n" + content + "\n</tool_response>"};
}

ToolReply read_tool_reply(const ToolSet& tools, const std::string& text, const std::string& id_prefix) {
  ToolReply out;
  auto add = [&](const json& call) {
    out.tool_calls.push_back({{"id", fmt::format("call_{}_{}", id_prefix, out.tool_calls.size())},
                              {"type", "function"},
                              {"function", call}});
  };
  std::string rest;
  size_t at = 0;
  while (at < text.size()) {
    const size_t open = text.find(kCallOpen, at);
    if (open == std::string::npos) break;
    const size_t body = open + kCallOpen.size();
    const size_t close = text.find(kCallClose, body);
    const size_t end = close == std::string::npos ? text.size() : close + kCallClose.size();
    if (const auto call = as_call(tools, trim(std::string_view(text).substr(body, (close == std::string::npos ? text.size() : close) - body)))) {
      rest += text.substr(at, open - at);
      add(*call);
    } else {
      rest += text.substr(at, end - at);  // not a call after all: it stays text
    }
    at = end;
  }
  rest += text.substr(std::min(at, text.size()));
  if (out.tool_calls.empty()) {
    if (const auto call = as_call(tools, trim(text))) {
      add(*call);
      rest.clear();
    }
  }
  if (out.tool_calls.empty()) {
    out.content = text;
    return out;
  }
  const std::string said = trim(rest);
  if (!said.empty()) out.content = said;
  return out;
}

}  // namespace baton
