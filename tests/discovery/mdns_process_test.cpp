// Real processes: three announcers (baton_mdns_announcer, the same MdnsResponder calls
// `baton node` makes) and a browser in this test process, over loopback multicast.
// SIGTERM -> goodbye -> the peer leaves at once; SIGKILL -> no goodbye -> the peer
// expires when its (short, test-only) TTL runs out.
#include <gtest/gtest.h>

#include <mutex>

#include "discovery/mdns_browser.h"
#include "test_support.h"

namespace baton::discovery {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::unique_name;
using testing::wait_until;

constexpr int kTestTtlSeconds = 3;

std::unique_ptr<ChildProcess> spawn_announcer(const std::string& name, int port, int mem) {
  return std::make_unique<ChildProcess>(std::vector<std::string>{
      BATON_MDNS_ANNOUNCER, "--name", name, "--port", std::to_string(port), "--mem", std::to_string(mem),
      "--kind", "phone", "--id", "id-" + std::to_string(port), "--interface", "lo", "--ttl",
      std::to_string(kTestTtlSeconds)});
}

struct Watcher {
  std::mutex mutex;
  std::vector<PeerEvent> events;
  void operator()(const PeerEvent& e) {
    std::lock_guard lock(mutex);
    events.push_back(e);
  }
  bool seen(PeerEventKind kind, const std::string& name) {
    std::lock_guard lock(mutex);
    for (const auto& e : events)
      if (e.kind == kind && e.peer.name == name) return true;
    return false;
  }
};

std::optional<PeerState> state_of(const MdnsBrowser& b, const std::string& name) {
  for (const auto& p : b.peers())
    if (p.name == name) return p.state;
  return std::nullopt;
}

TEST(MdnsProcesses, ThreeNodesFoundThenSigtermGoodbyeAndSigkillExpiry) {
  const std::string a = unique_name("proc-a"), b = unique_name("proc-b"), c = unique_name("proc-c");
  Watcher watcher;
  BrowserConfig config;
  config.interface = "lo";
  config.max_query_interval = 10s;  // a coordinator keeps asking more often than every hour
  MdnsBrowser browser(config);
  browser.start(std::ref(watcher));

  auto pa = spawn_announcer(a, 7401, 1000);
  auto pb = spawn_announcer(b, 7402, 2000);
  auto pc = spawn_announcer(c, 7403, 3000);
  const bool all_found = wait_until(
      [&] {
        return state_of(browser, a) == PeerState::active && state_of(browser, b) == PeerState::active &&
               state_of(browser, c) == PeerState::active;
      },
      3s);
  ASSERT_TRUE(all_found) << "not all three nodes found within 3 s\n--- a:\n"
                         << pa->output() << "--- b:\n" << pb->output() << "--- c:\n" << pc->output();
  for (const auto& p : browser.peers()) {
    if (p.name != b) continue;
    EXPECT_EQ(p.port, 7402);
    ASSERT_TRUE(p.attributes);
    EXPECT_EQ(p.attributes->memory_mib, 2000u);
    EXPECT_EQ(p.attributes->kind, "phone");
    EXPECT_EQ(p.attributes->node_id, "id-7402");
  }

  // SIGTERM: the announcer sends its goodbye and exits 0; the peer is gone at once, long
  // before its TTL could run out.
  pa->signal(SIGTERM);
  EXPECT_EQ(pa->wait(5s), 0) << pa->output();
  EXPECT_NE(pa->output().find("goodbye"), std::string::npos);
  EXPECT_TRUE(wait_until([&] { return watcher.seen(PeerEventKind::goodbye, a); }, 2s))
      << "no goodbye seen for the SIGTERM'd node";
  EXPECT_EQ(state_of(browser, a), PeerState::goodbye);

  // SIGKILL: no goodbye. The peer stays until its TTL (3 s) runs out, then expires.
  pb->signal(SIGKILL);
  pb->wait(5s);
  EXPECT_TRUE(wait_until([&] { return watcher.seen(PeerEventKind::expired, b); }, std::chrono::seconds(kTestTtlSeconds + 2)))
      << "the SIGKILL'd node did not expire after its TTL";
  EXPECT_FALSE(watcher.seen(PeerEventKind::goodbye, b));
  EXPECT_EQ(state_of(browser, b), PeerState::expired);

  // The third node, alive all along, is still active: refresh queries kept it.
  EXPECT_EQ(state_of(browser, c), PeerState::active);
  EXPECT_FALSE(watcher.seen(PeerEventKind::expired, c));
  pc->signal(SIGTERM);
  EXPECT_EQ(pc->wait(5s), 0);
  browser.stop();
}

TEST(MdnsProcesses, AnnouncerRefusesBadArgumentsWithAMessage) {
  ChildProcess bad({BATON_MDNS_ANNOUNCER, "--name", std::string(70, 'x'), "--port", "7000", "--interface", "lo"});
  EXPECT_EQ(bad.wait(5s), 1);
  EXPECT_NE(bad.output().find("63"), std::string::npos) << bad.output();
  ChildProcess no_port({BATON_MDNS_ANNOUNCER, "--name", "x"});
  EXPECT_NE(no_port.wait(5s), 0);
  EXPECT_NE(no_port.output().find("--port"), std::string::npos) << no_port.output();
}

}  // namespace
}  // namespace baton::discovery
