// `baton peers`: the nodes mDNS finds on the network (and static --peers), with RTT
// measured over their RPC connection when the cluster secret is known.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <map>

#include "discovery/mdns_browser.h"
#include "discovery/peer_table_format.h"
#include "discovery/static_peers.h"
#include "transport/rpc_peer.h"
#include "tools/commands.h"
#include "tools/event_loop.h"
#include "transport/auth.h"

namespace baton::cli {

namespace {

struct PeersArgs {
  bool watch = false;
  bool json = false;
  double wait_s = 3;
  double interval_s = 1;
  std::string interface;
  uint16_t mdns_port = 5353;
  std::string peers;
  std::string secret;
};

std::string peer_address(const discovery::PeerEntry& p) {
  return fmt::format("{}:{}", p.address ? p.address->to_string() : p.host, p.port);
}

// RPC connections kept across refreshes so --watch measures RTT, not connection set-up.
class RttProbe {
 public:
  RttProbe(kj::AsyncIoContext& io, std::string secret) : io_(io), secret_(std::move(secret)) {}

  void measure(const std::vector<discovery::PeerEntry>& peers) {
    for (const auto& p : peers) {
      if (p.state != discovery::PeerState::active || p.port == 0) continue;
      const std::string addr = peer_address(p);
      try {
        if (!joined_.count(addr)) {
          auto j = io_.provider->getTimer()
                       .timeoutAfter(2 * kj::SECONDS, dial_and_join(*io_.provider, addr, secret_, "observer"))
                       .wait(io_.waitScope);
          joined_.emplace(addr, kj::mv(j));
        }
        auto& node = joined_.at(addr).node;
        const auto t0 = std::chrono::steady_clock::now();
        io_.provider->getTimer().timeoutAfter(2 * kj::SECONDS, node.pingRequest().send()).wait(io_.waitScope);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        auto [it, fresh] = rtt_.emplace(addr, ms);
        if (!fresh) it->second = 0.75 * it->second + 0.25 * ms;
      } catch (const kj::Exception& e) {
        spdlog::debug("no RTT for {}: {}", addr, e.getDescription().cStr());
        joined_.erase(addr);
      }
    }
  }

  std::optional<double> rtt(const discovery::PeerEntry& p) const {
    auto it = rtt_.find(peer_address(p));
    if (it == rtt_.end()) return std::nullopt;
    return it->second;
  }

 private:
  kj::AsyncIoContext& io_;
  std::string secret_;
  std::map<std::string, Joined> joined_;
  std::map<std::string, double> rtt_;
};

nlohmann::json to_json(const std::vector<discovery::PeerEntry>& peers, const RttProbe* probe) {
  const auto now = discovery::DiscoveryClock::now();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : peers) {
    nlohmann::json j = {{"name", p.name},
                        {"address", p.address ? p.address->to_string() : p.host},
                        {"port", p.port},
                        {"state", discovery::to_string(p.state)},
                        {"source", discovery::to_string(p.source)},
                        {"last_seen_s", std::chrono::duration<double>(now - p.last_seen).count()}};
    if (p.attributes) {
      j["kind"] = p.attributes->kind;
      j["memory_mib"] = p.attributes->memory_mib;
      j["compute_gflops"] = p.attributes->compute_gflops;
      j["bandwidth_gbs"] = p.attributes->bandwidth_gbps;
      j["detected"] = p.attributes->detected;  // which figures were measured; the rest configured
      if (p.attributes->temperature_c) j["temperature_c"] = *p.attributes->temperature_c;
      if (p.attributes->battery_percent) j["battery_percent"] = *p.attributes->battery_percent;
      j["charging"] = p.attributes->charging;
      j["throttled"] = p.attributes->throttled;
      j["model_hash"] = p.attributes->model_hash;
      j["role"] = discovery::to_string(p.attributes->role);
    }
    if (probe) {
      if (auto rtt = probe->rtt(p)) j["rtt_ms"] = *rtt;
    }
    out.push_back(j);
  }
  return out;
}

int run_peers(const PeersArgs& a) {
  discovery::BrowserConfig bc;
  bc.interface = a.interface;
  bc.mdns_port = a.mdns_port;
  bc.max_query_interval = std::chrono::seconds(10);
  if (!a.peers.empty()) {
    auto parsed = discovery::parse_static_peers(a.peers);
    if (!parsed.error.empty()) throw std::invalid_argument(parsed.error);
    bc.static_peers = parsed.peers;
  }
  capture_shutdown_signals();
  auto io = kj::setupAsyncIo();
  std::unique_ptr<RttProbe> probe;
  std::string secret = a.secret;
  if (secret.empty() && std::getenv("BATON_SECRET")) secret = std::getenv("BATON_SECRET");
  if (!secret.empty()) probe = std::make_unique<RttProbe>(io, resolve_secret(secret));

  discovery::MdnsBrowser browser(bc);
  browser.start();
  auto stop = shutdown_signal(io).fork();
  auto sleep_or_stop = [&](double seconds) {
    // True when a signal ended the wait.
    return io.provider->getTimer()
        .afterDelay(static_cast<int64_t>(seconds * 1000) * kj::MILLISECONDS)
        .then([] { return false; })
        .exclusiveJoin(stop.addBranch().then([](const char*) { return true; }))
        .wait(io.waitScope);
  };
  bool stopped = sleep_or_stop(a.wait_s);
  const bool tty = isatty(STDOUT_FILENO);
  do {
    auto peers = browser.peers();
    if (probe) probe->measure(peers);
    if (a.json) {
      fmt::print("{}\n", to_json(peers, probe.get()).dump());
    } else {
      if (a.watch && tty) fmt::print("\x1b[H\x1b[2J");  // redraw in place
      auto lookup = [&](const discovery::PeerEntry& p) { return probe ? probe->rtt(p) : std::nullopt; };
      fmt::print("{}", discovery::format_peer_table(peers, discovery::DiscoveryClock::now(), lookup));
      if (peers.empty()) fmt::print("(no baton nodes found{})\n", a.interface.empty() ? "" : " on " + a.interface);
      if (!probe) fmt::print("(RTT needs the cluster secret: --secret or BATON_SECRET)\n");
    }
    std::fflush(stdout);
  } while (a.watch && !stopped && !(stopped = sleep_or_stop(a.interval_s)));
  browser.stop();
  return 0;
}

}  // namespace

void register_peers(CLI::App& app, CommandRunner& runner) {
  auto a = std::make_shared<PeersArgs>();
  CLI::App* cmd = app.add_subcommand("peers", "List the baton nodes discovered on the network (mDNS) and static peers");
  cmd->add_flag("-w,--watch", a->watch, "Keep listing, refreshed every --interval seconds, until Ctrl-C");
  cmd->add_flag("--json", a->json, "One JSON array per listing");
  cmd->add_option("--wait", a->wait_s, "Seconds to listen before the first listing")->check(CLI::Range(0.0, 600.0))->capture_default_str();
  cmd->add_option("--interval", a->interval_s, "Seconds between listings with --watch")->check(CLI::Range(0.1, 600.0))->capture_default_str();
  cmd->add_option("--interface", a->interface, "Interface or IPv4 address for mDNS (default: automatic)");
  cmd->add_option("--mdns-port", a->mdns_port, "mDNS UDP port (tests isolate themselves; standard: 5353)")->capture_default_str();
  cmd->add_option("--peers", a->peers, "Static peers HOST:PORT,... to list too");
  cmd->add_option("-s,--secret", a->secret, "Cluster secret, to measure RTT over RPC (default: $BATON_SECRET)");
  cmd->callback([a, &runner] { runner = [a] { return run_peers(*a); }; });
}

}  // namespace baton::cli
