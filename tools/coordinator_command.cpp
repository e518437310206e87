// `baton coordinator`: join the nodes, plan, load and link the pipeline, serve prompts.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "model/kv_cache.h"
#include "node/coordinator/cluster.h"
#include "discovery/mdns_browser.h"
#include "node/coordinator/coordinator_service.h"
#include "node/coordinator/http_service.h"
#include "node/coordinator/membership.h"
#include "node/coordinator/membership_loops.h"
#include "node/coordinator/metrics.h"
#include "node/model_identity.h"
#include "transport/rpc_peer.h"
#include "node/coordinator/session_runner.h"
#include "tools/commands.h"
#include "tools/default_model.h"
#include "tools/event_loop.h"
#include "transport/auth.h"

namespace baton::cli {

namespace {

class LogTaskErrors final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&& e) override { spdlog::warn("background task: {}", e.getDescription().cStr()); }
};

struct CoordinatorArgs {
  std::vector<std::string> peers;
  std::optional<std::string> model;
  std::string secret;
  std::string listen = "127.0.0.1:7070";
  std::string wire = "int8+zstd";
  std::string strategy = "memory";
  int64_t ctx = 2048;
  uint32_t max_sessions = 4;
  uint32_t max_queue = 16;
  uint32_t heartbeat_ms = 2000;
  uint32_t heartbeat_misses = 3;
  std::string kv_dtype = "f16";
  uint32_t prefill_chunk = 64;
  bool mdns = true;
  std::string mdns_interface;
  uint16_t mdns_port = 5353;
  std::string http = "127.0.0.1:8080";
  uint32_t min_nodes = 1;
  double discovery_wait_s = 5;
};

// Waits (bounded) until at least `min_nodes` candidates are known.
std::vector<PeerCandidate> wait_for_nodes(kj::AsyncIoContext& io, const CoordinatorArgs& args,
                                          discovery::MdnsBrowser* browser) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(args.discovery_wait_s * 1000));
  for (;;) {
    auto candidates = plan_candidates(args.peers, browser ? browser->peers() : std::vector<discovery::PeerEntry>{});
    if (candidates.size() >= args.min_nodes) return candidates;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error(fmt::format(
          "found {} node(s) after {:.0f} s, need {}: start `baton node` on the network, or pass --peers HOST:PORT,...",
          candidates.size(), args.discovery_wait_s, args.min_nodes));
    }
    io.provider->getTimer().afterDelay(200 * kj::MILLISECONDS).wait(io.waitScope);
  }
}

int run_coordinator(CoordinatorArgs args) {
  ClusterConfig cfg;
  cfg.peers = args.peers;
  cfg.secret = resolve_secret(args.secret);
  cfg.wire = parse_wire_format(args.wire);
  cfg.strategy = *parse_strategy(args.strategy);
  cfg.context = args.ctx;
  cfg.max_sessions = args.max_sessions;
  cfg.kv_dtype = parse_kv_dtype(args.kv_dtype);
  cfg.prefill_chunk = args.prefill_chunk;

  const std::string path = resolve_model(args.model);
  // The coordinator holds no layers: tokenizer and shards only.
  const ModelOpenOptions opt = ModelOpenOptions::without_layers();
  auto model = Model::open(path, opt);
  const std::string hash = model_file_hash(path);
  if (cfg.context > model->hparams().ctx_train) {
    spdlog::warn("context {} is longer than the {} tokens the model was trained with", cfg.context,
                 model->hparams().ctx_train);
  }

  capture_shutdown_signals();
  auto io = kj::setupAsyncIo();
  std::unique_ptr<discovery::MdnsBrowser> browser;
  if (args.mdns) {
    discovery::BrowserConfig bc;
    bc.interface = args.mdns_interface;
    bc.mdns_port = args.mdns_port;
    bc.max_query_interval = std::chrono::seconds(20);  // a coordinator wants to notice nodes soon
    browser = std::make_unique<discovery::MdnsBrowser>(bc);
    try {
      browser->start();
    } catch (const std::exception& e) {
      spdlog::warn("mDNS discovery unavailable ({}); using --peers only", e.what());
      browser.reset();
    }
  }
  Cluster cluster(io, *model, hash, cfg);
  auto candidates = wait_for_nodes(io, args, browser.get());
  fmt::print("coordinator: joining {} node(s), model {} ({})\n", candidates.size(), path, hash.substr(0, 12));
  std::fflush(stdout);
  cluster.reassemble(std::move(candidates)).wait(io.waitScope);

  ServiceMetrics metrics;
  // Every stage reserved KV for max_sessions sessions: that many may generate at once.
  const AdmissionLimits limits{static_cast<int>(cfg.max_sessions), static_cast<int>(args.max_queue)};
  SessionRunner runner(kj::getCurrentThreadExecutor(), cluster, model->tokenizer(), limits, &metrics);
  rpc::Coordinator::Client service = kj::heap<CoordinatorServer>(*model, runner, static_cast<int32_t>(cfg.prefill_chunk));
  const std::string secret = cfg.secret;
  ListenerSecurity listener_security;
  listener_security.secret = secret;
  listener_security.role = "coordinator";
  RpcListener listener(io, args.listen, [&](std::function<void()> close, std::string peer) -> capnp::Capability::Client {
    return kj::heap<GateServer>(secret, "coordinator", std::move(peer), std::move(close), nullptr, service);
  }, listener_security);
  LogTaskErrors task_errors;
  kj::TaskSet background(task_errors);
  background.add(cluster.ping_loop(args.heartbeat_ms * kj::MILLISECONDS, static_cast<int>(args.heartbeat_misses)));
  if (browser) background.add(follow_membership(io, cluster, runner, *browser, args.peers));
  background.add(rejoin_lost_nodes(io, cluster, runner, std::max(args.heartbeat_ms, 1000u) * kj::MILLISECONDS));
  std::unique_ptr<HttpService> http;
  if (args.http != "off" && !args.http.empty()) {
    const auto colon = args.http.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument(fmt::format("--http '{}' is not HOST:PORT", args.http));
    HttpServiceConfig hc;
    hc.host = args.http.substr(0, colon);
    hc.port = std::stoi(args.http.substr(colon + 1));
    hc.model_id = std::filesystem::path(path).stem().string();
    hc.context = cfg.context;
    hc.prefill_chunk = static_cast<int32_t>(cfg.prefill_chunk);
    HttpStatusSources sources;
    sources.executor = &kj::getCurrentThreadExecutor();
    sources.cluster = &cluster;
    sources.metrics = &metrics;
    if (browser) sources.discovered = [&browser] { return discovered_nodes(browser->peers()); };
    http = std::make_unique<HttpService>(*model, runner, hc, std::move(sources));
  }
  fmt::print("coordinator ready on {} (port {}): {} stage(s), wire {}, predicted {:.1f} tokens/s\n", args.listen,
             listener.port(), cluster.plan().stages.size(), wire_format_name(cfg.wire), cluster.plan().tokens_per_s);
  if (http) fmt::print("HTTP API on http://{}:{}/v1 (OpenAI-compatible)\n", args.http.substr(0, args.http.rfind(':')), http->port());
  std::fflush(stdout);
  const char* sig = listener.run().then([] { return "accept loop ended"; }).exclusiveJoin(shutdown_signal(io)).wait(io.waitScope);
  spdlog::info("coordinator shutting down ({})", sig);
  // Sessions end first (their last callbacks need the event loop), then the front doors.
  runner.shutdown(io.waitScope, io.provider->getTimer(), 5 * kj::SECONDS,
                  [&cluster] { cluster.abort_steps("the coordinator is shutting down"); });
  http.reset();
  if (browser) browser->stop();
  return 0;
}

}  // namespace

void register_coordinator(CLI::App& app, CommandRunner& runner) {
  auto a = std::make_shared<CoordinatorArgs>();
  CLI::App* cmd = app.add_subcommand("coordinator", "Plan a model over nodes, load them, and serve prompts");
  cmd->add_option("--peers", a->peers, "Nodes as HOST:PORT (comma-separated); discovered nodes are added")->delimiter(',');
  cmd->add_option("-m,--model", a->model, "GGUF model (default: the shipped model)");
  cmd->add_option("-s,--secret", a->secret, "Cluster secret (default: $BATON_SECRET)");
  cmd->add_option("-l,--listen", a->listen, "Address for `baton submit` (HOST:PORT)")->capture_default_str();
  cmd->add_option("--wire", a->wire, "Activation encoding between stages: f32, f16, int8, each optionally +zstd")
      ->capture_default_str();
  cmd->add_option("--strategy", a->strategy, "Planner: memory (proportional) or latency (fastest predicted)")
      ->check(CLI::IsMember({"memory", "latency"}))->capture_default_str();
  cmd->add_option("-c,--ctx", a->ctx, "Context per session (tokens)")->check(CLI::Range(int64_t{16}, int64_t{1} << 20))->capture_default_str();
  cmd->add_option("--max-sessions", a->max_sessions,
                  "Concurrent sessions every stage reserves KV for (fewer if the nodes' memory holds fewer)")
      ->check(CLI::Range(1u, 1024u))->capture_default_str();
  cmd->add_option("--max-queue", a->max_queue, "Requests that may wait for a free session slot (more get HTTP 429)")
      ->check(CLI::Range(0u, 100000u))->capture_default_str();
  cmd->add_option("--heartbeat-ms", a->heartbeat_ms, "Check the nodes' heartbeats and ping them (RTT) this often")
      ->check(CLI::Range(50u, 600000u))->capture_default_str();
  cmd->add_option("--heartbeat-misses", a->heartbeat_misses,
                  "Periods a node's heartbeats may stay silent (pings, for a node without heartbeats) before "
                  "the coordinator re-plans without it")
      ->check(CLI::Range(1u, 1000u))->capture_default_str();
  cmd->add_option("--kv-dtype", a->kv_dtype, "KV cache type on the stages")->check(CLI::IsMember({"f16", "q8_0", "int8", "f32"}))->capture_default_str();
  cmd->add_option("--prefill-chunk", a->prefill_chunk, "Prompt tokens per frame")->check(CLI::Range(1u, 4096u))->capture_default_str();
  cmd->add_option("--http", a->http, "OpenAI-compatible HTTP API address (HOST:PORT, port 0 picks one; 'off' disables)")
      ->capture_default_str();
  cmd->add_flag("!--no-mdns", a->mdns, "Do not discover nodes with mDNS (use --peers only)");
  cmd->add_option("--mdns-interface", a->mdns_interface, "Interface or IPv4 address for mDNS (default: automatic)");
  cmd->add_option("--mdns-port", a->mdns_port, "mDNS UDP port (tests isolate themselves; standard: 5353)")->capture_default_str();
  cmd->add_option("--min-nodes", a->min_nodes, "Nodes to wait for before planning")->check(CLI::Range(1u, 64u))->capture_default_str();
  cmd->add_option("--discovery-wait", a->discovery_wait_s, "Seconds to wait for --min-nodes")->check(CLI::Range(0.0, 3600.0))->capture_default_str();
  cmd->callback([a, &runner] { runner = [a] { return run_coordinator(*a); }; });
}

}  // namespace baton::cli
