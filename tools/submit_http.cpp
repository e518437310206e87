#include "tools/submit_http.h"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "tools/completion_stream.h"

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

  const StreamedCompletion r = stream_completion(client, path, request_body(s), [](const std::string& text) {
    fmt::print("{}", text);
    std::fflush(stdout);
  });
  if (r.status == 0) {
    throw std::runtime_error(r.unreachable ? unreachable(base, httplib::Error::Connection)
                                           : fmt::format("request to {} failed: {}", base, r.transport_error));
  }
  if (r.status != 200) throw std::runtime_error(describe_failure(r.status, r.refusal_body, r.retry_after));
  fmt::print("\n");
  if (!r.complete()) throw std::runtime_error(r.failure());
  const json& last = r.final_chunk;
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
