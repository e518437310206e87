#include "node/coordinator/openai_api.h"

#include <fmt/format.h>

#include "model/unicode_utf8.h"
#include "node/coordinator/openai_tools.h"
#include "node/coordinator/response_format.h"
#include <charconv>
#include <cmath>
#include <random>
#include <utility>

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
  constexpr bool integral = std::is_integral_v<T>;
  if (!v.is_number() || (integral && !v.is_number_integer())) {
    throw bad(key, fmt::format("'{}' must be {}, got {}", key, integral ? "an integer" : "a number", v.type_name()));
  }
  auto out_of_range = [&](auto x) {
    if constexpr (std::is_integral_v<T>) return std::cmp_less(x, lo) || std::cmp_greater(x, hi);
    else return !(x >= lo && x <= hi);
  };
  // Integers are compared as sent: -1 must not wrap into a huge seed, nor 2^32 + 5 into 5.
  bool refused;
  if constexpr (integral) refused = v.is_number_unsigned() ? out_of_range(v.get<uint64_t>()) : out_of_range(v.get<int64_t>());
  else refused = out_of_range(v.get<T>());
  if (refused) throw bad(key, fmt::format("'{}' must be in [{}, {}], got {}", key, lo, hi, v.dump()));
  return v.get<T>();
}

std::string text_field(const json& v, const std::string& param) {
  if (!v.is_string()) throw bad(param, fmt::format("'{}' must be a string, got {}", param, v.type_name()));
  return v.get<std::string>();
}

// Follows a SAX parse to name where in the document it stopped ("messages[1].content").
class JsonPathTracker : public nlohmann::json_sax<json> {
 public:
  bool null() override { return value_done(); }
  bool boolean(bool) override { return value_done(); }
  bool number_integer(number_integer_t) override { return value_done(); }
  bool number_unsigned(number_unsigned_t) override { return value_done(); }
  bool number_float(number_float_t, const string_t&) override { return value_done(); }
  bool string(string_t&) override { return value_done(); }
  bool binary(binary_t&) override { return value_done(); }
  bool start_object(std::size_t) override { return enter(false); }
  bool end_object() override { return leave(); }
  bool start_array(std::size_t) override { return enter(true); }
  bool end_array() override { return leave(); }
  bool key(string_t& k) override {
    levels_.back().key = k;
    levels_.back().expect_key = false;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    failed_at_ = path();
    return false;
  }
  const std::string& failed_at() const { return failed_at_; }

 private:
  struct Level {
    bool array = false;
    size_t index = 0;
    std::string key;
    bool expect_key = true;
  };
  bool enter(bool array) {
    if (levels_.size() > 256) return false;  // deeper than any request; the real parse names it
    levels_.push_back({array, 0, {}, true});
    return true;
  }
  bool leave() {
    levels_.pop_back();
    return value_done();
  }
  bool value_done() {
    if (!levels_.empty()) {
      if (levels_.back().array) ++levels_.back().index;
      else levels_.back().expect_key = true;
    }
    return true;
  }
  std::string path() const {
    std::string p;
    for (const Level& l : levels_) {
      if (l.array) {
        p += fmt::format("[{}]", l.index);
      } else if (!l.expect_key) {
        p += (p.empty() ? "" : ".") + l.key;
      } else {
        p += p.empty() ? "(a key)" : " (a key)";
        break;
      }
    }
    return p;
  }
  std::vector<Level> levels_;
  std::string failed_at_;
};

// The first byte that is not part of well-formed UTF-8, if any.
std::optional<size_t> first_invalid_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const unicode::Utf8Char c = unicode::decode_utf8(text, pos);
    if (!c.valid) return pos;
    pos += c.length;
  }
  return std::nullopt;
}


// A message's content: a string, or an array of content parts whose text parts are joined
// (OpenAI's shape since vision). Parts this text-only model cannot read are refused.
std::string message_content(const json& msg, const std::string& p, const std::string& role) {
  const json content = msg.contains("content") ? msg["content"] : json();
  if (content.is_null()) {
    // An assistant turn that only called tools has no content.
    if (role == "assistant" && (msg.contains("tool_calls") || msg.contains("function_call"))) return "";
    throw bad(p + ".content", fmt::format("'{}.content' is required", p));
  }
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) {
    throw bad(p + ".content", fmt::format("'{}.content' must be a string or an array of content parts, got {}", p,
                                          content.type_name()));
  }
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string q = fmt::format("{}.content[{}]", p, i);
    const json& part = content[i];
    if (!part.is_object()) throw bad(q, fmt::format("'{}' must be a content part object", q));
    const std::string type = text_field(part.value("type", json()), q + ".type");
    std::string piece;
    if (type == "text") {
      piece = text_field(part.value("text", json()), q + ".text");
    } else if (type == "refusal" && role == "assistant") {
      piece = text_field(part.value("refusal", json()), q + ".refusal");
    } else {
      throw bad(q + ".type", fmt::format("'{}.type' is '{}': this model reads text only (content parts of type "
                                         "'text')", q, type));
    }
    if (!text.empty()) text += "\n";
    text += piece;
  }
  return text;
}

ChatMessage chat_message(const json& msg, const std::string& p) {
  if (!msg.is_object()) throw bad(p, fmt::format("'{}' must be an object", p));
  std::string role = text_field(msg.value("role", json()), p + ".role");
  if (role == "developer") role = "system";  // OpenAI's name for system instructions to reasoning models
  if (role == "tool") {
    // A function's result, answering an earlier call by its id.
    text_field(msg.value("tool_call_id", json()), p + ".tool_call_id");
    return tool_result_message(message_content(msg, p, role));
  }
  if (role != "system" && role != "user" && role != "assistant") {
    throw bad(p + ".role", fmt::format("'{}.role' must be system, developer, user, assistant or tool, got '{}'", p, role));
  }
  ChatMessage out{role, message_content(msg, p, role)};
  if (role == "assistant" && msg.contains("tool_calls") && !msg["tool_calls"].is_null()) {
    const std::string calls = render_tool_calls(msg["tool_calls"], p + ".tool_calls");
    out.content += (out.content.empty() || calls.empty() ? "" : "\n") + calls;
  }
  return out;
}


// logit_bias: {"<token id>": bias in [-100, 100]}, as OpenAI's. Ids are checked against
// the vocabulary once it is known (check_logit_bias_ids).
std::vector<std::pair<int32_t, float>> logit_bias_field(const json& body) {
  std::vector<std::pair<int32_t, float>> out;
  if (!body.contains("logit_bias") || body["logit_bias"].is_null()) return out;
  const json& map = body["logit_bias"];
  if (!map.is_object()) {
    throw bad("logit_bias", fmt::format("'logit_bias' must be an object mapping token ids to biases, got {}",
                                        map.type_name()));
  }
  if (map.size() > kMaxApiLogitBias) {
    throw bad("logit_bias", fmt::format("'logit_bias' has {} entries; at most {} are allowed", map.size(),
                                        kMaxApiLogitBias));
  }
  for (const auto& [key, value] : map.items()) {
    int32_t id = -1;
    const char* end = key.data() + key.size();
    const auto [ptr, ec] = std::from_chars(key.data(), end, id);
    if (key.empty() || ec != std::errc() || ptr != end || id < 0) {
      throw bad("logit_bias", fmt::format("'logit_bias' keys must be token ids (non-negative integers as strings), "
                                          "got '{}'", key));
    }
    if (!value.is_number() || !(value.get<double>() >= -100.0 && value.get<double>() <= 100.0)) {
      throw bad("logit_bias", fmt::format("'logit_bias' of token {} must be a number in [-100, 100], got {}", key,
                                          value.dump()));
    }
    out.emplace_back(id, value.get<float>());
  }
  return out;
}

// What the request asks to report beside each token. Chat: `logprobs` (bool) and
// `top_logprobs` (0..20, only with logprobs). Completions: `logprobs` (0..5), the number
// of alternatives; the chosen token's log-probability always comes with it.
LogprobsRequest logprobs_field(const json& body, bool chat) {
  LogprobsRequest out;
  if (chat) {
    if (body.contains("logprobs") && !body["logprobs"].is_null()) {
      if (!body["logprobs"].is_boolean()) throw bad("logprobs", "'logprobs' must be a boolean");
      out.chosen = body["logprobs"].get<bool>();
    }
    const auto top = number<int32_t>(body, "top_logprobs", 0, static_cast<int32_t>(kMaxTopLogprobs));
    if (top && !out.chosen) throw bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    out.top = static_cast<uint32_t>(top.value_or(0));
  } else if (const auto n = number<int32_t>(body, "logprobs", 0, kMaxCompletionLogprobs)) {
    out.chosen = true;
    out.top = static_cast<uint32_t>(*n);
  }
  return out;
}

// OpenAI reports -9999 for a token the distribution cannot reach (JSON has no -inf).
double reportable(float logprob) { return std::isfinite(logprob) ? static_cast<double>(logprob) : -9999.0; }

json byte_values(const std::string& text) {
  json out = json::array();
  for (const char c : text) out.push_back(static_cast<unsigned char>(c));
  return out;
}

}  // namespace

json parse_request_json(const std::string& text) {
  if (const auto bad_byte = first_invalid_utf8(text)) {
    // JSON text is UTF-8 (RFC 8259); name the field so the client can find the bytes.
    JsonPathTracker tracker;
    json::sax_parse(text, &tracker);
    const std::string& field = tracker.failed_at();
    throw ApiError(400, field, "invalid_encoding",
                   fmt::format("{} is not valid UTF-8 (byte 0x{:02X} at offset {} of the body)",
                               field.empty() ? std::string("the request body") : "'" + field + "'",
                               static_cast<unsigned char>(text[*bad_byte]), *bad_byte));
  }
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for numbers beyond double (e.g. 5e5353): both the
    // client's fault.
    throw ApiError(400, "", "invalid_json", fmt::format("request body is not valid JSON: {}", e.what()));
  }
  if (!body.is_object()) throw ApiError(400, "", "invalid_json", "request body must be a JSON object");
  return body;
}

void check_requested_model(const json& body, const std::string& model_id) {
  if (body.contains("model") && !body["model"].is_null()) {
    const std::string m = text_field(body["model"], "model");
    if (m != model_id) {
      throw ApiError(404, "model", "model_not_found",
                     fmt::format("model '{}' is not served here (this coordinator serves '{}')", m, model_id));
    }
  }
}

json error_body(const ApiError& e) {
  return {{"error",
           {{"message", e.what()},
            {"type", e.status >= 500   ? "server_error"
                     : e.status == 404 ? "not_found_error"
                     : e.status == 403 ? "permission_error"
                     : e.status == 429 ? "rate_limit_error"
                                       : "invalid_request_error"},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

CompletionRequest parse_completion_request(const std::string& text, bool chat, const std::string& model_id,
                                           int32_t prefill_chunk) {
  const json body = parse_request_json(text);
  CompletionRequest r;
  r.chat = chat;
  r.prompt.chat = chat;
  check_requested_model(body, model_id);
  if (chat) {
    if (!body.contains("messages")) throw bad("messages", "'messages' is required");
    const json& msgs = body["messages"];
    if (!msgs.is_array() || msgs.empty()) throw bad("messages", "'messages' must be a non-empty array");
    for (size_t i = 0; i < msgs.size(); ++i) {
      const std::string p = fmt::format("messages[{}]", i);
      r.prompt.messages.push_back(chat_message(msgs[i], p));
    }
  } else {
    if (!body.contains("prompt")) throw bad("prompt", "'prompt' is required");
    const json& p = body["prompt"];
    if (p.is_string()) {
      r.prompt.text = p.get<std::string>();
    } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
      for (const auto& id : p) {
        if (!id.is_number_integer()) throw bad("prompt", "'prompt' token arrays must hold only integers");
        // As sent, wider than a token id: prompt_to_ids refuses what is out of range.
        r.prompt.ids.push_back(id.is_number_unsigned() && id.get<uint64_t>() > uint64_t{INT64_MAX} ? INT64_MAX
                                                                                                  : id.get<int64_t>());
      }
    } else {
      throw bad("prompt", "'prompt' must be a string or an array of token ids");
    }
  }
  GenerationParams& g = r.params;
  g.prefill_chunk = prefill_chunk;
  g.max_tokens = number<int32_t>(body, "max_tokens", 0, 1 << 20).value_or(chat ? 256 : 16);
  if (auto n = number<int32_t>(body, "max_completion_tokens", 0, 1 << 20)) g.max_tokens = *n;
  g.sampling.temperature = number<float>(body, "temperature", 0.0f, 2.0f).value_or(kDefaultTemperature);
  g.sampling.top_p = number<float>(body, "top_p", 0.0f, 1.0f).value_or(1.0f);
  g.sampling.top_k = number<int32_t>(body, "top_k", 0, 1 << 20).value_or(0);
  g.sampling.min_p = number<float>(body, "min_p", 0.0f, 1.0f).value_or(0.0f);
  g.sampling.repeat_penalty = number<float>(body, "repeat_penalty", 0.0f, 10.0f).value_or(1.0f);
  g.sampling.presence_penalty = number<float>(body, "presence_penalty", -2.0f, 2.0f).value_or(0.0f);
  g.sampling.frequency_penalty = number<float>(body, "frequency_penalty", -2.0f, 2.0f).value_or(0.0f);
  // OpenAI counts a token's occurrences over the whole text so far, not a recent window
  // (the window then applies to repeat_penalty too).
  if (g.sampling.presence_penalty != 0.0f || g.sampling.frequency_penalty != 0.0f) g.sampling.repeat_last_n = -1;
  g.sampling.logit_bias = logit_bias_field(body);
  g.logprobs = logprobs_field(body, chat);
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
  if (body.contains("response_format") || body.contains("tools") || body.contains("tool_choice")) {
    // Parsed again with its key order: a schema's properties are written in their order.
    const auto ordered = nlohmann::ordered_json::parse(text);
    const ResponseFormat format = parse_response_format(ordered);
    g.json_object = format.json_object;
    g.grammar = format.grammar;
    if (g.grammar) check_room_for_grammar(*g.grammar, g.max_tokens, "JSON text the schema allows");
    if (chat) r.tools = parse_tools(ordered);
    else if (body.contains("tools") && !body["tools"].is_null()) throw bad("tools", "'tools' is for /v1/chat/completions");
    if (r.tools.call_grammar) {
      if (format.grammar || format.json_object) {
        throw bad("response_format", "a forced tool call ('tool_choice' required or a named function) already "
                                     "decides the reply's format: leave 'response_format' out");
      }
      g.grammar = r.tools.call_grammar;
      check_room_for_grammar(*g.grammar, g.max_tokens, "call of the function(s)");
    }
    add_tools_to_messages(r.prompt.messages, r.tools);
  }
  if (body.contains("speculative") && !body["speculative"].is_null()) {
    if (!body["speculative"].is_boolean()) throw bad("speculative", "'speculative' must be true or false");
    r.speculative = body["speculative"].get<bool>();
  }
  r.n = number<int32_t>(body, "n", 1, kMaxChoices).value_or(1);
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

void check_logit_bias_ids(const CompletionRequest& req, int32_t vocab_size) {
  for (const auto& [id, bias] : req.params.sampling.logit_bias) {
    if (id >= vocab_size) {
      throw bad("logit_bias", fmt::format("'logit_bias' names token {}, but the vocabulary has tokens 0 to {}", id,
                                          vocab_size - 1));
    }
  }
}

json logprobs_json(const CompletionRequest& req, std::span<const SampledToken> tokens, const TokenText& token_text,
                   int64_t text_offset0) {
  if (!req.params.logprobs.any() || !token_text) return nullptr;
  if (req.chat) {
    json content = json::array();
    for (const SampledToken& t : tokens) {
      const std::string text = token_text(t.id);
      json top = json::array();
      for (const TokenLogprob& alt : t.top) {
        const std::string alt_text = token_text(alt.id);
        top.push_back({{"token", alt_text}, {"logprob", reportable(alt.logprob)}, {"bytes", byte_values(alt_text)}});
      }
      content.push_back({{"token", text},
                         {"logprob", reportable(t.logprob.value_or(NAN))},
                         {"bytes", byte_values(text)},
                         {"top_logprobs", std::move(top)}});
    }
    return {{"content", std::move(content)}, {"refusal", nullptr}};
  }
  json texts = json::array(), chosen = json::array(), tops = json::array(), offsets = json::array();
  int64_t offset = text_offset0;
  for (const SampledToken& t : tokens) {
    const std::string text = token_text(t.id);
    texts.push_back(text);
    chosen.push_back(reportable(t.logprob.value_or(NAN)));
    json top = json::object();
    for (const TokenLogprob& alt : t.top) top[token_text(alt.id)] = reportable(alt.logprob);
    tops.push_back(std::move(top));
    offsets.push_back(offset);
    offset += static_cast<int64_t>(text.size());
  }
  return {{"tokens", std::move(texts)},
          {"token_logprobs", std::move(chosen)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

std::string tool_call_id_prefix(const std::string& response_id, size_t choice) {
  const size_t dash = response_id.rfind('-');
  return fmt::format("{}_{}", dash == std::string::npos ? response_id : response_id.substr(dash + 1), choice);
}

std::string finish_reason_for_api(FinishReason r) {
  return r == FinishReason::Length ? "length" : "stop";  // a cancelled stream has no reader left
}

json completion_response(const CompletionRequest& req, const std::string& id, int64_t created,
                         const std::string& model_id, const std::vector<GenerationResult>& results,
                         const TokenText& token_text) {
  json choices = json::array();
  int64_t completion_tokens = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const GenerationResult& result = results[i];
    json choice = {{"index", i}, {"finish_reason", finish_reason_for_api(result.finish)},
                   {"logprobs", logprobs_json(req, result.sampled, token_text)}};
    if (req.chat && req.tools.active()) {
      ToolReply reply = read_tool_reply(req.tools, result.text, tool_call_id_prefix(id, i));
      choice["message"] = {{"role", "assistant"}, {"content", reply.content ? json(*reply.content) : json(nullptr)},
                           {"refusal", nullptr}};
      if (!reply.tool_calls.empty()) {
        choice["message"]["tool_calls"] = std::move(reply.tool_calls);
        choice["finish_reason"] = "tool_calls";
      }
    } else if (req.chat) {
      choice["message"] = {{"role", "assistant"}, {"content", result.text}, {"refusal", nullptr}};
    } else {
      choice["text"] = result.text;
    }
    choices.push_back(std::move(choice));
    completion_tokens += result.completion_tokens;
  }
  // Every choice read the same prompt; OpenAI counts it once.
  const int64_t prompt_tokens = results.empty() ? 0 : results.front().prompt_tokens;
  return {{"id", id},
          {"object", req.chat ? "chat.completion" : "text_completion"},
          {"created", created},
          {"model", model_id},
          {"choices", std::move(choices)},
          {"usage",
           {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}}}};
}

json completion_chunk(const CompletionRequest& req, const std::string& id, int64_t created, const std::string& model_id,
                      const std::string& text, const std::optional<std::string>& finish_reason, bool first,
                      int32_t index, json logprobs) {
  json choice = {{"index", index},
                 {"finish_reason", finish_reason ? json(*finish_reason) : json(nullptr)},
                 {"logprobs", std::move(logprobs)}};
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

json model_object(const std::string& model_id) {
  return {{"id", model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "baton"}};
}

}  // namespace baton
