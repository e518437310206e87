// baton on a real network: hosts are network namespaces on a bridge (netns_lan.h), each
// with its own address; nodes and the coordinator start with nothing but the secret and
// find each other with mDNS. Checks discovery, greedy text equal to `baton run` over the
// LAN, a neighbour with the wrong secret skipped, a second coordinator refused, a node
// killed mid-stream (failover), and a plan that follows the nodes' memory (--memory).
// Needs root (skips otherwise, naming the reason).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <regex>
#include <thread>

#include "local_cluster.h"
#include "netns_lan.h"

namespace baton {
namespace {

using namespace std::chrono_literals;
using test::NetnsLan;

constexpr int kHosts = 6;  // 0: coordinator, 1-3: nodes, 4: wrong secret, 5: second coordinator / observer
const std::string kPrompt = "And God said";

// Each test (ctest runs each in its own process) builds its own LAN and takes it down.
class Lan : public ::testing::Test {
 protected:
  void SetUp() override {
    lan_ = std::make_unique<NetnsLan>(kHosts);
    if (!lan_->skip_reason().empty()) GTEST_SKIP() << lan_->skip_reason();
    ASSERT_TRUE(lan_->error().empty()) << lan_->error();
    tmp_ = test::temp_dir("lan");
  }
  void TearDown() override {
    processes_.clear();  // SIGTERM, then SIGKILL: before the namespaces go
    lan_.reset();
  }

  // Environment: the secret, and a cache of its own per host (as on separate devices).
  std::vector<std::string> env(int host, const std::string& secret = test::kSecret) {
    return {"BATON_SECRET=" + secret, "XDG_CACHE_HOME=" + tmp_ + "/cache" + std::to_string(host)};
  }
  ChildProcess& start(int host, std::vector<std::string> args, const std::string& secret = test::kSecret) {
    args.insert(args.begin(), BATON_EXECUTABLE);
    processes_.push_back(std::make_unique<ChildProcess>(lan_->in(host, args), env(host, secret)));
    return *processes_.back();
  }
  RunResult run_in(int host, std::vector<std::string> args, std::chrono::seconds timeout = 120s) {
    args.insert(args.begin(), BATON_EXECUTABLE);
    return run_command(lan_->in(host, args), timeout, env(host));
  }
  // Polls `p`'s stderr until `pattern` appears (bounded).
  static bool wait_for_log(ChildProcess& p, const std::string& pattern, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (p.err().find(pattern) != std::string::npos) return true;
      if (!p.running()) return p.err().find(pattern) != std::string::npos;
      p.wait(100ms);
    }
    return false;
  }
  static size_t count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }
  // `baton run`'s greedy text, as `baton submit` prints it (the text, then a line break).
  static std::string reference(int tokens) {
    const auto r = run_command({BATON_EXECUTABLE, "run", "--prompt", kPrompt, "--temp", "0", "--repeat-penalty", "1",
                                "--ctx", "2048", "-n", std::to_string(tokens)},
                               120s);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out.substr(std::min(r.out.size(), kPrompt.size())) + "\n";
  }
  // Greedy completion streamed over RPC by `baton submit` on the coordinator's host.
  RunResult submit(int tokens) {
    return run_in(0, {"submit", "--temp", "0", "--repeat-penalty", "1", "-n", std::to_string(tokens), kPrompt});
  }

  // Nodes on hosts 1..n (only the secret) and the coordinator on host 0; false (with the
  // failure recorded) if they do not come up with every node holding layers.
  bool start_cluster(int nodes, std::vector<std::string> coordinator_args = {},
                     std::map<int, std::vector<std::string>> node_args = {}) {
    for (int i = 1; i <= nodes; ++i) {
      std::vector<std::string> args = {"node"};
      args.insert(args.end(), node_args[i].begin(), node_args[i].end());
      nodes_[i] = &start(i, args);
      if (!nodes_[i]->wait_for_line(std::regex(R"(listening on every interface.*\(port 7100\))"), 30s)) {
        ADD_FAILURE() << "node " << i << " did not start: " << nodes_[i]->out() << nodes_[i]->err();
        return false;
      }
    }
    coordinator_args.insert(coordinator_args.begin(), "coordinator");
    coordinator_ = &start(0, coordinator_args);
    if (!coordinator_->wait_for_line(std::regex(R"(coordinator ready on 127\.0\.0\.1:7070)"), 60s)) {
      ADD_FAILURE() << "the coordinator did not become ready: " << coordinator_->err();
      return false;
    }
    // It joins each node at the address the node announces, and that address answers.
    for (int i = 1; i <= nodes; ++i) {
      if (!wait_for_log(*coordinator_, "at " + NetnsLan::ip(i) + ":7100", 30s) ||
          !wait_for_log(*nodes_[i], "layers [", 30s)) {
        ADD_FAILURE() << "node " << i << " never joined:\n" << coordinator_->err() << "\nnode:\n" << nodes_[i]->err();
        return false;
      }
    }
    return true;
  }

  // GET on the coordinator's HTTP API (loopback inside its namespace).
  std::string http_get(const std::string& path) {
    const RunResult r =
        run_command(lan_->in(0, {test::find_program("curl"), "-s", "--max-time", "10", "http://127.0.0.1:8080" + path}), 20s);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }
  static void write_file(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text << "\n";
  }

  std::unique_ptr<NetnsLan> lan_;
  std::string tmp_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
  ChildProcess* coordinator_ = nullptr;
  ChildProcess* nodes_[4] = {};
};

TEST_F(Lan, DiscoveryGreedyTextStrangersAndASecondCoordinator) {
  ASSERT_TRUE(start_cluster(2, {"--wire", "f32"}));
  EXPECT_EQ(coordinator_->err().find("is not used"), std::string::npos) << coordinator_->err();

  // Another host on the LAN sees both nodes at their own addresses (RTT needs the secret).
  const RunResult peers = run_in(5, {"peers", "--json", "--wait", "3"});
  ASSERT_EQ(peers.code, 0) << peers.err;
  const auto listing = nlohmann::json::parse(peers.out.substr(0, peers.out.find('\n')));
  std::set<std::string> seen;
  for (const auto& p : listing) {
    if (p["port"] == 7100 && p["state"] == "active") seen.insert(p["address"].get<std::string>());
  }
  EXPECT_TRUE(seen.count(NetnsLan::ip(1)) && seen.count(NetnsLan::ip(2))) << peers.out;

  // A streamed greedy request over the LAN gives `baton run`'s text.
  const std::string expected = reference(24);
  RunResult r = submit(24);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, expected);

  // A neighbour with another cluster's secret: skipped with one line, never in the way.
  ChildProcess& stranger = start(4, {"node", "--name", "stranger"}, "some-other-cluster");
  ASSERT_TRUE(stranger.wait_for_line(std::regex(R"(\(port 7100\))"), 30s)) << stranger.err();
  const std::string where = NetnsLan::ip(4) + ":7100";
  ASSERT_TRUE(wait_for_log(*coordinator_, "discovered node " + where + " is not used", 30s)) << coordinator_->err();
  EXPECT_TRUE(wait_for_log(*coordinator_, "could not prove it knows the cluster secret", 5s)) << coordinator_->err();
  r = submit(24);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, expected);
  EXPECT_EQ(count(coordinator_->err(), "discovered node " + where), 1u) << coordinator_->err();

  // A second coordinator finds the same nodes and is refused by each, naming the first;
  // it keeps waiting rather than taking them over.
  ChildProcess& second = start(5, {"coordinator"});
  ASSERT_TRUE(wait_for_log(second, "serves the coordinator at " + NetnsLan::ip(0), 45s))
      << second.out() << second.err();
  EXPECT_TRUE(second.running()) << second.err();
  EXPECT_EQ(second.err().find("kj/"), std::string::npos) << second.err();
  second.signal(SIGTERM);
  EXPECT_TRUE(second.wait(10s));
  r = submit(24);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, expected) << "the first coordinator is undisturbed";
  EXPECT_EQ(coordinator_->err().find("kj/"), std::string::npos) << coordinator_->err();
}

TEST_F(Lan, ANodeKilledMidStreamIsReplannedAround) {
  ASSERT_TRUE(start_cluster(3, {"--wire", "f32", "--min-nodes", "3"}));
  const std::string expected = reference(1500);
  ChildProcess stream(lan_->in(0, {BATON_EXECUTABLE, "submit", "--temp", "0", "--repeat-penalty", "1", "-n", "1500",
                                   kPrompt}),
                      env(0));
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (stream.out().size() < 40 && stream.running() && std::chrono::steady_clock::now() < deadline) stream.wait(10ms);
  ASSERT_GE(stream.out().size(), 40u) << "the stream never started: " << stream.err();
  nodes_[2]->signal(SIGKILL);
  ASSERT_TRUE(stream.wait(120s)) << "the stream did not finish";
  EXPECT_EQ(stream.wait(0ms), 0) << stream.err();
  EXPECT_EQ(stream.out(), expected) << "failover must not change the greedy text (f32 wire)";
  EXPECT_TRUE(wait_for_log(*coordinator_, "pipeline lost", 10s)) << coordinator_->err();
}

TEST_F(Lan, AHotNodeStepsBackAndComesBackOnceCool) {
  if (test::find_program("curl").empty()) GTEST_SKIP() << "needs curl to read the coordinator's /v1/cluster";
  // Node 2 reads its heat from a fake sysfs the test controls.
  const std::string sys = tmp_ + "/sysfs";
  const std::string zone = sys + "/sys/class/thermal/thermal_zone0/temp";
  write_file(zone, "50000");
  ASSERT_TRUE(start_cluster(2, {"--wire", "f32", "--min-nodes", "2", "--heartbeat-ms", "500"},
                            {{2, {"--name", "warm", "--sysfs-root", sys, "--heartbeat-ms", "200"}}}));
  const std::string expected = reference(24);
  auto plan_devices = [&] {
    std::set<std::string> devices;
    const auto view = nlohmann::json::parse(http_get("/v1/cluster"));
    for (const auto& stage : view["plan"]) devices.insert(stage["device"].get<std::string>());
    return devices;
  };
  // The plan may still be settling (a re-plan as discovery confirms the static view).
  const auto planned_by = std::chrono::steady_clock::now() + 20s;
  while (!plan_devices().count("warm") && std::chrono::steady_clock::now() < planned_by) coordinator_->wait(200ms);
  EXPECT_TRUE(plan_devices().count("warm")) << http_get("/v1/cluster");

  write_file(zone, "86000");
  ASSERT_TRUE(wait_for_log(*coordinator_, "steps back at the next session boundary: 86.0 °C", 20s)) << coordinator_->err();
  ASSERT_TRUE(wait_for_log(*coordinator_, "re-planned for heat and battery", 30s)) << coordinator_->err();
  EXPECT_FALSE(plan_devices().count("warm")) << http_get("/v1/cluster");
  const auto view = nlohmann::json::parse(http_get("/v1/cluster"));
  bool shown = false;
  for (const auto& n : view["nodes"]) {
    // Out of the plan, the node may be listed by its address rather than its name.
    const bool warm = n["id"] == "warm" || n["address"] == NetnsLan::ip(2) + ":7100";
    if (warm && n["stepped_back"].is_string()) shown = true;
  }
  EXPECT_TRUE(shown) << "the cluster view says why the node is out: " << view.dump();
  RunResult r = submit(24);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, expected);

  write_file(zone, "60000");
  ASSERT_TRUE(wait_for_log(*coordinator_, "comes back at the next session boundary", 20s)) << coordinator_->err();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (count(coordinator_->err(), "re-planned for heat and battery") < 2 && std::chrono::steady_clock::now() < deadline) {
    coordinator_->wait(100ms);
  }
  EXPECT_TRUE(plan_devices().count("warm")) << coordinator_->err();
  r = submit(24);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, expected);
  const std::string metrics = http_get("/metrics");
  EXPECT_NE(metrics.find("baton_node_health_decisions_total{action=\"plan_out\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("baton_node_health_decisions_total{action=\"plan_back_in\"} 1"), std::string::npos) << metrics;
}

TEST_F(Lan, ThePlanFollowsTheNodesMemory) {
  // A fresh cluster whose nodes offer 1 : 3 of memory: the memory planner splits the
  // layers in that proportion.
  ChildProcess& small = start(1, {"node", "--name", "small", "--memory", "40"});
  ChildProcess& large = start(2, {"node", "--name", "large", "--memory", "120"});
  for (ChildProcess* n : {&small, &large}) ASSERT_TRUE(n->wait_for_line(std::regex(R"(\(port 7100\))"), 30s)) << n->err();
  ChildProcess& coord = start(0, {"coordinator", "--min-nodes", "2", "--ctx", "256", "--max-sessions", "1"});
  ASSERT_TRUE(coord.wait_for_line(std::regex(R"(coordinator ready)"), 60s)) << coord.err();
  EXPECT_NE(coord.err().find("small holds layers [0, 1)"), std::string::npos) << coord.err();
  EXPECT_NE(coord.err().find("large holds layers [1, 4)"), std::string::npos) << coord.err();
}

}  // namespace
}  // namespace baton
