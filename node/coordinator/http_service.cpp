#include "node/coordinator/http_service.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "node/coordinator/openai_api.h"
#include "node/coordinator/web_page.h"

namespace baton {

namespace {

using nlohmann::json;

// Tokens and the end of one session, handed from the event-loop thread (callbacks) to
// the HTTP thread that writes the response.
struct SessionChannel {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string> pieces;
  bool done = false;
  SessionOutcome outcome;
};

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// baton's own figures next to OpenAI's fields (clients ignore unknown keys).
json baton_figures(const SessionOutcome& out) {
  return {{"tokens_per_s", out.decode_tokens_per_s},
          {"ttft_ms", out.ttft_ms},
          {"queued_ms", out.queued_ms},
          // Prompt cache: tokens whose KV a stage slot already held, and tokens sent
          // through the pipeline for this request.
          {"cached_tokens", out.result.reused_tokens},
          {"tokens_sent", out.stats.tokens_sent},
          {"kv_cache_mib", out.kv_cache_mib}};
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(error_body(e).dump(), "application/json");
}

}  // namespace

HttpService::HttpService(const Model& model, SessionRunner& runner, HttpServiceConfig config, HttpStatusSources status)
    : model_(model),
      runner_(runner),
      config_(std::move(config)),
      status_(std::move(status)),
      server_(std::make_unique<httplib::Server>()) {
  server_->set_payload_max_length(config_.max_body_bytes);
  install_routes();
  install_status_routes();
  port_ = config_.port == 0 ? server_->bind_to_any_port(config_.host)
                            : (server_->bind_to_port(config_.host, config_.port) ? config_.port : -1);
  if (port_ <= 0) {
    throw std::runtime_error(fmt::format("cannot listen for HTTP on {}:{} (in use?)", config_.host, config_.port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

HttpService::~HttpService() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpService::install_routes() {
  serve_web_page(*server_);  // GET /, /app.js, /style.css
  server_->Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  server_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const json body = {{"object", "list"},
                       {"data", json::array({{{"id", config_.model_id}, {"object", "model"}, {"created", 0},
                                              {"owned_by", "baton"}}})}};
    res.set_content(body.dump(), "application/json");
  });
  auto completion = [this](bool chat) {
    return [this, chat](const httplib::Request& http_req, httplib::Response& res) {
      CompletionRequest req;
      std::vector<int32_t> input;
      try {
        req = parse_completion_request(http_req.body, chat, config_.model_id, config_.prefill_chunk);
        const Tokenizer& tok = model_.tokenizer();
        if (chat) {
          input = tok.encode(render_chat(detect_chat_template(model_.chat_template_source()), req.messages, true),
                             tok.add_bos(), true);
        } else if (!req.prompt_ids.empty()) {
          for (int32_t id : req.prompt_ids) {
            if (id < 0 || id >= tok.vocab_size()) {
              throw ApiError(400, "prompt", "invalid_value", fmt::format("token id {} is outside [0, {})", id, tok.vocab_size()));
            }
          }
          input = req.prompt_ids;
        } else {
          input = tok.encode(req.prompt, tok.add_bos(), false);
        }
        if (input.empty()) throw ApiError(400, chat ? "messages" : "prompt", "invalid_value", "the prompt is empty");
        if (static_cast<int64_t>(input.size()) > config_.context) {
          throw ApiError(400, chat ? "messages" : "prompt", "context_length_exceeded",
                         fmt::format("the prompt has {} tokens but the context holds {}", input.size(), config_.context));
        }
      } catch (const ApiError& e) {
        send_error(res, e);
        return;
      }
      auto channel = std::make_shared<SessionChannel>();
      SessionCallbacks cb;
      cb.on_token = [channel](int32_t, const std::string& text) {
        if (text.empty()) return;
        std::lock_guard<std::mutex> lock(channel->mutex);
        channel->pieces.push_back(text);
        channel->changed.notify_all();
      };
      cb.on_done = [channel](const SessionOutcome& out) {
        std::lock_guard<std::mutex> lock(channel->mutex);
        channel->outcome = out;
        channel->done = true;
        channel->changed.notify_all();
      };
      const StartResult started = runner_.try_start(std::move(input), req.params, cb);
      if (started.admission == Admission::Full) {
        res.set_header("Retry-After", std::to_string(started.retry_after_s));
        send_error(res, ApiError(429, "", "busy", started.refusal));
        return;
      }
      if (!started.started()) {
        send_error(res, ApiError(503, "", "unavailable", started.refusal));
        return;
      }
      std::shared_ptr<std::atomic<bool>> cancel = started.cancel;
      const std::string id = fmt::format("cmpl-{:x}", std::chrono::steady_clock::now().time_since_epoch().count());
      const int64_t created = unix_now();

      if (!req.stream) {
        std::unique_lock<std::mutex> lock(channel->mutex);
        channel->changed.wait(lock, [&] { return channel->done; });
        if (!channel->outcome.error.empty()) {
          res.status = 500;
          res.set_content(json{{"error", {{"message", channel->outcome.error}, {"type", "server_error"}}}}.dump(),
                          "application/json");
          return;
        }
        json body = completion_response(req, id, created, config_.model_id, channel->outcome.result);
        body["baton"] = baton_figures(channel->outcome);
        res.set_content(body.dump(), "application/json");
        return;
      }
      res.set_header("Cache-Control", "no-cache");
      res.set_chunked_content_provider(
          "text/event-stream", [this, channel, cancel, req, id, created](size_t, httplib::DataSink& sink) {
            auto send = [&](const json& chunk) {
              const std::string line = "data: " + chunk.dump() + "\n\n";
              return sink.write(line.data(), line.size());
            };
            bool first = true;
            for (;;) {
              std::deque<std::string> ready;
              bool done = false;
              {
                std::unique_lock<std::mutex> lock(channel->mutex);
                channel->changed.wait_for(lock, std::chrono::milliseconds(200),
                                          [&] { return channel->done || !channel->pieces.empty(); });
                ready.swap(channel->pieces);
                done = channel->done;
              }
              for (const auto& text : ready) {
                if (!send(completion_chunk(req, id, created, config_.model_id, text, std::nullopt, first))) {
                  cancel->store(true);  // the client went away: stop generating, free the KV caches
                  return false;
                }
                first = false;
              }
              if (!sink.is_writable()) {
                cancel->store(true);
                return false;
              }
              if (done) break;
            }
            const SessionOutcome& out = channel->outcome;
            const std::string reason = out.error.empty() ? finish_reason_for_api(out.result.finish) : "error";
            json last = completion_chunk(req, id, created, config_.model_id, "", reason, first);
            last["baton"] = baton_figures(out);
            // As OpenAI's stream_options.include_usage does, on the final chunk.
            last["usage"] = {{"prompt_tokens", out.result.prompt_tokens},
                             {"completion_tokens", out.result.completion_tokens},
                             {"total_tokens", out.result.prompt_tokens + out.result.completion_tokens}};
            send(last);
            const std::string end = "data: [DONE]\n\n";
            sink.write(end.data(), end.size());
            sink.done();
            return true;
          });
    };
  };
  server_->Post("/v1/completions", completion(false));
  server_->Post("/v1/chat/completions", completion(true));
  server_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::warn("HTTP handler failed: {}", what);
    res.status = 500;
    res.set_content(json{{"error", {{"message", what}, {"type", "server_error"}}}}.dump(), "application/json");
  });
}

ClusterStatus HttpService::cluster_status() {
  ClusterStatus base;
  base.model_id = config_.model_id;
  base.sessions_active = runner_.active();
  base.sessions_queued = runner_.queued();
  base.sessions_max = runner_.max_active();
  if (status_.metrics) base.last = status_.metrics->snapshot().last;
  return status_.executor->executeSync([this, base = std::move(base)]() mutable {
    return gather_cluster_status(*status_.cluster, std::move(base), status_.discovered);
  });
}

void HttpService::install_status_routes() {
  if (!status_.executor || !status_.cluster) return;
  server_->Get("/v1/cluster", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_content(cluster_status_json(cluster_status()).dump(), "application/json");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    MetricsSnapshot snap = status_.metrics ? status_.metrics->snapshot() : MetricsSnapshot{};
    const ClusterStatus cs = cluster_status();
    snap.sessions_active = cs.sessions_active;
    snap.sessions_queued = cs.sessions_queued;
    snap.nodes_up = static_cast<int>(std::count_if(cs.nodes.begin(), cs.nodes.end(),
                                                   [](const NodeStatus& n) { return n.joined && n.online; }));
    snap.nodes_planned = static_cast<int>(cs.plan.stages.size());
    res.set_content(render_prometheus(snap), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace baton
