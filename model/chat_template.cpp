// Chat formats rendered natively, byte for byte as their reference Jinja templates do:
//  chatml : <|im_start|>{role}\n{content}<|im_end|>\n ... [<|im_start|>assistant\n]
//  llama3 : {bos}<|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|> ...
//           [<|start_header_id|>assistant<|end_header_id|>\n\n]
//  llama2 : {bos}[INST] {user|strip} [/INST] {assistant|strip} {eos}{bos}[INST] ...
//           a leading system message goes into the first user turn as
//           <<SYS>>\n{system}\n<</SYS>>\n\n{user}
//  zephyr : <|{role}|>\n{content}{eos}\n ... [<|assistant|>\n]
// (zephyr's template is rendered with trim_blocks, so only the newline written after each
// turn's expression survives.)
#include "model/chat_template.h"

namespace baton {

namespace {

constexpr std::string_view kDefaultBos = "<s>";
constexpr std::string_view kDefaultEos = "</s>";

// Jinja's trim / Python's str.strip(): remove leading and trailing whitespace.
std::string_view strip(std::string_view s) {
  constexpr std::string_view ws = " \t\n\r\v\f";
  const size_t first = s.find_first_not_of(ws);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(ws) - first + 1);
}

std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string render_llama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt, std::string_view bos) {
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i == 0) out += bos;
    out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n";
    out += strip(messages[i].content);
    out += "<|eot_id|>";
  }
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// The reference template has no generation prompt: a conversation ending in a user turn
// already ends with "[/INST]". It rejects roles that do not alternate; we render them
// anyway (a later system message counts as a user turn) rather than fail a chat.
std::string render_llama2(const std::vector<ChatMessage>& messages, std::string_view bos, std::string_view eos) {
  std::string out;
  size_t first = 0;
  std::string system;
  const bool has_system = !messages.empty() && messages[0].role == "system";
  if (has_system) {
    system = messages[0].content;
    first = 1;
  }
  for (size_t i = first; i < messages.size(); ++i) {
    std::string content = messages[i].content;
    if (i == first && has_system) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
    if (messages[i].role == "assistant") {
      out += " ";
      out += strip(content);
      out += " ";
      out += eos;
    } else {
      // The tokenizer adds BOS only at the very start; later turns need it in the text.
      out += i == first ? bos : (bos.empty() ? kDefaultBos : bos);
      out += "[INST] ";
      out += strip(content);
      out += " [/INST]";
    }
  }
  return out;
}

std::string render_zephyr(const std::vector<ChatMessage>& messages, bool add_generation_prompt, std::string_view eos) {
  std::string out;
  for (const ChatMessage& m : messages) {
    if (m.role != "user" && m.role != "system" && m.role != "assistant") continue;  // the template skips others
    out += "<|" + m.role + "|>\n" + m.content;
    out += eos;
    out += "\n";
  }
  if (add_generation_prompt) out += "<|assistant|>\n";
  return out;
}

}  // namespace

ChatTemplateKind detect_chat_template(std::string_view src) {
  if (src.find("<|im_start|>") != std::string_view::npos) return ChatTemplateKind::ChatML;
  if (src.find("<|start_header_id|>") != std::string_view::npos) return ChatTemplateKind::Llama3;
  if (src.find("<|user|>") != std::string_view::npos) return ChatTemplateKind::Zephyr;
  if (src.find("[INST]") != std::string_view::npos) return ChatTemplateKind::Llama2;
  return ChatTemplateKind::ChatML;
}

std::string_view chat_template_name(ChatTemplateKind kind) {
  switch (kind) {
    case ChatTemplateKind::ChatML: return "chatml";
    case ChatTemplateKind::Llama2: return "llama2";
    case ChatTemplateKind::Llama3: return "llama3";
    case ChatTemplateKind::Zephyr: return "zephyr";
  }
  return "chatml";
}

std::string render_chat(ChatTemplateKind kind, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                        std::string_view bos_text) {
  return render_chat(kind, messages, add_generation_prompt, bos_text, kDefaultEos);
}

std::string render_chat(ChatTemplateKind kind, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                        std::string_view bos_text, std::string_view eos_text) {
  switch (kind) {
    case ChatTemplateKind::ChatML: return render_chatml(messages, add_generation_prompt);
    case ChatTemplateKind::Llama3: return render_llama3(messages, add_generation_prompt, bos_text);
    case ChatTemplateKind::Llama2: return render_llama2(messages, bos_text, eos_text);
    case ChatTemplateKind::Zephyr: return render_zephyr(messages, add_generation_prompt, eos_text);
  }
  return render_chatml(messages, add_generation_prompt);
}

}  // namespace baton
