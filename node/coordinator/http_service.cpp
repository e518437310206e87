#include "node/coordinator/http_service.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <random>

#include "model/tokenizer.h"
#include "node/coordinator/completion_reply.h"
#include "node/coordinator/embeddings_api.h"
#include "node/coordinator/http_doors.h"
#include "node/coordinator/http_server.h"
#include "node/coordinator/openai_api.h"
#include "node/coordinator/web_page.h"

namespace baton {

namespace {

using nlohmann::json;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Every path the service answers, so anything else gets a JSON 404 before its body is read.
bool known_route(const std::string& method, const std::string& path) {
  if (method == "POST") return path == "/v1/completions" || path == "/v1/chat/completions" || path == "/v1/embeddings";
  if (method != "GET" && method != "HEAD") return false;
  if (path == "/health" || path == "/v1/models" || path == "/v1/cluster" || path == "/metrics" || path == "/") return true;
  if (path.rfind("/v1/models/", 0) == 0) return true;
  for (const EmbeddedFile& f : embedded_web_files()) {
    if (path.size() == f.name.size() + 1 && path.substr(1) == f.name) return true;
  }
  return false;
}

std::vector<std::string> public_paths() {
  std::vector<std::string> paths = {"/health", "/"};
  for (const EmbeddedFile& f : embedded_web_files()) {
    std::string path = "/";
    path += f.name;
    paths.push_back(std::move(path));
  }
  return paths;
}

// What the HTTP library refused by itself, in words.
std::string library_refusal(int status) {
  switch (status) {
    case 400: return "the request is malformed (request line, headers or body framing)";
    case 404: return "no such route";
    case 405: return "method not allowed";
    case 408: return "the request did not arrive in time";
    case 413: return "the request body is too large";
    case 414: return "the request URI is too long";
    case 416: return "the requested range cannot be served";
    default: return fmt::format("HTTP {}", status);
  }
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

}  // namespace

HttpService::HttpService(const Model& model, SessionRunner& runner, HttpServiceConfig config, HttpStatusSources status)
    : model_(model),
      runner_(runner),
      config_(std::move(config)),
      status_(std::move(status)),
      server_(std::make_unique<BoundedHttpServer>(config_.limits)) {
  install_doors();
  install_routes();
  install_completion_routes();
  install_embedding_route();
  install_status_routes();
  port_ = server_->bind(config_.host, config_.port);
  if (port_ <= 0) {
    throw std::runtime_error(fmt::format("cannot listen for HTTP on {}:{} (in use?)", config_.host, config_.port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

HttpService::~HttpService() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpService::install_doors() {
  DoorPolicy policy{config_.api_keys, config_.cors_origins, public_paths()};
  // Runs once the headers are in and before any body is read.
  server_->set_pre_routing_handler([this, policy](const httplib::Request& req, httplib::Response& res) {
    const DoorVerdict v = judge_door(policy, {req.method, req.path, req.get_header_value("Origin"),
                                              req.get_header_value("Authorization"),
                                              req.get_header_value("Access-Control-Request-Method"),
                                              req.get_header_value("Access-Control-Request-Headers")});
    for (const auto& [name, value] : v.headers) res.set_header(name, value);
    const bool has_body = req.has_header("Content-Length") || req.has_header("Transfer-Encoding");
    auto refuse = [&](const ApiError& e) {
      if (has_body) server_->close_after_response(req);  // its body stays unread on the wire
      send_api_error(res, e);
      return httplib::Server::HandlerResponse::Handled;
    };
    if (v.status) {
      if (*v.status == 204) {
        res.status = 204;
        return httplib::Server::HandlerResponse::Handled;
      }
      return refuse(ApiError(*v.status, "", v.error_code, v.error_message));
    }
    if (!known_route(req.method, req.path)) {
      return refuse(ApiError(404, "", "unknown_url",
                             fmt::format("no route {} {}: the API serves GET /v1/models, POST /v1/chat/completions, "
                                         "POST /v1/completions, POST /v1/embeddings, GET /health, GET /metrics and "
                                         "GET /v1/cluster",
                                         req.method, req.path)));
    }
    const std::string encoding = req.get_header_value("Content-Encoding");
    if (!encoding.empty() && encoding != "identity" && encoding != "gzip" && encoding != "deflate") {
      return refuse(ApiError(415, "", "unsupported_encoding",
                             fmt::format("Content-Encoding '{}' is not accepted; send the body plain, gzip or deflate",
                                         encoding)));
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Whatever the library refuses on its own (400 for a malformed request line, 404, 413)
  // gets an OpenAI-shaped body too.
  server_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    send_api_error(res, ApiError(res.status, "", res.status >= 500 ? "server_error" : "invalid_request",
                             library_refusal(res.status)));
    return httplib::Server::HandlerResponse::Handled;
  }));
  server_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_api_error(res, server_failure(new_request_id(), what));
  });
}

void HttpService::install_routes() {
  serve_web_page(*server_);  // GET /, /app.js, /style.css
  server_->Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  server_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const json body = {{"object", "list"}, {"data", json::array({model_object(config_.model_id)})}};
    res.set_content(dump_json(body), "application/json");
  });
  server_->Get("/v1/models/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    if (id != config_.model_id) {
      send_api_error(res, ApiError(404, "model", "model_not_found",
                               fmt::format("model '{}' is not served here (this coordinator serves '{}')", id,
                                           config_.model_id)));
      return;
    }
    res.set_content(dump_json(model_object(config_.model_id)), "application/json");
  });
}

void HttpService::install_completion_routes() {
  for (const bool chat : {false, true}) {
    server_->Post(chat ? "/v1/chat/completions" : "/v1/completions",
                  [this, chat](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                    BodyRead body = read_bounded_body(*server_, req, reader);
                    if (!body.body) {
                      send_api_error(res, ApiError(body.status, "", body.status == 413 ? "request_too_large" : "invalid_body",
                                               body.message));
                      return;
                    }
                    complete(chat, req, res, *body.body);
                  });
  }
}

void HttpService::complete(bool chat, const httplib::Request& http_req, httplib::Response& res, const std::string& body) {
  EncodedCompletion encoded;
  try {
    encoded = parse_and_encode(chat, body);
  } catch (const ApiError& e) {
    send_api_error(res, e);
    return;
  }
  std::shared_ptr<ChoiceChannel> channel = admit(encoded, res);
  if (!channel) return;
  ReplyHeader header{std::move(encoded.request), (chat ? "chatcmpl-" : "cmpl-") + new_request_id(), unix_now(),
                     config_.model_id, token_text()};
  if (header.request.stream) {
    reply_streaming(std::move(header), std::move(channel), res);
  } else {
    reply_whole(header, *channel, [&] { return server_->client_gone(http_req); }, res);
  }
}

HttpService::EncodedCompletion HttpService::parse_and_encode(bool chat, const std::string& body) const {
  EncodedCompletion out;
  out.request = parse_completion_request(body, chat, config_.model_id, config_.prefill_chunk);
  check_logit_bias_ids(out.request, model_.tokenizer().vocab_size());
  try {
    out.input = prompt_to_ids(model_.tokenizer(), detect_chat_template(model_.chat_template_source()), out.request.prompt);
  } catch (const PromptError& e) {
    throw ApiError(400, e.field, "invalid_value", e.what());
  }
  if (static_cast<int64_t>(out.input.size()) > config_.context) {
    throw ApiError(400, chat ? "messages" : "prompt", "context_length_exceeded",
                   fmt::format("the prompt has {} tokens but the context holds {}", out.input.size(), config_.context));
  }
  return out;
}

std::shared_ptr<ChoiceChannel> HttpService::admit(const EncodedCompletion& encoded, httplib::Response& res) {
  const CompletionRequest& req = encoded.request;
  std::vector<SessionStart> choices;
  for (int32_t i = 0; i < req.n; ++i) {
    GenerationParams params = req.params;
    params.sampling.seed += static_cast<uint64_t>(i);  // n different answers, each reproducible
    params.speculation = config_.speculation;
    if (req.speculative) params.speculation.enabled = *req.speculative;
    choices.push_back({encoded.input, std::move(params)});
  }
  return start_sessions(choices, req.stream && req.params.logprobs.any(), res);
}

std::shared_ptr<ChoiceChannel> HttpService::start_sessions(const std::vector<SessionStart>& sessions,
                                                           bool with_sampled, httplib::Response& res) {
  auto channel = std::make_shared<ChoiceChannel>(static_cast<int32_t>(sessions.size()));
  for (size_t i = 0; i < sessions.size(); ++i) {
    const StartResult started = runner_.try_start(
        sessions[i].input, sessions[i].params, ChoiceChannel::callbacks(channel, static_cast<int32_t>(i), with_sampled));
    if (started.started()) {
      channel->add_cancel(started.cancel);
      continue;
    }
    channel->cancel_all();  // the sessions already started would answer nobody
    if (started.admission == Admission::Full) {
      res.set_header("Retry-After", std::to_string(started.retry_after_s));
      send_api_error(res, ApiError(429, "", "busy", started.refusal));
    } else {
      send_api_error(res, ApiError(503, "", "unavailable", started.refusal));
    }
    return nullptr;
  }
  return channel;
}

void HttpService::install_embedding_route() {
  server_->Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res,
                                         const httplib::ContentReader& reader) {
    BodyRead body = read_bounded_body(*server_, req, reader);
    if (!body.body) {
      send_api_error(res, ApiError(body.status, "", body.status == 413 ? "request_too_large" : "invalid_body",
                                   body.message));
      return;
    }
    embed(req, res, *body.body);
  });
}

void HttpService::embed(const httplib::Request& http_req, httplib::Response& res, const std::string& body) {
  EmbeddingRequest request;
  std::vector<std::vector<int32_t>> inputs;
  try {
    request = parse_embedding_request(body, config_.model_id, model_.hparams().dim);
    inputs = encode_embedding_inputs(request, model_.tokenizer(), config_.context);
  } catch (const ApiError& e) {
    send_api_error(res, e);
    return;
  }
  // Each input is a session: they run at once (up to the KV slots), batched on the stages.
  std::vector<SessionStart> sessions;
  int64_t tokens = 0;
  for (auto& ids : inputs) {
    GenerationParams params;
    params.embed_only = true;
    params.prefill_chunk = config_.prefill_chunk;
    tokens += static_cast<int64_t>(ids.size());
    sessions.push_back({std::move(ids), std::move(params)});
  }
  std::shared_ptr<ChoiceChannel> channel = start_sessions(sessions, false, res);
  if (!channel) return;
  const std::string id = "embd-" + new_request_id();
  wait_for_sessions(*channel, [&] { return server_->client_gone(http_req); }, id);
  std::vector<std::vector<float>> vectors;
  for (const SessionOutcome& out : channel->outcomes()) {
    if (out.result.finish == FinishReason::Cancelled && out.error.empty()) return;  // nobody is listening
    if (!out.error.empty()) {
      send_api_error(res, server_failure(id, out.error));
      return;
    }
    vectors.push_back(out.embedding);
  }
  res.set_content(dump_json(embedding_response(vectors, request.base64, config_.model_id, tokens)),
                  "application/json");
}

TokenText HttpService::token_text() const {
  const Tokenizer* tokenizer = &model_.tokenizer();
  return [tokenizer](int32_t id) { return tokenizer->token_bytes(id); };
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
    res.set_content(dump_json(cluster_status_json(cluster_status())), "application/json");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    MetricsSnapshot snap = status_.metrics ? status_.metrics->snapshot() : MetricsSnapshot{};
    const ClusterStatus cs = cluster_status();
    snap.sessions_active = cs.sessions_active;
    snap.sessions_queued = cs.sessions_queued;
    snap.nodes_up = static_cast<int>(std::count_if(cs.nodes.begin(), cs.nodes.end(),
                                                   [](const NodeStatus& n) { return n.joined && n.online; }));
    snap.nodes_planned = static_cast<int>(cs.plan.stages.size());
    snap.health_decisions = cs.health_decisions;
    res.set_content(render_prometheus(snap), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace baton
