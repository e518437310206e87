// OpenAI-compatible request parsing and response shapes (POST /v1/completions,
// /v1/chat/completions): pure JSON in, JSON out, errors that name the offending field.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/chat_template.h"
#include "model/prompt.h"
#include "model/generation.h"

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

struct CompletionRequest {
  bool chat = false;
  Prompt prompt;                         // messages (chat), or text or token ids (completions)
  GenerationParams params;
  bool stream = false;
};

// Parses and validates a request body. `model_id` is the one model served; a request
// naming another gets 404. Defaults follow OpenAI where it has them (temperature 1,
// top_p 1, max_tokens 16 for completions) and baton's otherwise.
CompletionRequest parse_completion_request(const std::string& body, bool chat, const std::string& model_id,
                                           int32_t prefill_chunk);

// Response bodies. `id` is per request ("cmpl-..."), `created` Unix seconds.
nlohmann::json completion_response(const CompletionRequest& req, const std::string& id, int64_t created,
                                   const std::string& model_id, const GenerationResult& result);
nlohmann::json completion_chunk(const CompletionRequest& req, const std::string& id, int64_t created,
                                const std::string& model_id, const std::string& text,
                                const std::optional<std::string>& finish_reason, bool first);
std::string finish_reason_for_api(FinishReason r);

}  // namespace baton
