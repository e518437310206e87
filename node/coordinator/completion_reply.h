// Answering one completion request once its choices run as sessions: the sessions'
// callbacks (event-loop thread) hand tokens over a ChoiceChannel to the HTTP thread, which
// answers with one JSON body or streams SSE chunks. A client that goes away cancels its
// sessions (that frees their KV caches on every stage).
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "node/coordinator/openai_api.h"
#include "node/coordinator/session_runner.h"

namespace httplib {
struct Response;
}  // namespace httplib

namespace baton {

// Responses are UTF-8 whatever a model or a client produced: bytes that are not become U+FFFD.
std::string dump_json(const nlohmann::json& j);
void send_api_error(httplib::Response& res, const ApiError& e);
// A failure of ours, told to people without internals (library messages, addresses): the
// details go to the coordinator's log under the same request id.
ApiError server_failure(const std::string& request_id, const std::string& detail);

// Tokens and the end of every choice of one request, from the sessions to the replier.
class ChoiceChannel {
 public:
  explicit ChoiceChannel(int32_t choices) : outcomes_(static_cast<size_t>(choices)) {}

  // The callbacks of choice `index`; they keep the channel alive. With `with_sampled` each
  // text piece carries the sampled tokens behind it (logprobs).
  static SessionCallbacks callbacks(const std::shared_ptr<ChoiceChannel>& channel, int32_t index, bool with_sampled);
  // A started choice's cancel flag.
  void add_cancel(std::shared_ptr<std::atomic<bool>> cancel);
  // Stops every started choice (the client went away, or a later choice was refused).
  void cancel_all();

  struct Piece {
    int32_t choice = 0;
    std::string text;
    std::vector<SampledToken> sampled;  // the tokens behind `text`, when logprobs were asked
  };
  // Waits up to `bound` for pieces or the end; returns what arrived and whether all ended.
  std::pair<std::deque<Piece>, bool> take(std::chrono::milliseconds bound);
  // Waits up to `bound`; true once every choice ended.
  bool wait_finished(std::chrono::milliseconds bound);
  // Valid once finished.
  const std::vector<SessionOutcome>& outcomes() const { return outcomes_; }

 private:
  bool finished() const { return done_ == outcomes_.size(); }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Piece> pieces_;
  std::vector<SessionOutcome> outcomes_;
  size_t done_ = 0;
  std::vector<std::shared_ptr<std::atomic<bool>>> cancels_;
};

// What every part of one reply names.
struct ReplyHeader {
  CompletionRequest request;
  std::string id;          // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;     // Unix seconds
  std::string model_id;
  TokenText token_text;    // for logprobs
};

// Waits until every session of `channel` ended, cancelling them once `client_gone` says so.
void wait_for_sessions(ChoiceChannel& channel, const std::function<bool()>& client_gone,
                       const std::string& request_id);

// Waits for every choice (cancelling them once `client_gone` says so) and answers with
// one JSON body, or a 500 naming the request id if a choice failed.
void reply_whole(const ReplyHeader& header, ChoiceChannel& channel, const std::function<bool()>& client_gone,
                 httplib::Response& res);
// Answers as an SSE stream: a chunk per piece of text as it comes, a last chunk per choice
// (finish_reason; the final one with usage and baton's figures), then [DONE].
void reply_streaming(ReplyHeader header, std::shared_ptr<ChoiceChannel> channel, httplib::Response& res);

}  // namespace baton
