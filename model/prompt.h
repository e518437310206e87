// The one door from a request to token ids, shared by every front door (the RPC submit,
// the HTTP API, `baton run`): user text is text. Messages and completion prompts are
// tokenised with special-token parsing off, so "</s>" or "<|im_start|>" typed by a user
// stay characters; only the chat template's own markers become control tokens.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/chat_template.h"

namespace baton {

class Tokenizer;

// What a client asks to continue. Chat: the messages (the assistant turn is opened after
// them). Otherwise the text, or token ids when given (as the client sent them: wider than
// int32 so that out-of-range values are refused rather than wrapped).
struct Prompt {
  bool chat = false;
  std::vector<ChatMessage> messages;
  std::string text;
  std::vector<int64_t> ids;
};

// A prompt that cannot be turned into ids; field names what is wrong ("messages", "prompt").
class PromptError : public std::invalid_argument {
 public:
  PromptError(std::string field, const std::string& message) : std::invalid_argument(message), field(std::move(field)) {}
  std::string field;
};

// Throws PromptError for token ids outside the vocabulary and for prompts that give no ids.
std::vector<int32_t> prompt_to_ids(const Tokenizer& tokenizer, ChatTemplateKind chat_template, const Prompt& prompt);

// The conversation rendered with `chat_template` and tokenised part by part: the
// template's markers with control tokens, roles and contents without.
std::vector<int32_t> encode_chat(const Tokenizer& tokenizer, ChatTemplateKind chat_template,
                                 const std::vector<ChatMessage>& messages, bool add_generation_prompt);

}  // namespace baton
