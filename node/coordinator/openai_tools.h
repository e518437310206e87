// Tools in the chat API (OpenAI's `tools` / `tool_choice`): how function definitions,
// earlier calls and their results are written into the conversation, which grammar a
// forced call is sampled under, and how a reply is read back into `tool_calls`.
//
// The chat templates baton renders (chatml, llama2, llama3, zephyr) have no tool syntax of
// their own, so every model gets one plain-text format, the widely trained "Hermes" one:
// the functions are listed as JSON inside <tools></tools> in the system message, a call
// is {"name": ..., "arguments": {...}} inside <tool_call></tool_call>, and a result comes
// back as a user turn inside <tool_response></tool_response>. Pure: JSON in, text out.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/chat_template.h"
#include "model/grammar.h"

namespace baton {

struct ToolFunction {
  std::string name;
  nlohmann::ordered_json definition;  // {"name", "description", "parameters"} as the client sent it
  nlohmann::ordered_json parameters;  // the arguments' JSON schema ({"type": "object"} when absent)
};

enum class ToolChoice { None, Auto, Required, Named };

struct ToolSet {
  std::vector<ToolFunction> functions;
  ToolChoice choice = ToolChoice::None;  // None when there are no tools
  std::string named;                     // ToolChoice::Named
  // Required and Named: a call is sampled under this grammar.
  std::shared_ptr<const Grammar> call_grammar;

  // The reply is read for calls (Auto, Required, Named).
  bool active() const { return choice != ToolChoice::None; }
};

inline constexpr size_t kMaxTools = 128;

// `tools`, `tool_choice` and `parallel_tool_calls` of a request parsed with its key order.
// Throws ApiError 400 naming the field; a forced call's function schemas must be ones the
// grammar compiler honours (their keywords are named otherwise), an `auto` one's are only
// shown to the model.
ToolSet parse_tools(const nlohmann::ordered_json& body);

// The system text that lists the functions and says how to call them.
std::string tools_system_text(const ToolSet& tools);
// Adds tools_system_text to the conversation's system message (a new one first if none).
void add_tools_to_messages(std::vector<ChatMessage>& messages, const ToolSet& tools);

// A message's rendering of earlier calls: `tool_calls` as the client sent them back
// ([{id, type: "function", function: {name, arguments: "<JSON text>"}}]), written in the
// call format. Throws ApiError 400 naming `param` and the bad field.
std::string render_tool_calls(const nlohmann::json& tool_calls, const std::string& param);
// A tool result ({role: "tool", tool_call_id, content}) as the user turn that carries it.
ChatMessage tool_result_message(const std::string& content);

// A reply read for calls: the calls (OpenAI's tool_calls entries, each with `arguments`
// as a JSON string) and the text around them (none when nothing else was said).
struct ToolReply {
  nlohmann::json tool_calls = nlohmann::json::array();
  std::optional<std::string> content;
};
// `id_prefix` makes the calls' ids ("call_<prefix>_<k>"). A forced call's text is the
// bare call object; otherwise calls are the <tool_call> blocks that name a listed
// function with an object of arguments, or a reply that is only such a call object.
ToolReply read_tool_reply(const ToolSet& tools, const std::string& text, const std::string& id_prefix);

}  // namespace baton
