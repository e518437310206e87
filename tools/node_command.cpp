// `baton node`: serve a layer range to a coordinator.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "discovery/service_record.h"
#include "model/unicode_utf8.h"
#include "node/stage/announce.h"
#include "node/stage/device_health.h"
#include "node/stage/device_offer.h"
#include "node/stage/host_calibration.h"
#include "node/stage/node_connection.h"
#include "node/stage/node_service.h"
#include "transport/rpc_peer.h"
#include "tensor/cpu_features.h"
#include "tools/commands.h"
#include "tools/cpu_affinity.h"
#include "tools/default_model.h"
#include "tools/ready_file.h"
#include "tools/event_loop.h"
#include "transport/auth.h"

namespace baton::cli {

namespace {

struct NodeArgs {
  std::string listen = "*:7100";
  std::string secret;
  std::optional<std::string> model;
  std::optional<uint64_t> memory_mib;  // each figure: typed, else measured at start
  uint64_t memory_reserve_mib = 1024;
  std::string name;
  std::optional<std::string> kind;
  std::optional<double> gflops;
  std::optional<double> bandwidth;
  std::string cache;
  uint64_t cache_max_mib = 4096;
  unsigned threads = 0;
  uint32_t heartbeat_ms = 500;
  double coordinator_timeout_s = 10;  // a lease holder silent this long is gone
  std::string sysfs_root = "/";
  std::vector<unsigned> cpus;  // empty: wherever the OS schedules it
  AnnounceOptions announce;
  LinkParams link;            // simulated device: its network link
  uint64_t link_seed = 1;
  double pace_gflops = 0;     // simulated device: its compute speed (0: unpaced)
  double pace_gbs = 0;        // and its memory bandwidth (with pace_gflops: roofline pacing)
  double host_gflops = 0;     // this machine's, for pacing (0: measure at start)
  std::string ready_file;     // written once serving (empty: none)
};

std::string default_name() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return fmt::format("{}-{}", host, getpid());
}

// How much slower than this machine the simulated device computes (1: not at all).
double pace_factor(const NodeArgs& args) {
  if (args.pace_gflops <= 0 || args.pace_gbs > 0) return 1;
  const double host = args.host_gflops > 0 ? args.host_gflops : measure_host_gflops();
  if (args.pace_gflops >= host) {
    spdlog::warn("--pace-gflops {:g} is not slower than this machine ({:.1f} GFLOP/s): running unpaced",
                 args.pace_gflops, host);
    return 1;
  }
  fmt::print("pacing compute to {:g} GFLOP/s (this machine: {:.1f} GFLOP/s, x{:.2f})\n", args.pace_gflops, host,
             host / args.pace_gflops);
  return host / args.pace_gflops;
}

// Keeps the TXT record's heat and battery current (`baton peers` shows them), re-announcing
// only on a change worth it.
kj::Promise<void> announce_health(kj::AsyncIoContext& io, discovery::MdnsResponder& responder, const NodeConfig& config,
                                  const std::string& model_hash, const std::string& sysfs_root, HealthReading announced) {
  return io.provider->getTimer().afterDelay(2 * kj::SECONDS).then(
      [&io, &responder, &config, model_hash, sysfs_root, announced]() mutable {
        const HealthReading now = read_health(sysfs_root);
        if (health_worth_announcing(announced, now)) {
          responder.update_attributes(node_attributes(config, model_hash, now));
          announced = now;
        }
        return announce_health(io, responder, config, model_hash, sysfs_root, announced);
      });
}

int run_node(NodeArgs args) {
  pin_to_cpus(args.cpus);  // before any thread starts, so they all inherit it
  NodeConfig cfg;
  cfg.secret = resolve_secret(args.secret);
  // The name is checked once, here where it enters: any printable UTF-8 ("Bob's phone")
  // works everywhere after; the id (mDNS TXT) is its letters and digits.
  cfg.name = args.name.empty() ? default_name() : args.name;
  if (std::string problem = discovery::validate_node_name(cfg.name); !problem.empty() || !unicode::is_printable_utf8(cfg.name)) {
    throw std::invalid_argument(fmt::format("--name: {}; give 1..63 bytes of printable UTF-8",
                                            problem.empty() ? "the name is not printable UTF-8" : problem));
  }
  cfg.node_id = discovery::host_label_for(cfg.name);
  cfg.model_path = args.model;
  cfg.cache_dir = args.cache.empty() ? cache_dir() : args.cache;
  cfg.cache_max_bytes = args.cache_max_mib << 20;
  cfg.threads = args.threads;
  const DeviceOffer offer = measure_offer(OfferOverrides{args.memory_mib, args.gflops, args.bandwidth, args.kind,
                                                         args.memory_reserve_mib, args.threads, cfg.cache_dir});
  cfg.kind = offer.kind;
  cfg.memory_mib = offer.memory_mib;
  cfg.compute_gflops = offer.gflops;
  cfg.bandwidth_gbs = offer.bandwidth_gbs;
  cfg.detected = offer.detected;
  spdlog::info("offering {}", fmt::join(offer.sources, ", "));
  const ListenAddress listen = parse_listen_address(args.listen);
  cfg.telemetry_host = listen.host;  // heartbeats on the same interfaces as RPC
  if (args.announce.enabled) args.announce.interface = announce_interface_for(listen, args.announce.interface);
  cfg.heartbeat_ms = args.heartbeat_ms;
  cfg.sysfs_root = args.sysfs_root;
  cfg.shaping.link = args.link;
  cfg.shaping.seed = args.link_seed;
  cfg.shaping.pace_factor = pace_factor(args);
  if (args.pace_gbs > 0) {
    if (args.pace_gflops <= 0) throw std::invalid_argument("--pace-gbs needs --pace-gflops: the device's compute speed");
    cfg.shaping.device_gflops = args.pace_gflops;
    cfg.shaping.device_gbs = args.pace_gbs;
    fmt::print("pacing compute to a device of {:g} GFLOP/s and {:g} GB/s: each frame takes max(FLOPs / GFLOP/s, "
               "bytes read / GB/s)\n", args.pace_gflops, args.pace_gbs);
  }
  if (std::string problem = validate_shaping(cfg.shaping); !problem.empty()) throw std::invalid_argument(problem);
  if (args.model && !std::filesystem::exists(*args.model)) {
    throw std::runtime_error(fmt::format("model file '{}' does not exist", *args.model));
  }

  capture_shutdown_signals();
  auto io = kj::setupAsyncIo();
  const std::string secret = cfg.secret, name = cfg.name;
  const NodeConfig announced = cfg;
  auto server = kj::heap<NodeServer>(io, std::move(cfg));
  const std::string model_hash = server->model_hash();
  NodeServer& node_server = *server;
  rpc::Node::Client node = kj::mv(server);
  // One coordinator at a time: each connection gets its own view of the node; the one that
  // loaded it takes its sessions along when it closes.
  const auto stale_after = std::chrono::milliseconds(static_cast<int64_t>(args.coordinator_timeout_s * 1000));
  CoordinatorLease lease(stale_after);
  uint64_t connections = 0;
  ListenerSecurity listener_security;
  listener_security.secret = secret;
  listener_security.role = "node";
  RpcListener listener(io, listen.for_kj(), [&](std::function<void()> close, std::string peer) -> capnp::Capability::Client {
    rpc::Node::Client view = kj::heap<NodeConnection>(node_server, node, lease, ++connections, peer, stale_after);
    return kj::heap<GateServer>(secret, name, std::move(peer), std::move(close), kj::mv(view), nullptr);
  }, listener_security);
  spdlog::info("node {}: {} kernels", name, kernel_table_name());
  const auto served = served_addresses(listen);
  fmt::print("node {} listening on {} (port {}){}\n", name,
             listen.every_interface() ? fmt::format("every interface ({})", fmt::join(served, ", ")) : listen.host,
             listener.port(),
             announced.memory_mib ? fmt::format(", offering {} MiB", announced.memory_mib) : std::string(", no memory limit"));
  std::fflush(stdout);
  const ReadyFile ready = args.ready_file.empty()
                              ? ReadyFile()
                              : ReadyFile(args.ready_file, {{"role", "node"}, {"name", name}, {"port", listener.port()}});
  // Announce only once the port is known; stopped (goodbye) before the process exits.
  std::unique_ptr<discovery::MdnsResponder> responder;
  HealthReading health = read_health(args.sysfs_root);
  try {
    responder = announce_node(announced, model_hash, static_cast<uint16_t>(listener.port()), args.announce, health);
  } catch (const std::exception& e) {
    // Discovery is only a hint: the node still serves coordinators given --peers.
    spdlog::warn("not announcing with mDNS ({}); coordinators can still reach this node with --peers", e.what());
  }
  kj::Promise<void> reannounce = kj::READY_NOW;
  if (responder) reannounce = announce_health(io, *responder, announced, model_hash, args.sysfs_root, health);
  const char* sig = listener.run().then([] { return "accept loop ended"; }).exclusiveJoin(shutdown_signal(io)).wait(io.waitScope);
  spdlog::info("node {} shutting down ({})", name, sig);
  if (responder) responder->stop();
  return 0;
}

}  // namespace

void register_node(CLI::App& app, CommandRunner& runner) {
  auto a = std::make_shared<NodeArgs>();
  CLI::App* cmd = app.add_subcommand("node", "Serve layers of a model to a coordinator");
  cmd->add_option("-l,--listen", a->listen,
                  "Where RPC and heartbeats listen: *:PORT every interface (IPv4, and IPv6 where the host has it), or "
                  "ADDRESS:PORT one address (127.0.0.1:PORT keeps the node to this machine); port 0 picks one. mDNS "
                  "announces an address the node serves")
      ->capture_default_str();
  cmd->add_option("-s,--secret", a->secret, "Cluster secret (default: $BATON_SECRET)");
  cmd->add_option("-m,--model", a->model, "This node's copy of the GGUF (else layers are fetched from the coordinator)");
  cmd->add_option("--memory", a->memory_mib,
                  "MiB offered for weights + KV cache (0: no limit; default: detected, MemAvailable or the cgroup's "
                  "headroom minus --memory-reserve)");
  cmd->add_option("--memory-reserve", a->memory_reserve_mib,
                  "MiB of the detected memory kept for the system and other apps")
      ->capture_default_str();
  cmd->add_option("--name", a->name, "Node name (default: hostname-pid)");
  cmd->add_option("--kind", a->kind,
                  "Device kind: phone, tablet, pc, laptop, sbc, ... (default: detected from Android properties or the "
                  "DMI chassis type, else pc)");
  cmd->add_option("--gflops", a->gflops,
                  "Compute advertised to the planner in GFLOP/s (default: measured at start on the kernels a stage "
                  "runs, cached in --cache-dir)")
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--bandwidth", a->bandwidth,
                  "Memory bandwidth advertised to the planner in GB/s (default: measured at start, cached)")
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--cache-dir", a->cache, "Where fetched shards are cached (default: ~/.cache/baton)");
  cmd->add_option("--cache-max-mib", a->cache_max_mib,
                  "Cap on the shard cache: least recently used shards are deleted beyond it (0: no cap; "
                  "`baton cache list|clean` shows or empties it)")
      ->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "Kernel threads (0: all cores)")->capture_default_str();
  cmd->add_option("--cpus", a->cpus, "Run only on these CPUs (e.g. 2,3): several nodes on one machine")
      ->delimiter(',');
  cmd->add_option("--heartbeat-ms", a->heartbeat_ms,
                  "Publish a ZeroMQ heartbeat (liveness and telemetry) this often")
      ->check(CLI::Range(20u, 600000u))->capture_default_str();
  cmd->add_option("--coordinator-timeout", a->coordinator_timeout_s,
                  "A node serves one coordinator at a time; another may take over only when the first disconnected "
                  "or was silent (no ping, no call) this many seconds")
      ->check(CLI::Range(1.0, 3600.0))->capture_default_str();
  cmd->add_option("--sysfs-root", a->sysfs_root,
                  "Read heat (thermal zones) and battery (power supplies) under DIR/sys/class instead of /sys/class "
                  "(tests use a fake tree)")
      ->capture_default_str();
  cmd->add_option("--link-latency-ms", a->link.latency_ms,
                  "Simulate a device: one-way latency added to every frame in and out (0: none)")
      ->check(CLI::Range(0.0, 60000.0))->capture_default_str();
  cmd->add_option("--link-jitter-ms", a->link.jitter_ms, "Simulate a device: latency varies uniformly by +- this")
      ->check(CLI::Range(0.0, 60000.0))->capture_default_str();
  cmd->add_option("--link-mbps", a->link.bandwidth_mbps, "Simulate a device: link bandwidth in Mbit/s (0: unlimited)")
      ->check(CLI::Range(0.0, 1e7))->capture_default_str();
  cmd->add_option("--link-seed", a->link_seed, "Seed of the simulated jitter")->capture_default_str();
  cmd->add_option("--pace-gflops", a->pace_gflops,
                  "Simulate a device: stretch each stage's compute to this GFLOP/s (0: unpaced)")
      ->check(CLI::Range(0.0, 1e7))->capture_default_str();
  cmd->add_option("--pace-gbs", a->pace_gbs,
                  "Simulate a device: its memory bandwidth in GB/s; with --pace-gflops each frame then takes what its "
                  "FLOPs and bytes read cost that device (roofline), whatever its rows (0: stretch by a factor instead)")
      ->check(CLI::Range(0.0, 1e7))->capture_default_str();
  cmd->add_option("--host-gflops", a->host_gflops,
                  "This machine's GFLOP/s for --pace-gflops (0: measure a short matvec run at start)")
      ->check(CLI::Range(0.0, 1e7))->capture_default_str();
  cmd->add_option("--ready-file", a->ready_file,
                  "Once serving, write {\"role\", \"name\", \"port\"} as JSON to FILE (for scripts and supervisors; "
                  "removed at exit)");
  cmd->add_flag("!--no-mdns", a->announce.enabled, "Do not announce this node with mDNS/DNS-SD");
  cmd->add_option("--mdns-interface", a->announce.interface, "Interface or IPv4 address for mDNS (default: automatic)");
  cmd->add_option("--mdns-ttl", a->announce.test_ttl_s, "Short mDNS record TTL in seconds (tests; 0: RFC values)");
  cmd->add_option("--mdns-port", a->announce.port, "mDNS UDP port (tests isolate themselves; standard: 5353)")->capture_default_str();
  cmd->callback([a, &runner] { runner = [a] { return run_node(*a); }; });
}

}  // namespace baton::cli
