// The coordinator's HTTP service (cpp-httplib, its own threads): the OpenAI-compatible
// API (/v1/models, /v1/completions and /v1/chat/completions, streaming with SSE), /health,
// /metrics (Prometheus), /v1/cluster and the web page. Each choice of a request is a
// session on the pipeline (SessionRunner); a client that goes away (streaming or not)
// cancels its sessions, which frees their KV caches on every stage; past the queue bound
// requests get 429 + Retry-After. Doors: API keys and CORS origins (http_doors.h), and
// every read bounded in time and bytes (http_server.h).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "model/model.h"
#include "node/coordinator/cluster_status.h"
#include "node/coordinator/http_limits.h"
#include "node/coordinator/metrics.h"
#include "node/coordinator/openai_api.h"
#include "node/coordinator/session_runner.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace baton {

class BoundedHttpServer;
class ChoiceChannel;

struct HttpServiceConfig {
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0: any free port
  std::string model_id;            // what /v1/models lists and requests may name
  int64_t context = 2048;          // per session: prompt + completion must fit
  int32_t prefill_chunk = 64;
  SpeculationParams speculation;   // a request's `speculative` field turns it on or off
  HttpLimits limits;
  std::vector<std::string> api_keys;      // empty: open (fine on loopback)
  std::vector<std::string> cors_origins;  // browsers on these origins may call the API
};

// Where the status endpoints read from. The cluster is only touched on the event loop
// (through `executor`).
struct HttpStatusSources {
  const kj::Executor* executor = nullptr;
  Cluster* cluster = nullptr;
  ServiceMetrics* metrics = nullptr;
  DiscoveredNodes discovered;  // optional
};

class HttpService {
 public:
  // Binds and starts serving; throws std::runtime_error if the address cannot be bound.
  HttpService(const Model& model, SessionRunner& runner, HttpServiceConfig config, HttpStatusSources status);
  ~HttpService();
  int port() const { return port_; }

 private:
  void install_doors();
  void install_routes();
  void install_completion_routes();
  void install_status_routes();
  // One completion request, as a table of contents: parse and encode, admit its choices
  // as sessions, then reply whole or streaming (completion_reply.h).
  void complete(bool chat, const httplib::Request& http_req, httplib::Response& res, const std::string& body);
  struct EncodedCompletion {
    CompletionRequest request;
    std::vector<int32_t> input;  // the prompt's token ids
  };
  // Throws ApiError (a 400 naming the field) for what the client got wrong.
  EncodedCompletion parse_and_encode(bool chat, const std::string& body) const;
  // Starts every choice (start_sessions).
  std::shared_ptr<ChoiceChannel> admit(const EncodedCompletion& encoded, httplib::Response& res);
  struct SessionStart {
    std::vector<int32_t> input;
    GenerationParams params;
  };
  // Starts one session per entry; on refusal cancels the started ones, answers 429 or 503
  // and returns null.
  std::shared_ptr<ChoiceChannel> start_sessions(const std::vector<SessionStart>& sessions, bool with_sampled,
                                                httplib::Response& res);
  // POST /v1/embeddings: one session per input, each embedding only (no generation).
  void install_embedding_route();
  void embed(const httplib::Request& http_req, httplib::Response& res, const std::string& body);
  ClusterStatus cluster_status();
  TokenText token_text() const;  // a token id's bytes, for logprobs

  const Model& model_;
  SessionRunner& runner_;
  HttpServiceConfig config_;
  HttpStatusSources status_;
  std::unique_ptr<BoundedHttpServer> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace baton
