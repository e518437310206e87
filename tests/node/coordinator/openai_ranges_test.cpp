// Integers in request bodies are range-checked as the client sent them: nothing wraps into
// a valid-looking value (seed -1, token ids or top_k beyond int32), and the 400 names the
// field.
#include <gtest/gtest.h>

#include "model/prompt.h"
#include "model/tokenizer.h"
#include "node/coordinator/openai_api.h"

namespace baton {
namespace {

// The param of the ApiError the body gets, or "" when it is accepted.
std::string refused_param(const std::string& body, bool chat = false) {
  try {
    parse_completion_request(body, chat, "m", 64);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400) << body;
    return e.param.empty() ? "<none>" : e.param;
  }
  return "";
}

TEST(OpenAiRanges, NegativeOrOversizedIntegersAreRefusedNamingTheField) {
  EXPECT_EQ(refused_param(R"({"prompt": "x", "seed": -1})"), "seed");
  EXPECT_EQ(refused_param(R"({"prompt": "x", "seed": -18446744073709551615})"), "seed");
  EXPECT_EQ(refused_param(R"({"prompt": "x", "seed": 18446744073709551615})"), "");  // UINT64_MAX is a seed
  EXPECT_EQ(refused_param(R"({"prompt": "x", "top_k": 4294967301})"), "top_k");         // 2^32 + 5, not 5
  EXPECT_EQ(refused_param(R"({"prompt": "x", "top_k": -1})"), "top_k");
  EXPECT_EQ(refused_param(R"({"prompt": "x", "max_tokens": 4294967297})"), "max_tokens");
  EXPECT_EQ(refused_param(R"({"prompt": "x", "max_tokens": 18446744073709551615})"), "max_tokens");
  EXPECT_EQ(refused_param(R"({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": -3})", true),
            "max_completion_tokens");
  EXPECT_EQ(refused_param(R"({"prompt": "x", "temperature": 1e300})"), "temperature");
  EXPECT_EQ(refused_param(R"({"prompt": "x", "seed": 7, "top_k": 40, "max_tokens": 5})"), "");
}

TEST(OpenAiRanges, TokenIdsBeyondInt32AreRefusedNotWrapped) {
  const Tokenizer tok(synth_vocabulary(TokenizerKind::Llama, 512));
  auto ids_of = [&](const std::string& body) {
    const CompletionRequest r = parse_completion_request(body, false, "m", 64);
    return prompt_to_ids(tok, ChatTemplateKind::ChatML, r.prompt);
  };
  EXPECT_EQ(ids_of(R"({"prompt": [1, 5, 300]})"), (std::vector<int32_t>{1, 5, 300}));
  // 4294967301 = 2^32 + 5 would wrap to 5 in an int32; 18446744073709551615 to -1.
  for (const char* body : {R"({"prompt": [1, 4294967301]})", R"({"prompt": [18446744073709551615]})",
                           R"({"prompt": [-1]})", R"({"prompt": [512]})"}) {
    try {
      ids_of(body);
      ADD_FAILURE() << body << " was accepted";
    } catch (const PromptError& e) {
      EXPECT_EQ(e.field, "prompt");
      EXPECT_NE(std::string(e.what()).find("is outside [0, 512)"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace baton
