#include "tools/submit_http.h"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "transport/sse_reader.h"

namespace baton::cli {

namespace {

using nlohmann::json;

json request_body(const HttpSubmit& s) {
  const GenerationParams& g = s.params;
  json body = {{"max_tokens", g.max_tokens},
               {"temperature", g.sampling.temperature},
               {"top_k", g.sampling.top_k},
               {"top_p", g.sampling.top_p},
               {"min_p", g.sampling.min_p},
               {"repeat_penalty", g.sampling.repeat_penalty},
               {"seed", g.sampling.seed},
               {"stream", !s.json}};
  if (!g.stop.empty()) body["stop"] = g.stop;
  if (s.chat) {
    body["messages"] = json::array({{{"role", "user"}, {"content", s.prompt}}});
  } else if (!s.prompt_ids.empty()) {
    body["prompt"] = s.prompt_ids;
  } else {
    body["prompt"] = s.prompt;
  }
  return body;
}

// "HTTP 429: the coordinator is busy ... (retry after 3 s)" from an error reply.
std::string describe_failure(int status, const std::string& body, const std::string& retry_after) {
  std::string message = body;
  try {
    const json j = json::parse(body);
    if (j.contains("error") && j["error"].contains("message")) message = j["error"]["message"].get<std::string>();
  } catch (const json::exception&) {
  }
  std::string out = fmt::format("the coordinator answered HTTP {}: {}", status, message);
  if (!retry_after.empty()) out += fmt::format(" (retry after {} s)", retry_after);
  return out;
}

// Text of one chunk or reply choice, for chat and plain completions alike.
std::string choice_text(const json& choice) {
  if (choice.contains("delta") && choice["delta"].contains("content")) return choice["delta"]["content"];
  if (choice.contains("message")) return choice["message"]["content"];
  if (choice.contains("text")) return choice["text"];
  return "";
}

std::string unreachable(const std::string& base, httplib::Error e) {
  if (e == httplib::Error::Connection) {
    return fmt::format("cannot connect to {} (is `baton coordinator` running there with --http?)", base);
  }
  return fmt::format("request to {} failed: {}", base, httplib::to_string(e));
}

}  // namespace

int submit_over_http(const HttpSubmit& s) {
  if (s.prompt.empty() && s.prompt_ids.empty()) throw std::invalid_argument("give a prompt (text or --prompt-ids)");
  if (s.chat && !s.prompt_ids.empty()) throw std::invalid_argument("--chat takes a text prompt, not --prompt-ids");
  const std::string base = s.url.find("://") == std::string::npos ? "http://" + s.url : s.url;
  httplib::Client client(base);
  if (!client.is_valid()) throw std::invalid_argument(fmt::format("--url '{}' is not http://HOST:PORT", s.url));
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(600, 0);  // a long generation streams; a stuck one should still end
  const std::string path = s.chat ? "/v1/chat/completions" : "/v1/completions";
  const std::string body = request_body(s).dump();

  if (s.json) {
    auto r = client.Post(path.c_str(), body, "application/json");
    if (!r) throw std::runtime_error(unreachable(base, r.error()));
    if (r->status != 200) throw std::runtime_error(describe_failure(r->status, r->body, r->get_header_value("Retry-After")));
    const json j = json::parse(r->body);
    json out = {{"text", choice_text(j["choices"][0])},
                {"prompt_tokens", j["usage"]["prompt_tokens"]},
                {"completion_tokens", j["usage"]["completion_tokens"]},
                {"finish_reason", j["choices"][0]["finish_reason"]}};
    if (j.contains("baton")) out["tokens_per_s"] = j["baton"]["tokens_per_s"];
    fmt::print("{}\n", out.dump());
    return 0;
  }

  SseReader sse;
  json last;  // the chunk that carried finish_reason
  int status = 0;
  std::string error_body, retry_after, stream_error;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    retry_after = res.get_header_value("Retry-After");
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (status != 200) {
      error_body.append(data, n);
      return error_body.size() < (1 << 16);
    }
    for (const std::string& event : sse.feed(std::string_view(data, n))) {
      if (event == "[DONE]") continue;
      const json chunk = json::parse(event);
      if (chunk.contains("error")) {  // the generation was cut off; the message says why
        stream_error = chunk["error"].value("message", std::string("unknown error"));
        continue;
      }
      fmt::print("{}", choice_text(chunk["choices"][0]));
      std::fflush(stdout);
      if (!chunk["choices"][0]["finish_reason"].is_null()) last = chunk;
    }
    return true;
  };
  auto r = client.send(req);
  if (!r) {
    if (status != 0 && status != 200) throw std::runtime_error(describe_failure(status, error_body, retry_after));
    throw std::runtime_error(unreachable(base, r.error()));
  }
  if (status != 200) throw std::runtime_error(describe_failure(status, error_body, retry_after));
  fmt::print("\n");
  if (!stream_error.empty()) throw std::runtime_error(fmt::format("the generation was cut off: {}", stream_error));
  if (last.is_null()) throw std::runtime_error("the stream ended without a final chunk (coordinator gone?)");
  std::string summary = fmt::format("[{}", last["choices"][0]["finish_reason"].get<std::string>());
  if (last.contains("usage")) {
    summary = fmt::format("[{} prompt tokens, {} generated, {}", last["usage"]["prompt_tokens"].get<int>(),
                          last["usage"]["completion_tokens"].get<int>(), last["choices"][0]["finish_reason"].get<std::string>());
  }
  if (last.contains("baton")) summary += fmt::format(", {:.1f} tokens/s", last["baton"]["tokens_per_s"].get<double>());
  fmt::print(stderr, "{}]\n", summary);
  return 0;
}

}  // namespace baton::cli
