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

#include <algorithm>

namespace baton {

namespace {

constexpr std::string_view kDefaultBos = "<s>";
constexpr std::string_view kDefaultEos = "</s>";

constexpr std::string_view kWhitespace = " \t\n\r\v\f";

// Builds the parts of a rendering; neighbours of the same origin are joined.
class PartsWriter {
 public:
  PartsWriter& marker(std::string_view s) { return add(s, true); }
  PartsWriter& text(std::string_view s) { return add(s, false); }
  PartsWriter& append(const std::vector<ChatPart>& parts) {
    for (const ChatPart& p : parts) add(p.text, p.from_template);
    return *this;
  }
  std::vector<ChatPart> take() { return std::move(parts_); }

 private:
  PartsWriter& add(std::string_view s, bool from_template) {
    if (s.empty()) return *this;
    if (!parts_.empty() && parts_.back().from_template == from_template) parts_.back().text += s;
    else parts_.push_back({std::string(s), from_template});
    return *this;
  }
  std::vector<ChatPart> parts_;
};

// Jinja's trim / Python's str.strip() over the joined text of the parts: leading and
// trailing whitespace goes, whichever parts it sits in.
std::vector<ChatPart> strip(std::vector<ChatPart> parts) {
  while (!parts.empty()) {
    std::string& t = parts.front().text;
    t.erase(0, std::min(t.size(), t.find_first_not_of(kWhitespace)));
    if (!t.empty()) break;
    parts.erase(parts.begin());
  }
  while (!parts.empty()) {
    std::string& t = parts.back().text;
    const size_t last = t.find_last_not_of(kWhitespace);
    t.erase(last == std::string::npos ? 0 : last + 1);
    if (!t.empty()) break;
    parts.pop_back();
  }
  return parts;
}

std::vector<ChatPart> render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  PartsWriter out;
  for (const ChatMessage& m : messages) out.marker("<|im_start|>").text(m.role).marker("\n").text(m.content).marker("<|im_end|>\n");
  if (add_generation_prompt) out.marker("<|im_start|>assistant\n");
  return out.take();
}

std::vector<ChatPart> render_llama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                    std::string_view bos) {
  PartsWriter out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i == 0) out.marker(bos);
    out.marker("<|start_header_id|>").text(messages[i].role).marker("<|end_header_id|>\n\n");
    out.append(strip({{messages[i].content, false}}));
    out.marker("<|eot_id|>");
  }
  if (add_generation_prompt) out.marker("<|start_header_id|>assistant<|end_header_id|>\n\n");
  return out.take();
}

// The reference template has no generation prompt: a conversation ending in a user turn
// already ends with "[/INST]". It rejects roles that do not alternate; we render them
// anyway (a later system message counts as a user turn) rather than fail a chat.
std::vector<ChatPart> render_llama2(const std::vector<ChatMessage>& messages, std::string_view bos,
                                    std::string_view eos) {
  PartsWriter out;
  size_t first = 0;
  const bool has_system = !messages.empty() && messages[0].role == "system";
  if (has_system) first = 1;
  for (size_t i = first; i < messages.size(); ++i) {
    PartsWriter content;
    if (i == first && has_system) content.marker("<<SYS>>\n").text(messages[0].content).marker("\n<</SYS>>\n\n");
    content.text(messages[i].content);
    if (messages[i].role == "assistant") {
      out.marker(" ").append(strip(content.take())).marker(" ").marker(eos);
    } else {
      // The tokenizer adds BOS only at the very start; later turns need it in the text.
      out.marker(i == first ? bos : (bos.empty() ? kDefaultBos : bos));
      out.marker("[INST] ").append(strip(content.take())).marker(" [/INST]");
    }
  }
  return out.take();
}

// The roles are the three the template knows, so "<|user|>" and friends are whole markers
// (control tokens in some vocabularies, e.g. Phi-3's).
std::vector<ChatPart> render_zephyr(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                    std::string_view eos) {
  PartsWriter out;
  for (const ChatMessage& m : messages) {
    if (m.role != "user" && m.role != "system" && m.role != "assistant") continue;  // the template skips others
    out.marker("<|" + m.role + "|>\n").text(m.content).marker(eos).marker("\n");
  }
  if (add_generation_prompt) out.marker("<|assistant|>\n");
  return out.take();
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
  std::string out;
  for (const ChatPart& p : render_chat_parts(kind, messages, add_generation_prompt, bos_text, eos_text)) out += p.text;
  return out;
}

std::vector<ChatPart> render_chat_parts(ChatTemplateKind kind, const std::vector<ChatMessage>& messages,
                                        bool add_generation_prompt, std::string_view bos_text,
                                        std::string_view eos_text) {
  switch (kind) {
    case ChatTemplateKind::ChatML: return render_chatml(messages, add_generation_prompt);
    case ChatTemplateKind::Llama3: return render_llama3(messages, add_generation_prompt, bos_text);
    case ChatTemplateKind::Llama2: return render_llama2(messages, bos_text, eos_text);
    case ChatTemplateKind::Zephyr: return render_zephyr(messages, add_generation_prompt, eos_text);
  }
  return render_chatml(messages, add_generation_prompt);
}

}  // namespace baton
