// `baton coordinator`: join the nodes, plan, load and link the pipeline, serve prompts.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "model/kv_cache.h"
#include "node/coordinator/cluster.h"
#include "discovery/mdns_browser.h"
#include "node/coordinator/coordinator_service.h"
#include "node/coordinator/http_doors.h"
#include "node/coordinator/http_service.h"
#include "node/coordinator/membership.h"
#include "node/coordinator/membership_loops.h"
#include "node/coordinator/metrics.h"
#include "node/model_identity.h"
#include "transport/rpc_peer.h"
#include "node/coordinator/session_runner.h"
#include "transport/user_errors.h"
#include "tools/commands.h"
#include "tools/default_model.h"
#include "tools/ready_file.h"
#include "tools/event_loop.h"
#include "tools/run_options.h"
#include "transport/auth.h"

namespace baton::cli {

namespace {

class LogTaskErrors final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&& e) override { spdlog::warn("background task: {}", plain_message(e)); }
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
  SpeculationFlags speculation;
  bool mdns = true;
  std::string mdns_interface;
  uint16_t mdns_port = 5353;
  std::string http = "127.0.0.1:8080";
  std::vector<std::string> api_keys;
  std::string api_key_file;
  std::vector<std::string> cors_origins;
  uint32_t min_nodes = 1;
  double discovery_wait_s = 0;  // 0: wait until nodes come
  std::string ready_file;       // written once serving (empty: none)
  HealthThresholds health;
};

// Seconds to wait before the n-th retry (n from 0): 1, 2, 4, 8, then every 15.
double backoff_s(int attempt) { return attempt >= 4 ? 15.0 : static_cast<double>(1 << attempt); }

std::string list_addresses(const std::vector<PeerCandidate>& candidates) {
  std::string out;
  for (const auto& c : candidates) out += (out.empty() ? "" : ", ") + c.address;
  return out.empty() ? "none yet" : out;
}

// Start-up: waits for --min-nodes candidates and a pipeline over them, retrying with
// backoff (nodes start after the coordinator, a phone is still waking up, a node serves
// another coordinator). Gives up after --discovery-wait seconds when set (0: never).
// Returns false when a shutdown signal ended the wait.
bool assemble_when_ready(kj::AsyncIoContext& io, Cluster& cluster, const CoordinatorArgs& args,
                         discovery::MdnsBrowser* browser, kj::ForkedPromise<const char*>& stop) {
  using clock = std::chrono::steady_clock;
  const auto started = clock::now();
  const bool bounded = args.discovery_wait_s > 0;
  const auto deadline = started + std::chrono::milliseconds(static_cast<int64_t>(args.discovery_wait_s * 1000));
  // Sleeps `seconds` (at most until the deadline); false if a signal came instead.
  auto sleep = [&](double seconds) {
    if (bounded) seconds = std::min(seconds, std::chrono::duration<double>(deadline - clock::now()).count());
    if (seconds <= 0) return true;
    return io.provider->getTimer()
        .afterDelay(static_cast<int64_t>(seconds * 1000) * kj::MILLISECONDS)
        .then([] { return true; })
        .exclusiveJoin(stop.addBranch().then([](const char*) { return false; }))
        .wait(io.waitScope);
  };
  std::string last_wait;
  auto next_log = clock::now();
  int attempt = 0;
  for (;;) {
    auto candidates = plan_candidates(args.peers, browser ? browser->peers() : std::vector<discovery::PeerEntry>{});
    std::string problem;
    if (candidates.size() < args.min_nodes) {
      problem = fmt::format("found {} node(s) ({}), need {} (--min-nodes)", candidates.size(),
                            list_addresses(candidates), args.min_nodes);
      if (problem != last_wait || clock::now() >= next_log) {
        spdlog::info("waiting for nodes: {}; start `baton node` with the same secret on the network{}", problem,
                     browser ? "" : ", or pass --peers HOST:PORT,...");
        last_wait = problem;
        next_log = clock::now() + std::chrono::seconds(15);
      }
    } else {
      fmt::print("coordinator: joining {} node(s): {}\n", candidates.size(), list_addresses(candidates));
      std::fflush(stdout);
      try {
        cluster.reassemble(std::move(candidates)).wait(io.waitScope);
        return true;
      } catch (const kj::Exception& e) {
        problem = plain_message(e);
      } catch (const std::exception& e) {
        problem = e.what();
      }
      spdlog::warn("the cluster is not ready: {}; trying again in {:.0f} s", problem, backoff_s(attempt));
    }
    if (bounded && clock::now() >= deadline) {
      if (cluster.found_no_plan()) {
        throw NoPlanError(fmt::format("gave up after {:g} s (--discovery-wait): {}. Add nodes (or memory), or lower "
                                      "--ctx or --max-sessions",
                                      args.discovery_wait_s, problem));
      }
      throw std::runtime_error(fmt::format(
          "gave up after {:g} s (--discovery-wait): {}. Start `baton node` on the network with the same "
          "secret, or pass --peers HOST:PORT,...",
          args.discovery_wait_s, problem));
    }
    if (!sleep(problem.rfind("found ", 0) == 0 ? 0.25 : backoff_s(attempt++))) return false;
  }
}

// The cluster's settings from the command line; throws std::invalid_argument naming the
// options that contradict each other.
ClusterConfig cluster_config_from(const CoordinatorArgs& args) {
  ClusterConfig cfg;
  cfg.peers = args.peers;
  cfg.secret = resolve_secret(args.secret);
  cfg.wire = parse_wire_format(args.wire);
  cfg.strategy = *parse_strategy(args.strategy);
  cfg.context = args.ctx;
  cfg.max_sessions = args.max_sessions;
  cfg.kv_dtype = parse_kv_dtype(args.kv_dtype);
  cfg.prefill_chunk = args.prefill_chunk;
  cfg.min_members = args.min_nodes;
  cfg.health = args.health;
  if (cfg.health.cool_c >= cfg.health.hot_c || cfg.health.hot_c > cfg.health.critical_c) {
    throw std::invalid_argument(fmt::format("temperatures must rise from --return-temp ({:g}) to --step-back-temp ({:g}) "
                                            "to --critical-temp ({:g})",
                                            cfg.health.cool_c, cfg.health.hot_c, cfg.health.critical_c));
  }
  if (cfg.health.battery_critical > cfg.health.battery_low || cfg.health.battery_low >= cfg.health.battery_ok) {
    throw std::invalid_argument(fmt::format("battery thresholds must rise from --critical-battery ({}) to "
                                            "--step-back-battery ({}) to --return-battery ({})",
                                            cfg.health.battery_critical, cfg.health.battery_low, cfg.health.battery_ok));
  }
  return cfg;
}

// The OpenAI-compatible HTTP API and web page, unless --http off.
std::unique_ptr<HttpService> start_http(const CoordinatorArgs& args, const Model& model, const std::string& path,
                                        const ClusterConfig& cfg, SessionRunner& runner, Cluster& cluster,
                                        ServiceMetrics& metrics, discovery::MdnsBrowser* browser) {
  if (args.http == "off" || args.http.empty()) return nullptr;
  const auto colon = args.http.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument(fmt::format("--http '{}' is not HOST:PORT", args.http));
  HttpServiceConfig hc;
  hc.host = args.http.substr(0, colon);
  hc.port = std::stoi(args.http.substr(colon + 1));
  hc.model_id = std::filesystem::path(path).stem().string();
  hc.context = cfg.context;
  hc.prefill_chunk = static_cast<int32_t>(cfg.prefill_chunk);
  hc.speculation = args.speculation.params();
  hc.api_keys = args.api_keys;
  if (!args.api_key_file.empty()) {
    for (auto& k : read_api_key_file(args.api_key_file)) hc.api_keys.push_back(std::move(k));
  }
  hc.cors_origins = args.cors_origins;
  if (hc.api_keys.empty() && !is_loopback_host(hc.host)) {
    spdlog::warn("the HTTP API on {} is open to the network without an API key: anyone who can reach it may use "
                 "the model and see /v1/cluster; add --api-key-file FILE (or --api-key KEY)",
                 args.http);
  }
  HttpStatusSources sources;
  sources.executor = &kj::getCurrentThreadExecutor();
  sources.cluster = &cluster;
  sources.metrics = &metrics;
  if (browser) sources.discovered = [browser] { return discovered_nodes(browser->peers()); };
  return std::make_unique<HttpService>(model, runner, hc, std::move(sources));
}

int run_coordinator(CoordinatorArgs args) {
  const ClusterConfig cfg = cluster_config_from(args);
  const std::string path = resolve_model(args.model);
  // The coordinator holds no layers: tokenizer and shards only.
  const ModelOpenOptions opt = ModelOpenOptions::without_layers();
  auto model = Model::open(path, opt);
  const std::string hash = model_file_hash(path);
  // Checked before any node is contacted: a draft of another vocabulary is refused at once.
  const std::unique_ptr<Model> draft = open_draft_model(args.speculation, *model);
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
  auto stop = shutdown_signal(io).fork();
  spdlog::info("model {} ({})", path, hash.substr(0, 12));
  if (!assemble_when_ready(io, cluster, args, browser.get(), stop)) {
    spdlog::info("coordinator stopped while waiting for nodes");
    if (browser) browser->stop();
    return 0;
  }

  ServiceMetrics metrics;
  // Every stage reserved KV for max_sessions sessions: that many may generate at once.
  const AdmissionLimits limits{static_cast<int>(cfg.max_sessions), static_cast<int>(args.max_queue)};
  SessionRunner runner(kj::getCurrentThreadExecutor(), cluster, model->tokenizer(), limits, &metrics);
  runner.set_draft_model(draft.get());
  const SpeculationParams speculation = args.speculation.params();
  auto coordinator_server = kj::heap<CoordinatorServer>(*model, runner, static_cast<int32_t>(cfg.prefill_chunk));
  coordinator_server->set_speculation(speculation);
  rpc::Coordinator::Client service = kj::mv(coordinator_server);
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
  std::unique_ptr<HttpService> http = start_http(args, *model, path, cfg, runner, cluster, metrics, browser.get());
  fmt::print("coordinator ready on {} (port {}): {} stage(s), wire {}, predicted {:.1f} tokens/s\n", args.listen,
             listener.port(), cluster.plan().stages.size(), wire_format_name(cfg.wire), cluster.plan().tokens_per_s);
  if (http) fmt::print("HTTP API on http://{}:{}/v1 (OpenAI-compatible)\n", args.http.substr(0, args.http.rfind(':')), http->port());
  std::fflush(stdout);
  const ReadyFile ready = args.ready_file.empty()
                              ? ReadyFile()
                              : ReadyFile(args.ready_file, {{"role", "coordinator"},
                                                            {"port", listener.port()},
                                                            {"http_port", http ? nlohmann::json(http->port()) : nlohmann::json()},
                                                            {"stages", cluster.plan().stages.size()}});
  const char* sig = listener.run().then([] { return "accept loop ended"; }).exclusiveJoin(stop.addBranch()).wait(io.waitScope);
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
  cmd->add_option("-l,--listen", a->listen,
                  "Address for `baton submit` (HOST:PORT). Loopback by default: it faces users, not nodes (nodes "
                  "need no port on the coordinator); 0.0.0.0:7070 lets other machines submit")
      ->capture_default_str();
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
  auto& h = a->health;
  cmd->add_option("--step-back-temp", h.hot_c,
                  "A node this hot (°C, its hottest thermal zone) or throttled leaves the plan at the next session")
      ->check(CLI::Range(20.0, 150.0))->capture_default_str();
  cmd->add_option("--critical-temp", h.critical_c, "A node this hot leaves the plan at once, mid-generation")
      ->check(CLI::Range(20.0, 150.0))->capture_default_str();
  cmd->add_option("--return-temp", h.cool_c, "A node that stepped back for heat returns once this cool")
      ->check(CLI::Range(0.0, 150.0))->capture_default_str();
  cmd->add_option("--step-back-battery", h.battery_low,
                  "A node on battery (not charging) at or below this percent leaves the plan at the next session")
      ->check(CLI::Range(0, 100))->capture_default_str();
  cmd->add_option("--critical-battery", h.battery_critical, "... at or below this percent, at once")
      ->check(CLI::Range(0, 100))->capture_default_str();
  cmd->add_option("--return-battery", h.battery_ok, "It returns once charging, or at this percent")
      ->check(CLI::Range(0, 100))->capture_default_str();
  cmd->add_option("--kv-dtype", a->kv_dtype, "KV cache type on the stages")->check(CLI::IsMember({"f16", "q8_0", "int8", "f32"}))->capture_default_str();
  cmd->add_option("--prefill-chunk", a->prefill_chunk, "Prompt tokens per frame")->check(CLI::Range(1u, 4096u))->capture_default_str();
  add_speculation_flags(*cmd, a->speculation);
  cmd->add_option("--http", a->http,
                  "OpenAI-compatible HTTP API and web page (HOST:PORT, port 0 picks one; 'off' disables). Loopback by "
                  "default; 0.0.0.0:8080 serves the LAN")
      ->capture_default_str();
  cmd->add_option("--api-key", a->api_keys,
                  "Require 'Authorization: Bearer KEY' on the HTTP API (repeatable; all but /health and the web "
                  "page's files). Visible to other users in `ps`: prefer --api-key-file");
  cmd->add_option("--api-key-file", a->api_key_file, "Read API keys from a file, one per line (# comments)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--cors-origin", a->cors_origins,
                  "Let web pages from this origin call the HTTP API, e.g. http://localhost:5173 (repeatable; "
                  "'*' for any; none by default)");
  cmd->add_option("--ready-file", a->ready_file,
                  "Once serving, write {\"role\", \"port\", \"http_port\", \"stages\"} as JSON to FILE (for scripts "
                  "and supervisors; removed at exit)");
  cmd->add_flag("!--no-mdns", a->mdns, "Do not discover nodes with mDNS (use --peers only)");
  cmd->add_option("--mdns-interface", a->mdns_interface, "Interface or IPv4 address for mDNS (default: automatic)");
  cmd->add_option("--mdns-port", a->mdns_port, "mDNS UDP port (tests isolate themselves; standard: 5353)")->capture_default_str();
  cmd->add_option("--min-nodes", a->min_nodes, "Nodes that must join before the first plan (the coordinator waits for them)")
      ->check(CLI::Range(1u, 64u))->capture_default_str();
  cmd->add_option("--discovery-wait", a->discovery_wait_s,
                  "Give up after this many seconds without --min-nodes nodes (0: keep waiting, retrying with backoff)")
      ->check(CLI::Range(0.0, 3600.0))->capture_default_str();
  cmd->callback([a, &runner] { runner = [a] { return run_coordinator(*a); }; });
}

}  // namespace baton::cli
