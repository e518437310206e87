#include "node/coordinator/openai_api.h"

#include <fmt/format.h>

#include <random>

namespace baton {

namespace {

using nlohmann::json;

ApiError bad(const std::string& param, const std::string& message) {
  return ApiError(400, param, "invalid_value", message);
}

template <typename T>
std::optional<T> number(const json& body, const char* key, T lo, T hi) {
  if (!body.contains(key) || body[key].is_null()) return std::nullopt;
  const json& v = body[key];
  const bool integral = std::is_integral_v<T>;
  if (!v.is_number() || (integral && !v.is_number_integer())) {
    throw bad(key, fmt::format("'{}' must be {}, got {}", key, integral ? "an integer" : "a number", v.type_name()));
  }
  const T x = v.get<T>();
  if (x < lo || x > hi) throw bad(key, fmt::format("'{}' must be in [{}, {}], got {}", key, lo, hi, x));
  return x;
}

std::string text_field(const json& v, const std::string& param) {
  if (!v.is_string()) throw bad(param, fmt::format("'{}' must be a string, got {}", param, v.type_name()));
  return v.get<std::string>();
}

}  // namespace

json error_body(const ApiError& e) {
  return {{"error",
           {{"message", e.what()},
            {"type", e.status == 404   ? "not_found_error"
                     : e.status == 429 ? "rate_limit_error"
                     : e.status >= 500 ? "server_error"
                                       : "invalid_request_error"},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

CompletionRequest parse_completion_request(const std::string& text, bool chat, const std::string& model_id,
                                           int32_t prefill_chunk) {
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for numbers beyond double (e.g. 5e5353): both the
    // client's fault.
    throw ApiError(400, "", "invalid_json", fmt::format("request body is not valid JSON: {}", e.what()));
  }
  if (!body.is_object()) throw ApiError(400, "", "invalid_json", "request body must be a JSON object");
  CompletionRequest r;
  r.chat = chat;
  if (body.contains("model") && !body["model"].is_null()) {
    const std::string m = text_field(body["model"], "model");
    if (m != model_id) {
      throw ApiError(404, "model", "model_not_found", fmt::format("model '{}' is not served here (this coordinator serves '{}')", m, model_id));
    }
  }
  if (chat) {
    if (!body.contains("messages")) throw bad("messages", "'messages' is required");
    const json& msgs = body["messages"];
    if (!msgs.is_array() || msgs.empty()) throw bad("messages", "'messages' must be a non-empty array");
    for (size_t i = 0; i < msgs.size(); ++i) {
      const std::string p = fmt::format("messages[{}]", i);
      if (!msgs[i].is_object()) throw bad(p, fmt::format("'{}' must be an object", p));
      const std::string role = text_field(msgs[i].value("role", json()), p + ".role");
      if (role != "system" && role != "user" && role != "assistant") {
        throw bad(p + ".role", fmt::format("'{}.role' must be system, user or assistant, got '{}'", p, role));
      }
      r.messages.push_back({role, text_field(msgs[i].value("content", json()), p + ".content")});
    }
  } else {
    if (!body.contains("prompt")) throw bad("prompt", "'prompt' is required");
    const json& p = body["prompt"];
    if (p.is_string()) {
      r.prompt = p.get<std::string>();
    } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
      for (const auto& id : p) {
        if (!id.is_number_integer()) throw bad("prompt", "'prompt' token arrays must hold only integers");
        r.prompt_ids.push_back(id.get<int32_t>());
      }
    } else {
      throw bad("prompt", "'prompt' must be a string or an array of token ids");
    }
  }
  GenerationParams& g = r.params;
  g.prefill_chunk = prefill_chunk;
  g.max_tokens = number<int32_t>(body, "max_tokens", 0, 1 << 20).value_or(chat ? 256 : 16);
  if (auto n = number<int32_t>(body, "max_completion_tokens", 0, 1 << 20)) g.max_tokens = *n;
  g.sampling.temperature = number<float>(body, "temperature", 0.0f, 2.0f).value_or(1.0f);
  g.sampling.top_p = number<float>(body, "top_p", 0.0f, 1.0f).value_or(1.0f);
  g.sampling.top_k = number<int32_t>(body, "top_k", 0, 1 << 20).value_or(0);
  g.sampling.min_p = number<float>(body, "min_p", 0.0f, 1.0f).value_or(0.0f);
  g.sampling.repeat_penalty = number<float>(body, "repeat_penalty", 0.0f, 10.0f).value_or(1.0f);
  // No seed: a new one per request, so asking again gives a new answer.
  g.sampling.seed = number<uint64_t>(body, "seed", 0, UINT64_MAX).value_or(std::random_device{}() * 0x100000000ull + std::random_device{}());
  if (body.contains("stop") && !body["stop"].is_null()) {
    const json& s = body["stop"];
    if (s.is_string()) {
      g.stop.push_back(s.get<std::string>());
    } else if (s.is_array() && s.size() <= 4) {
      for (const auto& x : s) g.stop.push_back(text_field(x, "stop"));
    } else {
      throw bad("stop", "'stop' must be a string or an array of at most 4 strings");
    }
  }
  if (body.contains("stream") && !body["stream"].is_null()) {
    if (!body["stream"].is_boolean()) throw bad("stream", "'stream' must be a boolean");
    r.stream = body["stream"].get<bool>();
  }
  try {
    validate(g.sampling);
  } catch (const std::invalid_argument& e) {
    throw bad("", e.what());
  }
  return r;
}

std::string finish_reason_for_api(FinishReason r) {
  return r == FinishReason::Length ? "length" : "stop";  // a cancelled stream has no reader left
}

json completion_response(const CompletionRequest& req, const std::string& id, int64_t created,
                         const std::string& model_id, const GenerationResult& result) {
  json choice = {{"index", 0}, {"finish_reason", finish_reason_for_api(result.finish)}, {"logprobs", nullptr}};
  if (req.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", result.text}};
  } else {
    choice["text"] = result.text;
  }
  return {{"id", id},
          {"object", req.chat ? "chat.completion" : "text_completion"},
          {"created", created},
          {"model", model_id},
          {"choices", json::array({choice})},
          {"usage",
           {{"prompt_tokens", result.prompt_tokens},
            {"completion_tokens", result.completion_tokens},
            {"total_tokens", result.prompt_tokens + result.completion_tokens}}}};
}

json completion_chunk(const CompletionRequest& req, const std::string& id, int64_t created, const std::string& model_id,
                      const std::string& text, const std::optional<std::string>& finish_reason, bool first) {
  json choice = {{"index", 0}, {"finish_reason", finish_reason ? json(*finish_reason) : json(nullptr)}};
  if (req.chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || !finish_reason) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  return {{"id", id},
          {"object", req.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model_id},
          {"choices", json::array({choice})}};
}

}  // namespace baton
