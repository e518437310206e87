// One streamed completion over the coordinator's OpenAI-compatible HTTP API, read the way
// every baton tool reads it (`baton submit --url`, the simulator's workload, the soak
// tool): the SSE events through the shared bounded reader, each piece of text handed over
// as it arrives, with client-side timings, and every way it can end kept apart (refused,
// unreachable, cut off by an error event, ended without a final chunk).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>

namespace httplib {
class Client;
}  // namespace httplib

namespace baton::cli {

struct StreamedCompletion {
  int status = 0;               // HTTP status; 0 when no answer came
  std::string transport_error;  // the request failed below HTTP (connection, timeout)
  bool unreachable = false;     // ... because nothing accepted the connection
  std::string refusal_body;     // a non-200 answer's body (bounded)
  std::string retry_after;      // its Retry-After header
  std::string stream_error;     // an error event inside the stream
  std::string text;             // every choice-0 piece, joined
  int text_chunks = 0;          // chunks that carried text (one decoded token each)
  std::optional<double> first_ms, last_ms;  // since the request was sent
  double total_ms = 0;
  nlohmann::json final_chunk;   // the one with finish_reason (usage and baton's figures)

  bool complete() const {
    return status == 200 && transport_error.empty() && stream_error.empty() && !final_chunk.is_null();
  }
  // For people: why it is not complete ("" when it is).
  std::string failure() const;
};

// Text of one chunk's or reply's choice, for chat and plain completions alike.
std::string choice_text(const nlohmann::json& choice);

// POSTs `body` (its "stream" set to true) to `path` and reads the stream to its end.
// `on_text` sees each piece of text as it arrives (may be empty).
StreamedCompletion stream_completion(httplib::Client& client, const std::string& path, nlohmann::json body,
                                     const std::function<void(const std::string& text)>& on_text = {});

}  // namespace baton::cli
