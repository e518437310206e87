#include "tools/completion_stream.h"

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>

#include "transport/sse_reader.h"

namespace baton::cli {

namespace {

using nlohmann::json;
constexpr size_t kMaxRefusalBytes = 64 * 1024;

std::string error_message_of(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
      j["error"]["message"].is_string()) {
    return j["error"]["message"].get<std::string>();
  }
  return body;
}

}  // namespace

std::string StreamedCompletion::failure() const {
  if (!transport_error.empty()) return transport_error;
  if (status != 200) {
    std::string out = fmt::format("the coordinator answered HTTP {}: {}", status, error_message_of(refusal_body));
    if (!retry_after.empty()) out += fmt::format(" (retry after {} s)", retry_after);
    return out;
  }
  if (!stream_error.empty()) return fmt::format("the generation was cut off: {}", stream_error);
  if (final_chunk.is_null()) return "the stream ended without a final chunk (coordinator gone?)";
  return "";
}

std::string choice_text(const json& choice) {
  auto text_at = [](const json& j, const char* key) -> std::string {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  if (choice.contains("delta") && choice["delta"].is_object()) return text_at(choice["delta"], "content");
  if (choice.contains("message") && choice["message"].is_object()) return text_at(choice["message"], "content");
  return text_at(choice, "text");
}

StreamedCompletion stream_completion(httplib::Client& client, const std::string& path, json body,
                                     const std::function<void(const std::string& text)>& on_text) {
  using clock = std::chrono::steady_clock;
  body["stream"] = true;
  StreamedCompletion out;
  SseReader events;
  const auto t0 = clock::now();
  auto ms_now = [&] { return std::chrono::duration<double, std::milli>(clock::now() - t0).count(); };
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  req.response_handler = [&](const httplib::Response& res) {
    out.status = res.status;
    out.retry_after = res.get_header_value("Retry-After");
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (out.status != 200) {
      out.refusal_body.append(data, std::min(n, kMaxRefusalBytes - std::min(kMaxRefusalBytes, out.refusal_body.size())));
      return out.refusal_body.size() < kMaxRefusalBytes;
    }
    std::vector<std::string> payloads;
    try {
      payloads = events.feed(std::string_view(data, n));
    } catch (const std::exception& e) {
      out.stream_error = e.what();  // an event beyond the reader's bound
      return false;
    }
    for (const std::string& payload : payloads) {
      if (payload == "[DONE]") continue;
      const json chunk = json::parse(payload, nullptr, false);
      if (chunk.is_discarded() || !chunk.is_object()) {
        out.stream_error = "the stream carried an event that is not JSON";
        return false;
      }
      if (chunk.contains("error")) {  // the generation was cut off; the message says why
        out.stream_error = chunk["error"].is_object() ? chunk["error"].value("message", std::string("unknown error"))
                                                      : std::string("unknown error");
        continue;
      }
      if (!chunk.contains("choices") || !chunk["choices"].is_array() || chunk["choices"].empty()) continue;
      const json& choice = chunk["choices"][0];
      const std::string text = choice_text(choice);
      if (!text.empty()) {
        const double now = ms_now();
        if (!out.first_ms) out.first_ms = now;
        out.last_ms = now;
        ++out.text_chunks;
        out.text += text;
        if (on_text) on_text(text);
      }
      if (choice.contains("finish_reason") && !choice["finish_reason"].is_null()) out.final_chunk = chunk;
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  if (!client.send(req, res, err) && out.status == 0) {
    out.unreachable = err == httplib::Error::Connection;
    out.transport_error = out.unreachable ? "cannot connect (is `baton coordinator` running there with --http?)"
                                          : fmt::format("the request failed: {}", httplib::to_string(err));
  }
  if (out.status == 0 && res.status > 0) out.status = res.status;
  if (out.status != 200 && out.refusal_body.empty()) out.refusal_body = res.body.substr(0, kMaxRefusalBytes);
  out.total_ms = ms_now();
  return out;
}

}  // namespace baton::cli
