#include "tools/simulate/simulated_cluster.h"

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>

#include "node/stage/process_memory.h"
#include "tools/ready_file.h"
#include "node/model_identity.h"
#include "transport/auth.h"

namespace baton::sim {

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

constexpr auto kNodeStartTimeout = std::chrono::seconds(30);
// Joining, planning and loading every stage's layers (a 7B-shaped model takes a while).
constexpr auto kCoordinatorTimeout = std::chrono::seconds(180);
// The coordinator retries a cluster that does not assemble; a simulation gives up sooner.
constexpr double kCoordinatorDiscoveryWaitS = 120;
// `baton coordinator`'s exit status when no plan fits (as `baton plan`'s).
constexpr int kNoPlanExitStatus = 2;

std::string fmt_num(double v) { return fmt::format("{:.6g}", v); }

int port_in(const nlohmann::json& facts, const char* key, const std::string& who) {
  if (!facts.contains(key) || !facts[key].is_number_integer()) {
    throw std::runtime_error(fmt::format("{} wrote a ready file without '{}': {}", who, key, facts.dump()));
  }
  return facts[key].get<int>();
}

}  // namespace

SimulatedCluster::SimulatedCluster(const ClusterSpec& spec, const Pacing& pacing, const SimulatedClusterOptions& options,
                                   ProgressLines& progress) {
  const std::vector<std::string> env{"BATON_SECRET=" + to_hex(random_nonce())};
  start_nodes(spec, pacing, options, progress, env);
  start_coordinator(spec, options, progress, env);
}

void SimulatedCluster::start_nodes(const ClusterSpec& spec, const Pacing& pacing, const SimulatedClusterOptions& options,
                                   ProgressLines& progress, const std::vector<std::string>& env) {
  const double scale = pacing.scale;
  for (size_t i = 0; i < spec.devices.size(); ++i) {
    const SimDevice& d = spec.devices[i];
    const DeviceProfile& p = d.profile;
    const std::string cache = (fs::path(options.work_dir) / fmt::format("cache-{}", i)).string();
    const std::string ready = (fs::path(options.work_dir) / fmt::format("node-{}.ready", i)).string();
    fs::remove(ready);
    const double effective = pacing.effective_gflops[i];
    std::vector<std::string> argv{
        options.baton_exe, "node", "--listen", "127.0.0.1:0", "--name", p.id, "--kind", p.kind, "--memory",
        std::to_string(p.memory_mib), "--gflops", fmt_num(p.compute_gflops / scale), "--bandwidth",
        fmt_num(p.memory_bandwidth_gbs / scale), "--threads", "1", "--no-mdns", "--model", options.model_path,
        "--cache-dir", cache, "--link-latency-ms", fmt_num(p.link_latency_ms * scale), "--link-jitter-ms",
        fmt_num(d.jitter_ms * scale), "--link-mbps", fmt_num(p.link_bandwidth_mbps / scale), "--link-seed",
        std::to_string(spec.seed * 1000 + i), "--pace-gflops", fmt_num(p.compute_gflops / scale), "--pace-gbs",
        fmt_num(p.memory_bandwidth_gbs / scale), "--ready-file", ready, "--log-level", "warn"};
    progress.line("starting node {} ({}/{}): {} MiB, {:.0f} GFLOP/s effective, link {:g} ms +- {:g} ms, {:g} Mbit/s",
                  p.id, i + 1, spec.devices.size(), p.memory_mib, effective, p.link_latency_ms, d.jitter_ms,
                  p.link_bandwidth_mbps);
    nodes_.push_back(std::make_unique<ChildProcess>(argv, env));
    const auto facts = cli::wait_for_ready_file(*nodes_.back(), ready, kNodeStartTimeout);
    if (!facts) {
      nodes_.back()->wait(std::chrono::seconds(2));
      throw std::runtime_error(fmt::format("node {} did not start: {}", p.id, last_lines(nodes_.back()->err(), 5)));
    }
    node_ports_.push_back(port_in(*facts, "port", "node " + p.id));
  }
}

void SimulatedCluster::start_coordinator(const ClusterSpec& spec, const SimulatedClusterOptions& options,
                                         ProgressLines& progress, const std::vector<std::string>& env) {
  const Workload& w = spec.workload;
  std::string peers;
  for (int port : node_ports_) peers += fmt::format("{}127.0.0.1:{}", peers.empty() ? "" : ",", port);
  const std::string ready = (fs::path(options.work_dir) / "coordinator.ready").string();
  fs::remove(ready);
  progress.line("starting the coordinator ({} strategy): joining, planning, loading layers...",
                strategy_name(options.strategy));
  std::vector<std::string> argv{
      options.baton_exe, "coordinator", "--peers", peers, "--model", options.model_path, "--listen", "127.0.0.1:0",
      "--no-mdns", "--http", "127.0.0.1:0", "--strategy", std::string(strategy_name(options.strategy)), "--wire",
      w.wire, "--ctx", std::to_string(options.context), "--prefill-chunk",
      std::to_string(options.prefill_chunk), "--max-sessions", std::to_string(w.concurrency),
      "--min-nodes", std::to_string(spec.devices.size()), "--discovery-wait", fmt_num(kCoordinatorDiscoveryWaitS),
      "--ready-file", ready};
  if (!options.speculative.empty()) argv.insert(argv.end(), {"--speculative", options.speculative});
  if (!options.draft_model.empty()) argv.insert(argv.end(), {"--draft", options.draft_model});
  coordinator_ = std::make_unique<ChildProcess>(argv, env);
  const auto facts = cli::wait_for_ready_file(*coordinator_, ready, kCoordinatorTimeout);
  if (!facts) {
    const std::optional<int> status = coordinator_->wait(std::chrono::seconds(5));
    const std::string log = last_lines(coordinator_->err(), 8);
    if (status == kNoPlanExitStatus) throw NoPlanError(fmt::format("the coordinator found no plan that fits:\n{}", log));
    throw std::runtime_error(fmt::format("the coordinator did not become ready:\n{}", log));
  }
  http_port_ = port_in(*facts, "http_port", "the coordinator");
  drain_output();
}

void SimulatedCluster::drain_output() {
  for (auto& n : nodes_) n->drain(std::chrono::milliseconds(0));
  if (coordinator_) coordinator_->drain(std::chrono::milliseconds(0));
}

std::vector<std::optional<double>> SimulatedCluster::peak_rss_mib() const {
  std::vector<std::optional<double>> out;
  for (const auto& n : nodes_) {
    const ProcessMemory m = read_process_memory(static_cast<int>(n->pid()));
    out.push_back(m.peak_bytes == 0 ? std::nullopt
                                    : std::optional<double>(static_cast<double>(m.peak_bytes) / (1024.0 * 1024.0)));
  }
  return out;
}

std::optional<ClusterStatus> get_cluster_status(int http_port) {
  httplib::Client cli("127.0.0.1", http_port);
  cli.set_read_timeout(30, 0);
  auto res = cli.Get("/v1/cluster");
  if (!res || res->status != 200) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return cluster_status_from_json(j);
}

ActualPlan actual_plan(int http_port, const ClusterSpec& spec) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < spec.devices.size(); ++i) index[spec.devices[i].profile.id] = i;
  const std::optional<ClusterStatus> cluster = get_cluster_status(http_port);
  if (!cluster || cluster->plan.stages.empty()) {
    throw std::runtime_error("could not learn the coordinator's plan: GET /v1/cluster gave none");
  }
  ActualPlan p;
  for (const PlanStage& s : cluster->plan.stages) {
    auto it = index.find(s.device_id);
    if (it == index.end()) {
      throw std::runtime_error(fmt::format("the coordinator planned for an unknown device '{}'", s.device_id));
    }
    p.split.push_back({it->second, s.first, s.last});
  }
  for (const NodeStatus& n : cluster->nodes) {
    if (n.used_mib) p.used_mib[n.id] = static_cast<double>(*n.used_mib);
  }
  return p;
}

}  // namespace baton::sim
