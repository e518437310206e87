// Discovery with real processes on loopback multicast (a private mDNS port per test run so
// parallel tests do not see each other): nodes are found; SIGTERM makes a node leave by
// goodbye, SIGKILL by expiry after its (short) TTL; the coordinator follows the membership
// between sessions and its output stays exact (f32 wire). Every wait is for an event, with a
// generous bound; nothing asserts how long anything took.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "../model/test_models.h"
#include "local_cluster.h"

namespace baton {
namespace {

using namespace std::chrono_literals;

constexpr int kTtl = 3;

std::string mdns_port() { return std::to_string(20000 + getpid() % 20000); }

std::unique_ptr<ChildProcess> start_node(const std::string& name, const std::string& model) {
  auto node = std::make_unique<ChildProcess>(
      std::vector<std::string>{BATON_EXECUTABLE, "node", "--listen", "127.0.0.1:0", "--model", model, "--name", name,
                               "--threads", "1", "--mdns-interface", "lo", "--mdns-port", mdns_port(), "--mdns-ttl",
                               std::to_string(kTtl), "--cache-dir", test::temp_dir("disc-" + name)},
      test::secret_env());
  EXPECT_TRUE(node->wait_for_line(std::regex(R"(\(port \d+\))"), 20s)) << node->err();
  return node;
}

// State of each named peer in the latest `baton peers --json` line (absent: "").
class PeerWatch {
 public:
  PeerWatch()
      : proc_({BATON_EXECUTABLE, "peers", "--watch", "--json", "--wait", "0", "--interval", "0.25", "--interface", "lo",
               "--mdns-port", mdns_port()},
              {}) {}

  // Waits until `pred(states)` holds for a listing (false after `timeout`). The timeouts
  // are generous bounds for a loaded machine, not expectations of speed.
  bool until(const std::function<bool(const std::map<std::string, std::string>&)>& pred,
             std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = proc_.wait_for_line(std::regex(R"(^\[.*\]$)"), 1s);
      if (!m) continue;
      std::map<std::string, std::string> states;
      for (const auto& p : nlohmann::json::parse(m->str())) states[p["name"]] = p["state"];
      if (pred(states)) return true;
    }
    return false;
  }

 private:
  ChildProcess proc_;
};

bool in_state(const std::map<std::string, std::string>& s, const std::string& name, const std::string& state) {
  auto it = s.find(name);
  return it != s.end() && it->second == state;
}
bool active(const std::map<std::string, std::string>& s, const std::string& name) { return in_state(s, name, "active"); }

TEST(Discovery, NodesAreFoundAndLeaveByGoodbyeOrExpiry) {
  const std::string model = test::synth_model_path("tiny", DType::F32);
  const std::string tag = std::to_string(getpid());
  const std::string a = "alpha-" + tag, b = "beta-" + tag, c = "gamma-" + tag;
  PeerWatch watch;
  auto na = start_node(a, model), nb = start_node(b, model), nc = start_node(c, model);
  ASSERT_TRUE(watch.until([&](const auto& s) { return active(s, a) && active(s, b) && active(s, c); }, 60s))
      << "three nodes were not all discovered";

  // The table says how a peer left: "goodbye" when it announced its departure (RFC 6762
  // 10.1), "expired" when its records ran out. The state, not the time it took, tells
  // the two paths apart.
  na->signal(SIGTERM);
  ASSERT_TRUE(na->wait(30s));
  ASSERT_TRUE(watch.until([&](const auto& s) { return in_state(s, a, "goodbye") && active(s, b); }, 60s))
      << "a node that stops cleanly should leave by goodbye";

  nb->signal(SIGKILL);
  ASSERT_TRUE(nb->wait(30s));
  ASSERT_TRUE(watch.until([&](const auto& s) { return in_state(s, b, "expired") && active(s, c); }, 60s))
      << "a killed node sends no goodbye: it must expire after its TTL";
}

TEST(Discovery, CoordinatorFollowsMembershipBetweenSessions) {
  const std::string model = test::synth_model_path("small", DType::Q8_0);
  const std::string tag = std::to_string(getpid());
  auto n1 = start_node("one-" + tag, model), n2 = start_node("two-" + tag, model);
  ChildProcess coord({BATON_EXECUTABLE, "coordinator", "--model", model, "--listen", "127.0.0.1:0", "--wire", "f32",
                      "--ctx", "256", "--mdns-interface", "lo", "--mdns-port", mdns_port(), "--min-nodes", "2",
                      "--discovery-wait", "10", "--http", "127.0.0.1:0"},
                     test::secret_env());
  auto ready = coord.wait_for_line(std::regex(R"(coordinator ready on .*\(port (\d+)\): (\d+) stage)"), 30s);
  ASSERT_TRUE(ready) << coord.err();
  EXPECT_EQ((*ready)[2], "2");
  const std::string address = "127.0.0.1:" + std::string((*ready)[1]);
  auto submit = [&] {
    auto r = run_command({BATON_EXECUTABLE, "submit", "--coordinator", address, "--json", "--temp", "0",
                          "--repeat-penalty", "1", "-n", "12", "the quick brown fox"},
                         60s, test::secret_env());
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out).value("text", std::string("<none>"));
  };
  const std::string two_stages = submit();

  auto n3 = start_node("three-" + tag, model);
  // The coordinator re-plans once it sees the third node and no session is running.
  ASSERT_TRUE(test::wait_for_stderr(coord, "holds layers [4, 6)")) << coord.err();
  EXPECT_EQ(submit(), two_stages) << "three stages must give the same greedy text over an f32 wire";

  n1->signal(SIGTERM);
  ASSERT_TRUE(n1->wait(30s));
  ASSERT_TRUE(test::wait_for_stderr(coord, "(-127.0.0.1")) << coord.err();
  EXPECT_EQ(submit(), two_stages);
}

// A tool nobody here wrote resolves a running `baton node`: dig's legacy unicast query
// (RFC 6762 §6.7) to the node's mDNS port on loopback gets PTR, SRV and TXT answers.
TEST(Discovery, DigResolvesARunningNode) {
  const std::string name = "dig-" + std::to_string(getpid());
  auto node = start_node(name, test::synth_model_path("tiny", DType::F32));
  // The node answers once it has probed for its name (3 x 250 ms): ask until it does.
  auto ask = [] {
    return run_command({"/usr/bin/dig", "-p", mdns_port(), "@127.0.0.1", "+time=1", "+tries=1", "_baton._tcp.local", "PTR"},
                       20s);
  };
  RunResult r = ask();
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (r.out.find("PTR\t" + name) == std::string::npos && std::chrono::steady_clock::now() < deadline) r = ask();
  ASSERT_EQ(r.code, 0) << "dig failed: " << r.out << r.err;
  EXPECT_NE(r.out.find("status: NOERROR"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("_baton._tcp.local.\t"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PTR\t" + name + "._baton._tcp.local."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SRV"), std::string::npos) << r.out;
  for (const char* key : {"\"proto=", "\"id=", "\"kind=", "\"mem=", "\"gflops=", "\"bw=", "\"model=", "\"role=node\""}) {
    EXPECT_NE(r.out.find(key), std::string::npos) << "TXT key " << key << " missing in\n" << r.out;
  }
}

}  // namespace
}  // namespace baton
