// OpenAI-compatible request parsing and response shapes (POST /v1/completions,
// /v1/chat/completions): pure JSON in, JSON out, errors that name the offending field.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/chat_template.h"
#include "model/prompt.h"
#include "model/generation.h"
#include "node/coordinator/openai_tools.h"

namespace baton {

// An error the client caused: HTTP status plus OpenAI's error body fields.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string param, std::string code, const std::string& message)
      : std::runtime_error(message), status(status), param(std::move(param)), code(std::move(code)) {}
  int status;
  std::string param;
  std::string code;
};

nlohmann::json error_body(const ApiError& e);

// A request body as JSON: an object, valid UTF-8 (the field with bad bytes is named), else
// ApiError 400.
nlohmann::json parse_request_json(const std::string& text);
// A "model" field, when given, must name the model served here (else ApiError 404).
void check_requested_model(const nlohmann::json& body, const std::string& model_id);

struct CompletionRequest {
  bool chat = false;
  Prompt prompt;                         // messages (chat), or text or token ids (completions)
  GenerationParams params;
  bool stream = false;
  int32_t n = 1;  // choices, each generated with seed + index
  ToolSet tools;  // chat: the functions the model may call, and whether it must
  // baton's own field: speculative decoding for this request (unset: the coordinator's
  // --speculative). The text is the same either way.
  std::optional<bool> speculative;
};

inline constexpr int32_t kMaxChoices = 16;
// OpenAI's bounds: logit_bias holds at most 300 tokens, each biased by [-100, 100];
// completions' `logprobs` asks for at most 5 alternatives, chat's `top_logprobs` 20.
inline constexpr size_t kMaxApiLogitBias = 300;
inline constexpr int32_t kMaxCompletionLogprobs = 5;
// One default across `baton run`, the API and the web page (OpenAI's is 1).
inline const float kDefaultTemperature = SamplerParams{}.temperature;

// Parses and validates a request body. `model_id` is the one model served; a request
// naming another gets 404. Content may be a string or an array of text parts; the
// `developer` role is a system message; bytes that are not UTF-8 are refused naming the
// field. Defaults follow OpenAI where it has them (top_p 1, max_tokens 16 for
// completions) and baton's otherwise (temperature 0.8, as everywhere in baton).
CompletionRequest parse_completion_request(const std::string& body, bool chat, const std::string& model_id,
                                           int32_t prefill_chunk);

// The logit_bias ids must be tokens of the served vocabulary: throws a 400 naming the
// first that is not.
void check_logit_bias_ids(const CompletionRequest& req, int32_t vocab_size);

// A token's text as the model holds it (raw bytes, possibly part of a UTF-8 character).
using TokenText = std::function<std::string(int32_t id)>;

// OpenAI's `logprobs` object of a choice (or of one streamed chunk) for these tokens:
// chat: {"content": [{token, logprob, bytes, top_logprobs}], "refusal": null};
// completions: {tokens, token_logprobs, top_logprobs, text_offset}, where text_offset
// counts bytes from the start of the completion, continuing at `text_offset0`.
// null when the request did not ask for logprobs.
nlohmann::json logprobs_json(const CompletionRequest& req, std::span<const SampledToken> tokens,
                             const TokenText& token_text, int64_t text_offset0 = 0);

// Response bodies. `id` is per request ("cmpl-..."), `created` Unix seconds; one result
// per choice.
nlohmann::json completion_response(const CompletionRequest& req, const std::string& id, int64_t created,
                                   const std::string& model_id, const std::vector<GenerationResult>& results,
                                   const TokenText& token_text = {});
nlohmann::json completion_chunk(const CompletionRequest& req, const std::string& id, int64_t created,
                                const std::string& model_id, const std::string& text,
                                const std::optional<std::string>& finish_reason, bool first, int32_t index = 0,
                                nlohmann::json logprobs = nullptr);
// GET /v1/models and /v1/models/{id}.
nlohmann::json model_object(const std::string& model_id);
std::string finish_reason_for_api(FinishReason r);
// The ids of a choice's tool calls start with this ("call_<response id's tail>_<choice>").
std::string tool_call_id_prefix(const std::string& response_id, size_t choice);

}  // namespace baton
