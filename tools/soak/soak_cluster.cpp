#include "tools/soak/soak_cluster.h"

#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>

#include "node/model_identity.h"
#include "tools/ready_file.h"
#include "transport/auth.h"

namespace baton::soak {

namespace {

namespace fs = std::filesystem;
constexpr auto kStartBound = std::chrono::seconds(60);

}  // namespace

SoakCluster::SoakCluster(const SoakClusterOptions& o) : secret_(to_hex(random_nonce())) {
  const std::vector<std::string> env{"BATON_SECRET=" + secret_};
  fs::create_directories(o.work_dir);
  std::string peers;
  for (int i = 0; i < o.nodes; ++i) {
    const std::string ready = (fs::path(o.work_dir) / fmt::format("node-{}.ready", i)).string();
    fs::remove(ready);
    std::vector<std::string> argv{o.baton, "node", "--listen", "127.0.0.1:0", "--name", fmt::format("soak-{}", i),
                                  "--threads", "1", "--no-mdns", "--model", o.model, "--cache-dir",
                                  (fs::path(o.work_dir) / fmt::format("cache-{}", i)).string(), "--ready-file", ready};
    argv.insert(argv.end(), o.node_args.begin(), o.node_args.end());
    nodes_.push_back(std::make_unique<ChildProcess>(argv, env));
    const auto facts = cli::wait_for_ready_file(*nodes_.back(), ready, kStartBound);
    if (!facts || !(*facts)["port"].is_number_integer()) {
      throw std::runtime_error(fmt::format("node {} did not start:\n{}", i, last_lines(nodes_.back()->err(), 6)));
    }
    node_ports_.push_back((*facts)["port"].get<int>());
    peers += fmt::format("{}127.0.0.1:{}", peers.empty() ? "" : ",", node_ports_.back());
  }
  const std::string ready = (fs::path(o.work_dir) / "coordinator.ready").string();
  fs::remove(ready);
  std::vector<std::string> argv{o.baton, "coordinator", "--peers", peers, "--model", o.model, "--listen",
                                "127.0.0.1:0", "--no-mdns", "--http", "127.0.0.1:0", "--wire", o.wire, "--min-nodes",
                                std::to_string(o.nodes), "--discovery-wait", "60", "--ready-file", ready};
  argv.insert(argv.end(), o.coordinator_args.begin(), o.coordinator_args.end());
  coordinator_ = std::make_unique<ChildProcess>(argv, env);
  const auto facts = cli::wait_for_ready_file(*coordinator_, ready, kStartBound);
  if (!facts || !(*facts)["http_port"].is_number_integer()) {
    throw std::runtime_error(fmt::format("the coordinator did not start:\n{}", last_lines(coordinator_->err(), 8)));
  }
  http_port_ = (*facts)["http_port"].get<int>();
}

std::string SoakCluster::node_address(size_t i) const { return fmt::format("127.0.0.1:{}", node_ports_.at(i)); }

void SoakCluster::drain_output() {
  for (auto& n : nodes_) n->drain(std::chrono::milliseconds(0));
  coordinator_->drain(std::chrono::milliseconds(0));
}

}  // namespace baton::soak
