#include "node/coordinator/completion_reply.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

namespace baton {

namespace {

using nlohmann::json;

json speculation_figures(const std::vector<SessionOutcome>& outs) {
  int64_t steps = 0, drafted = 0, accepted = 0;
  for (const auto& o : outs) {
    steps += o.result.verify_steps;
    drafted += o.result.drafted_tokens;
    accepted += o.result.accepted_tokens;
  }
  return {{"verify_steps", steps},
          {"drafted_tokens", drafted},
          {"accepted_tokens", accepted},
          {"acceptance", drafted > 0 ? static_cast<double>(accepted) / static_cast<double>(drafted) : 0.0}};
}

// baton's own figures next to OpenAI's fields (clients ignore unknown keys).
json baton_figures(const std::vector<SessionOutcome>& outs) {
  const SessionOutcome& out = outs.front();
  double kv = 0;
  int64_t cached = 0, sent = 0;
  for (const auto& o : outs) {
    kv += o.kv_cache_mib;
    cached += o.result.reused_tokens;
    sent += static_cast<int64_t>(o.stats.tokens_sent);
  }
  return {{"tokens_per_s", out.decode_tokens_per_s},
          {"ttft_ms", out.ttft_ms},
          {"queued_ms", out.queued_ms},
          // Prompt cache: tokens whose KV a stage slot already held, and tokens sent
          // through the pipeline for this request (every choice).
          {"cached_tokens", cached},
          {"tokens_sent", sent},
          {"kv_cache_mib", kv},
          // Speculative decoding: draft tokens verified and accepted (every choice).
          {"speculative", speculation_figures(outs)}};
}

json usage_of(const std::vector<SessionOutcome>& outs) {
  int64_t completion = 0;
  for (const auto& o : outs) completion += o.result.completion_tokens;
  const int64_t prompt = outs.front().result.prompt_tokens;
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

// Writes one streamed piece per choice it belongs to; false once the client is gone.
class StreamWriter {
 public:
  StreamWriter(const ReplyHeader& header, httplib::DataSink& sink)
      : header_(header),
        sink_(sink),
        first_(static_cast<size_t>(header.request.n), true),
        text_offset_(static_cast<size_t>(header.request.n), 0) {}

  bool piece(const ChoiceChannel::Piece& piece) {
    // A reply that may be a tool call is read whole before anything is sent (endings()).
    if (buffered()) return true;
    const size_t i = static_cast<size_t>(piece.choice);
    json logprobs = logprobs_json(header_.request, piece.sampled, header_.token_text, text_offset_[i]);
    for (const SampledToken& t : piece.sampled) {
      text_offset_[i] += static_cast<int64_t>(header_.token_text(t.id).size());
    }
    const bool sent = send(completion_chunk(header_.request, header_.id, header_.created, header_.model_id, piece.text,
                                            std::nullopt, first_[i], piece.choice, std::move(logprobs)));
    first_[i] = false;
    return sent;
  }

  void endings(const std::vector<SessionOutcome>& outs) {
    for (size_t i = 0; i < outs.size(); ++i) {
      if (!outs[i].error.empty()) {
        // Headers are gone: the error travels as an event, as OpenAI's streams do.
        send(error_body(server_failure(header_.id, outs[i].error)));
        continue;
      }
      std::string finish = finish_reason_for_api(outs[i].result.finish);
      if (buffered()) finish = send_buffered(outs[i].result.text, i, finish);
      json last = completion_chunk(header_.request, header_.id, header_.created, header_.model_id, "", finish,
                                   first_[i], static_cast<int32_t>(i));
      if (i + 1 == outs.size()) {
        last["baton"] = baton_figures(outs);
        // As OpenAI's stream_options.include_usage does, on the final chunk.
        last["usage"] = usage_of(outs);
      }
      send(last);
    }
    const std::string end = "data: [DONE]\n\n";
    sink_.write(end.data(), end.size());
    sink_.done();
  }

 private:
  bool buffered() const { return header_.request.chat && header_.request.tools.active(); }

  // A choice read whole for tool calls: its calls as tool_calls deltas (the name first,
  // then the arguments), or its text as one content delta. Returns the finish reason.
  std::string send_buffered(const std::string& text, size_t i, const std::string& finish) {
    const ToolReply reply = read_tool_reply(header_.request.tools, text, tool_call_id_prefix(header_.id, i));
    auto chunk = [&](json delta) {
      json c = completion_chunk(header_.request, header_.id, header_.created, header_.model_id, "", std::nullopt,
                                first_[i], static_cast<int32_t>(i));
      if (first_[i]) delta["role"] = "assistant";
      c["choices"][0]["delta"] = std::move(delta);
      first_[i] = false;
      send(c);
    };
    if (reply.tool_calls.empty()) {
      if (!text.empty()) chunk({{"content", text}});
      return finish;
    }
    if (reply.content) chunk({{"content", *reply.content}});
    for (size_t k = 0; k < reply.tool_calls.size(); ++k) {
      const json& call = reply.tool_calls[k];
      chunk({{"content", nullptr},
             {"tool_calls", json::array({{{"index", k}, {"id", call["id"]}, {"type", "function"},
                                          {"function", {{"name", call["function"]["name"]}, {"arguments", ""}}}}})}});
      chunk({{"tool_calls", json::array({{{"index", k},
                                          {"function", {{"arguments", call["function"]["arguments"]}}}}})}});
    }
    return "tool_calls";
  }

  bool send(const json& chunk) {
    const std::string line = "data: " + dump_json(chunk) + "\n\n";
    return sink_.write(line.data(), line.size());
  }

  const ReplyHeader& header_;
  httplib::DataSink& sink_;
  std::vector<bool> first_;
  std::vector<int64_t> text_offset_;  // completions' logprobs: bytes so far, per choice
};

}  // namespace

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_api_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(dump_json(error_body(e)), "application/json");
}

ApiError server_failure(const std::string& request_id, const std::string& detail) {
  spdlog::warn("request {} failed: {}", request_id, detail);
  return ApiError(500, "", "server_error",
                  fmt::format("the cluster could not finish this reply (a node failed or left); try again. "
                              "The coordinator's log has the details under request {}.",
                              request_id));
}

SessionCallbacks ChoiceChannel::callbacks(const std::shared_ptr<ChoiceChannel>& channel, int32_t index,
                                          bool with_sampled) {
  SessionCallbacks cb;
  // Both callbacks run on the event-loop thread, one token after the other: the sampled
  // token waits here for its text.
  auto sampled = std::make_shared<std::vector<SampledToken>>();
  if (with_sampled) cb.on_sampled = [sampled](const SampledToken& t) { sampled->push_back(t); };
  cb.on_token = [channel, index, sampled](int32_t, const std::string& text) {
    if (text.empty() && sampled->empty()) return;
    std::lock_guard<std::mutex> lock(channel->mutex_);
    channel->pieces_.push_back({index, text, std::move(*sampled)});
    sampled->clear();
    channel->changed_.notify_all();
  };
  cb.on_done = [channel, index](const SessionOutcome& out) {
    std::lock_guard<std::mutex> lock(channel->mutex_);
    channel->outcomes_[static_cast<size_t>(index)] = out;
    ++channel->done_;
    channel->changed_.notify_all();
  };
  return cb;
}

void ChoiceChannel::add_cancel(std::shared_ptr<std::atomic<bool>> cancel) {
  std::lock_guard<std::mutex> lock(mutex_);
  cancels_.push_back(std::move(cancel));
}

void ChoiceChannel::cancel_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& c : cancels_) c->store(true);
}

std::pair<std::deque<ChoiceChannel::Piece>, bool> ChoiceChannel::take(std::chrono::milliseconds bound) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, bound, [&] { return finished() || !pieces_.empty(); });
  std::deque<Piece> ready;
  ready.swap(pieces_);
  return {std::move(ready), finished()};
}

bool ChoiceChannel::wait_finished(std::chrono::milliseconds bound) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, bound, [&] { return finished(); });
}

void wait_for_sessions(ChoiceChannel& channel, const std::function<bool()>& client_gone,
                       const std::string& request_id) {
  // Looks at the client now and then: one that hung up stops its sessions.
  bool cancelled = false;
  while (!channel.wait_finished(std::chrono::milliseconds(100))) {
    if (!cancelled && client_gone()) {
      channel.cancel_all();
      cancelled = true;
      spdlog::info("request {}: the client went away, its sessions are cancelled", request_id);
    }
  }
}

void reply_whole(const ReplyHeader& header, ChoiceChannel& channel, const std::function<bool()>& client_gone,
                 httplib::Response& res) {
  wait_for_sessions(channel, client_gone, header.id);
  std::vector<GenerationResult> results;
  for (const auto& out : channel.outcomes()) {
    if (!out.error.empty()) {
      send_api_error(res, server_failure(header.id, out.error));
      return;
    }
    results.push_back(out.result);
  }
  json reply = completion_response(header.request, header.id, header.created, header.model_id, results,
                                   header.token_text);
  reply["baton"] = baton_figures(channel.outcomes());
  res.set_content(dump_json(reply), "application/json");
}

void reply_streaming(ReplyHeader header, std::shared_ptr<ChoiceChannel> channel, httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [header = std::move(header), channel](size_t,
                                                                                          httplib::DataSink& sink) {
    StreamWriter writer(header, sink);
    for (;;) {
      auto [ready, done] = channel->take(std::chrono::milliseconds(200));
      for (const ChoiceChannel::Piece& piece : ready) {
        if (!writer.piece(piece)) {
          channel->cancel_all();  // the client went away: stop generating, free the KV caches
          return false;
        }
      }
      if (!sink.is_writable()) {
        channel->cancel_all();
        return false;
      }
      if (done) break;
    }
    writer.endings(channel->outcomes());
    return true;
  });
}

}  // namespace baton
