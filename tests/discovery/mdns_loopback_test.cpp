// Responder and browser in one process, talking real mDNS over loopback multicast
// (224.0.0.251:5353 joined on 127.0.0.1; see discovery/net_interfaces.h for why lo works).
// Names are unique per run, so other tests using port 5353 at the same time do not matter.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <mutex>

#include "discovery/mdns_browser.h"
#include "discovery/mdns_responder.h"
#include "test_support.h"

namespace baton::discovery {
namespace {

using namespace std::chrono_literals;
using testing::unique_name;
using testing::wait_until;

NodeAttributes attrs(std::uint64_t mem) {
  NodeAttributes a;
  a.node_id = "node-" + std::to_string(mem);
  a.kind = "tablet";
  a.memory_mib = mem;
  a.compute_gflops = 7.25;
  a.bandwidth_gbps = 12;
  a.model_hash = "feedbeef";
  return a;
}

ResponderConfig responder_config(const std::string& name, std::uint16_t port, std::uint64_t mem = 2048) {
  ResponderConfig c;
  c.advert = ServiceAdvert{name, port, attrs(mem)};
  c.interface = "lo";
  return c;
}

BrowserConfig browser_config() {
  BrowserConfig c;
  c.interface = "lo";
  c.table.linger = 30s;
  return c;
}

// Collects events from the browser thread.
struct EventLog {
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

std::optional<PeerEntry> find_peer(const MdnsBrowser& b, const std::string& name) {
  for (auto& p : b.peers())
    if (p.name == name) return p;
  return std::nullopt;
}

TEST(MdnsLoopback, BrowserFindsAnnouncedNodeWithItsAttributes) {
  const std::string name = unique_name("loop node");  // a space on purpose
  MdnsResponder responder(responder_config(name, 7301, 3072));
  responder.start();
  EventLog log;
  MdnsBrowser browser(browser_config());
  browser.start(std::ref(log));
  ASSERT_TRUE(wait_until([&] { return log.seen(PeerEventKind::added, name); }, 3s))
      << "browser did not see the node within 3 s";
  auto p = find_peer(browser, name);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->state, PeerState::active);
  EXPECT_EQ(p->port, 7301);
  ASSERT_TRUE(p->address);
  EXPECT_EQ(p->address->to_string(), "127.0.0.1");
  EXPECT_EQ(p->host, host_name_for(name).to_string());
  ASSERT_TRUE(p->attributes);
  EXPECT_EQ(*p->attributes, attrs(3072));
  browser.stop();
  responder.stop();
}

TEST(MdnsLoopback, BrowserStartedLaterFindsNodeByQuerying) {
  // The browser misses the announcements and must learn the node from answers to its query.
  const std::string name = unique_name("late");
  MdnsResponder responder(responder_config(name, 7302));
  responder.start();
  ASSERT_TRUE(wait_until([&] { return responder.announced(); }, 3s));
  std::this_thread::sleep_for(3500ms);  // the three announcements (0 s, 1 s, 3 s) are over
  EventLog log;
  MdnsBrowser browser(browser_config());
  browser.start(std::ref(log));
  EXPECT_TRUE(wait_until([&] { return log.seen(PeerEventKind::added, name); }, 3s));
}

TEST(MdnsLoopback, AttributeUpdateReachesTheBrowser) {
  const std::string name = unique_name("update");
  MdnsResponder responder(responder_config(name, 7303, 1024));
  responder.start();
  EventLog log;
  MdnsBrowser browser(browser_config());
  browser.start(std::ref(log));
  ASSERT_TRUE(wait_until([&] { return log.seen(PeerEventKind::added, name); }, 3s));
  responder.update_attributes(attrs(4096));
  ASSERT_TRUE(wait_until([&] { return log.seen(PeerEventKind::updated, name); }, 3s));
  EXPECT_EQ(find_peer(browser, name)->attributes->memory_mib, 4096u);
}

TEST(MdnsLoopback, StopSendsGoodbyeAndPeerLeavesAtOnce) {
  const std::string name = unique_name("bye");
  auto responder = std::make_unique<MdnsResponder>(responder_config(name, 7304));
  responder->start();
  EventLog log;
  MdnsBrowser browser(browser_config());
  browser.start(std::ref(log));
  ASSERT_TRUE(wait_until([&] { return log.seen(PeerEventKind::added, name); }, 3s));
  responder->stop();
  // The TTL is 120/4500 s: only the goodbye can explain a quick departure.
  ASSERT_TRUE(wait_until([&] { return log.seen(PeerEventKind::goodbye, name); }, 2s));
  EXPECT_EQ(find_peer(browser, name)->state, PeerState::goodbye);
}

TEST(MdnsLoopback, SecondNodeWithSameNameRenamesItself) {
  const std::string name = unique_name("twin");
  MdnsResponder first(responder_config(name, 7305));
  first.start();
  ASSERT_TRUE(wait_until([&] { return first.announced(); }, 3s));
  MdnsResponder second(responder_config(name, 7306));
  std::mutex m;
  std::string renamed_to;
  second.on_renamed = [&](const std::string& n) {
    std::lock_guard lock(m);
    renamed_to = n;
  };
  second.start();
  ASSERT_TRUE(wait_until([&] { return second.announced(); }, 5s));
  EXPECT_EQ(first.current_name(), name);
  EXPECT_EQ(second.current_name(), name + " (2)");
  {
    std::lock_guard lock(m);
    EXPECT_EQ(renamed_to, name + " (2)");
  }
  EventLog log;
  MdnsBrowser browser(browser_config());
  browser.start(std::ref(log));
  ASSERT_TRUE(wait_until([&] { return log.seen(PeerEventKind::added, name) && log.seen(PeerEventKind::added, name + " (2)"); }, 3s));
  EXPECT_EQ(find_peer(browser, name)->port, 7305);
  EXPECT_EQ(find_peer(browser, name + " (2)")->port, 7306);
}

// A legacy (non-5353 source port) query sent to the multicast group, as `dig -p 5353
// @224.0.0.251` sends it: the reply comes back by unicast to our port with our ID and
// question, TTLs of at most 10 s (RFC 6762 §6.7).
TEST(MdnsLoopback, LegacyUnicastQueryToTheGroupIsAnsweredByUnicast) {
  const std::string name = unique_name("legacy");
  MdnsResponder responder(responder_config(name, 7307));
  responder.start();
  ASSERT_TRUE(wait_until([&] { return responder.announced(); }, 3s));

  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local), 0);
  in_addr lo{};
  lo.s_addr = htonl(INADDR_LOOPBACK);
  ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo);
  timeval tv{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  DnsMessage q;
  q.id = 0x4242;
  q.questions.push_back(Question{instance_name(name), dns_type::SRV, kClassIn, false});
  auto bytes = write_dns_message(q);
  sockaddr_in group{};
  group.sin_family = AF_INET;
  group.sin_port = htons(kMdnsPort);
  group.sin_addr.s_addr = htonl(0xE00000FB);
  ASSERT_EQ(::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&group), sizeof group),
            static_cast<ssize_t>(bytes.size()));

  std::optional<DnsMessage> reply;
  sockaddr_in from{};
  wait_until([&] {
    std::uint8_t buf[9000];
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) return false;
    auto parsed = parse_dns_message(std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)));
    if (parsed && parsed.message().id == 0x4242) reply = parsed.message();
    return reply.has_value();
  }, 3s);
  ::close(fd);
  ASSERT_TRUE(reply) << "no unicast reply to the legacy query";
  EXPECT_EQ(ntohs(from.sin_port), kMdnsPort);
  EXPECT_TRUE(reply->is_response());
  ASSERT_EQ(reply->questions.size(), 1u);
  EXPECT_EQ(reply->questions[0].name, instance_name(name));
  ASSERT_FALSE(reply->answers.empty());
  EXPECT_EQ(reply->answers[0].type, dns_type::SRV);
  EXPECT_EQ(std::get<SrvRecordData>(reply->answers[0].data).port, 7307);
  for (const auto& r : reply->answers) EXPECT_LE(r.ttl, 10u);
}

TEST(MdnsLoopback, StaticPeersAreListedNextToDiscoveredOnes) {
  const std::string name = unique_name("static");
  MdnsResponder responder(responder_config(name, 7308));
  responder.start();
  BrowserConfig c = browser_config();
  c.static_peers = {{"127.0.0.1", 7308}, {"10.9.8.7", 9000}};
  EventLog log;
  MdnsBrowser browser(c);
  browser.start(std::ref(log));
  ASSERT_TRUE(wait_until([&] { return log.seen(PeerEventKind::added, name); }, 3s));
  auto merged = find_peer(browser, name);
  ASSERT_TRUE(merged);
  EXPECT_EQ(merged->source, PeerSource::both);
  auto only_static = find_peer(browser, "10.9.8.7:9000");
  ASSERT_TRUE(only_static);
  EXPECT_EQ(only_static->source, PeerSource::static_list);
}

TEST(MdnsLoopback, BadInterfaceIsAClearError) {
  MdnsResponder responder(responder_config("x", 7309));
  try {
    ResponderConfig c = responder_config("x", 7309);
    c.interface = "no-such-if0";
    MdnsResponder bad(c);
    bad.start();
    FAIL() << "start() should throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-if0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(MdnsResponder(responder_config(std::string(70, 'n'), 7309)), std::invalid_argument);
}

}  // namespace
}  // namespace baton::discovery
