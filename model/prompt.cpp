#include "model/prompt.h"

#include <fmt/format.h>

#include "model/tokenizer.h"

namespace baton {

std::vector<int32_t> encode_chat(const Tokenizer& tok, ChatTemplateKind chat_template,
                                 const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  // BOS comes from the tokenizer when it adds one, so the template writes none at the start;
  // the end-of-sequence text llama2 and zephyr write after turns is this vocabulary's own.
  const int32_t eos = tok.eos();
  const std::string eos_text = eos >= 0 && eos < tok.vocab_size() ? tok.vocabulary().tokens[static_cast<size_t>(eos)] : "</s>";
  const std::vector<ChatPart> parts = render_chat_parts(chat_template, messages, add_generation_prompt, "", eos_text);
  std::vector<TextPiece> pieces;
  pieces.reserve(parts.size());
  for (const ChatPart& p : parts) pieces.push_back({p.text, p.from_template});
  return tok.encode(pieces, tok.add_bos());
}

std::vector<int32_t> prompt_to_ids(const Tokenizer& tok, ChatTemplateKind chat_template, const Prompt& prompt) {
  std::vector<int32_t> ids;
  if (prompt.chat) {
    ids = encode_chat(tok, chat_template, prompt.messages, true);
  } else if (!prompt.ids.empty()) {
    ids.reserve(prompt.ids.size());
    for (size_t i = 0; i < prompt.ids.size(); ++i) {
      const int64_t id = prompt.ids[i];
      if (id < 0 || id >= tok.vocab_size()) {
        throw PromptError("prompt", fmt::format("token id {} is outside [0, {}) (the vocabulary), at position {}", id,
                                                tok.vocab_size(), i));
      }
      ids.push_back(static_cast<int32_t>(id));
    }
  } else {
    ids = tok.encode(prompt.text, tok.add_bos(), /*parse_special=*/false);
  }
  if (ids.empty()) throw PromptError(prompt.chat ? "messages" : "prompt", "the prompt is empty");
  return ids;
}

}  // namespace baton
