// Chat templates: detection from (excerpts of) the real Jinja sources, and rendering
// compared with the strings those templates produce, written out by hand.
#include <gtest/gtest.h>

#include "model/chat_template.h"

namespace baton {
namespace {

// Qwen2's template.
const char* kChatmlJinja =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou "
    "are a helpful assistant<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' "
    "}}{% endif %}";
// Meta-Llama-3-8B-Instruct.
const char* kLlama3Jinja =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 "
    "%}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
// Llama-2-chat.
const char* kLlama2Jinja =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif "
    "%}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = "
    "'<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = "
    "message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + "
    "' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif "
    "%}{% endfor %}";
// zephyr-7b-beta.
const char* kZephyrJinja =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token "
    "}}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% "
    "endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

const std::vector<ChatMessage> kConversation = {
    {"system", "You are kind."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "How are you?"}};

TEST(ChatTemplate, DetectsFamilies) {
  EXPECT_EQ(detect_chat_template(kChatmlJinja), ChatTemplateKind::ChatML);
  EXPECT_EQ(detect_chat_template(kLlama3Jinja), ChatTemplateKind::Llama3);
  EXPECT_EQ(detect_chat_template(kLlama2Jinja), ChatTemplateKind::Llama2);
  EXPECT_EQ(detect_chat_template(kZephyrJinja), ChatTemplateKind::Zephyr);
  // Mistral's [INST] format is closest to llama2.
  EXPECT_EQ(detect_chat_template("{{ bos_token }}{% for m in messages %}{{ '[INST] ' + m['content'] + ' [/INST]' }}"),
            ChatTemplateKind::Llama2);
  // Unknown or missing templates fall back to chatml.
  EXPECT_EQ(detect_chat_template(""), ChatTemplateKind::ChatML);
  EXPECT_EQ(detect_chat_template("{{ messages | tojson }}"), ChatTemplateKind::ChatML);
  EXPECT_EQ(chat_template_name(ChatTemplateKind::Llama3), "llama3");
  EXPECT_EQ(chat_template_name(ChatTemplateKind::ChatML), "chatml");
  EXPECT_EQ(chat_template_name(ChatTemplateKind::Llama2), "llama2");
  EXPECT_EQ(chat_template_name(ChatTemplateKind::Zephyr), "zephyr");
}

TEST(ChatTemplate, ChatML) {
  EXPECT_EQ(render_chat(ChatTemplateKind::ChatML, kConversation, true),
            "<|im_start|>system\nYou are kind.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(ChatTemplateKind::ChatML, {{"user", "Hi"}}, false), "<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, Llama3) {
  EXPECT_EQ(render_chat(ChatTemplateKind::Llama3, kConversation, true, "<|begin_of_text|>"),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are kind.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  // Content is trimmed; no BOS text when the tokenizer adds it.
  EXPECT_EQ(render_chat(ChatTemplateKind::Llama3, {{"user", "  padded \n"}}, false),
            "<|start_header_id|>user<|end_header_id|>\n\npadded<|eot_id|>");
}

TEST(ChatTemplate, Llama2PutsTheSystemMessageIntoTheFirstTurn) {
  EXPECT_EQ(render_chat(ChatTemplateKind::Llama2, kConversation, true, "<s>"),
            "<s>[INST] <<SYS>>\nYou are kind.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] How are you? [/INST]");
  EXPECT_EQ(render_chat(ChatTemplateKind::Llama2, {{"user", " Hi "}}, true, "<s>"), "<s>[INST] Hi [/INST]");
  // BOS from the tokenizer: the first turn has none in text, later turns still need one.
  EXPECT_EQ(render_chat(ChatTemplateKind::Llama2, {{"user", "a"}, {"assistant", "b"}, {"user", "c"}}, true),
            "[INST] a [/INST] b </s><s>[INST] c [/INST]");
  EXPECT_EQ(render_chat(ChatTemplateKind::Llama2, {{"user", "a"}, {"assistant", "b"}}, false, "<B>", "<E>"),
            "<B>[INST] a [/INST] b <E>");
}

TEST(ChatTemplate, Zephyr) {
  EXPECT_EQ(render_chat(ChatTemplateKind::Zephyr, kConversation, true),
            "<|system|>\nYou are kind.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n"
            "<|user|>\nHow are you?</s>\n<|assistant|>\n");
  EXPECT_EQ(render_chat(ChatTemplateKind::Zephyr, {{"user", "Hi"}}, false), "<|user|>\nHi</s>\n");
}

TEST(ChatTemplate, EmptyConversation) {
  EXPECT_EQ(render_chat(ChatTemplateKind::ChatML, {}, true), "<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(ChatTemplateKind::Llama2, {}, true, "<s>"), "");
}

}  // namespace
}  // namespace baton
