// Chat templates recognised from tokenizer.chat_template (a Jinja string we do not run):
// we detect the family by its markers and render it ourselves. Unknown -> chatml.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace baton {

enum class ChatTemplateKind { ChatML, Llama2, Llama3, Zephyr };

struct ChatMessage {
  std::string role;     // "system", "user", "assistant"
  std::string content;
};

// One stretch of a rendered conversation: the template's own text (its markers such as
// <|im_start|> or </s> are the control tokens the model was trained on) or text that came
// from a message (a role or a content), which must never be parsed into control tokens.
struct ChatPart {
  std::string text;
  bool from_template = false;
};

ChatTemplateKind detect_chat_template(std::string_view jinja_source);
std::string_view chat_template_name(ChatTemplateKind kind);
// Renders the conversation; with add_generation_prompt the assistant turn is opened.
// bos_text is prepended where the family expects BOS in text (llama2/llama3) — pass the
// tokenizer's BOS token text, or "" when the tokenizer adds BOS itself.
std::string render_chat(ChatTemplateKind kind, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, std::string_view bos_text = "");
// As above with the end-of-sequence text the llama2 and zephyr formats write after each
// assistant (llama2) or every (zephyr) turn; the overload above uses "</s>". Later llama2
// user turns start with bos_text, or "<s>" when bos_text is empty.
std::string render_chat(ChatTemplateKind kind, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, std::string_view bos_text, std::string_view eos_text);
// The same conversation as parts, in order; their texts joined are render_chat's string.
std::vector<ChatPart> render_chat_parts(ChatTemplateKind kind, const std::vector<ChatMessage>& messages,
                                        bool add_generation_prompt, std::string_view bos_text,
                                        std::string_view eos_text);

}  // namespace baton
