// Peer table lifecycle, driven by hand-made responses and a fake clock.
#include <gtest/gtest.h>

#include "discovery/peer_table.h"

namespace baton::discovery {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint T0 = TimePoint{} + seconds(1000);

NodeAttributes attrs(const std::string& id, std::uint64_t mem = 4096) {
  NodeAttributes a;
  a.node_id = id;
  a.kind = "pc";
  a.memory_mib = mem;
  a.compute_gflops = 50;
  a.bandwidth_gbps = 20;
  return a;
}

// An announcement as a responder sends it: PTR answer, SRV/TXT/A additionals.
DnsMessage announcement(const std::string& name, std::uint16_t port, std::uint32_t ttl,
                        const NodeAttributes& a, std::array<std::uint8_t, 4> ip = {127, 0, 0, 1}) {
  auto r = build_service_records(ServiceAdvert{name, port, a}, ip, RecordTtls::uniform(ttl));
  DnsMessage m;
  m.flags = kFlagResponse | kFlagAuthoritative;
  m.answers = {r.ptr};
  m.additionals = {r.srv, r.txt, r.a};
  return m;
}

bool has_question(const std::vector<Question>& qs, const DnsName& name, std::uint16_t type) {
  for (const auto& q : qs)
    if (q.name == name && q.type == type) return true;
  return false;
}

PeerTable make_table() {
  PeerTable::Options o;
  o.linger = seconds(30);
  return PeerTable(o);
}

TEST(PeerTable, AnnouncementAddsACompletePeer) {
  PeerTable t = make_table();
  auto events = t.observe_response(announcement("pc one", 7001, 120, attrs("id-1")), T0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, PeerEventKind::added);
  const PeerEntry& p = events[0].peer;
  EXPECT_EQ(p.name, "pc one");
  EXPECT_EQ(p.host, "pc-one.local");
  ASSERT_TRUE(p.address);
  EXPECT_EQ(p.address->to_string(), "127.0.0.1");
  EXPECT_EQ(p.port, 7001);
  ASSERT_TRUE(p.attributes);
  EXPECT_EQ(p.attributes->node_id, "id-1");
  EXPECT_EQ(p.attributes->memory_mib, 4096u);
  EXPECT_EQ(p.state, PeerState::active);
  EXPECT_EQ(p.source, PeerSource::mdns);
  EXPECT_EQ(t.snapshot().size(), 1u);
  // The same announcement again changes nothing.
  EXPECT_TRUE(t.observe_response(announcement("pc one", 7001, 120, attrs("id-1")), T0 + seconds(1)).empty());
}

TEST(PeerTable, PartialPeerIsQueriedUntilComplete) {
  PeerTable t = make_table();
  DnsMessage full = announcement("n", 7000, 120, attrs("x"));
  DnsMessage ptr_only;
  ptr_only.flags = kFlagResponse;
  ptr_only.answers = {full.answers[0]};
  EXPECT_TRUE(t.observe_response(ptr_only, T0).empty());
  EXPECT_TRUE(t.snapshot().empty());
  auto qs = t.due_queries(T0);
  EXPECT_TRUE(has_question(qs, instance_name("n"), dns_type::SRV));
  EXPECT_TRUE(has_question(qs, instance_name("n"), dns_type::TXT));
  // Backoff: not again right away, again after a second.
  EXPECT_TRUE(t.due_queries(T0 + milliseconds(500)).empty());
  EXPECT_FALSE(t.due_queries(T0 + milliseconds(1000)).empty());

  DnsMessage srv_txt;
  srv_txt.flags = kFlagResponse;
  srv_txt.answers = {full.additionals[0], full.additionals[1]};
  EXPECT_TRUE(t.observe_response(srv_txt, T0 + seconds(2)).empty());
  // Now only the address is missing; the next due query asks for the host's A record.
  auto qs2 = t.due_queries(T0 + seconds(10));
  EXPECT_TRUE(has_question(qs2, host_name_for("n"), dns_type::A));
  EXPECT_FALSE(has_question(qs2, instance_name("n"), dns_type::SRV));

  DnsMessage a_only;
  a_only.flags = kFlagResponse;
  a_only.answers = {full.additionals[2]};
  auto events = t.observe_response(a_only, T0 + seconds(11));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, PeerEventKind::added);
}

TEST(PeerTable, RefreshQueriesAtEightyToNinetyFivePercent) {
  PeerTable t = make_table();
  t.observe_response(announcement("n", 7000, 100, attrs("x")), T0);
  EXPECT_TRUE(t.due_queries(T0 + milliseconds(79'900)).empty());
  // 80% + up to 2% jitter: due by 82 s, and reported once.
  auto at82 = t.due_queries(T0 + milliseconds(82'000));
  EXPECT_TRUE(has_question(at82, baton_service_name(), dns_type::PTR));
  EXPECT_TRUE(has_question(at82, instance_name("n"), dns_type::SRV));
  EXPECT_TRUE(has_question(at82, instance_name("n"), dns_type::TXT));
  EXPECT_TRUE(has_question(at82, host_name_for("n"), dns_type::A));
  EXPECT_TRUE(t.due_queries(T0 + milliseconds(82'500)).empty());
  EXPECT_FALSE(t.due_queries(T0 + milliseconds(87'000)).empty());  // 85%
  EXPECT_FALSE(t.due_queries(T0 + milliseconds(92'000)).empty());  // 90%
  EXPECT_FALSE(t.due_queries(T0 + milliseconds(97'000)).empty());  // 95%
  EXPECT_TRUE(t.due_queries(T0 + milliseconds(99'000)).empty());   // nothing after 95%
}

TEST(PeerTable, RefreshedPeerDoesNotExpire) {
  PeerTable t = make_table();
  t.observe_response(announcement("n", 7000, 10, attrs("x")), T0);
  t.due_queries(T0 + seconds(9));
  EXPECT_TRUE(t.observe_response(announcement("n", 7000, 10, attrs("x")), T0 + seconds(9)).empty());
  EXPECT_TRUE(t.advance(T0 + seconds(12)).empty());
  EXPECT_EQ(t.snapshot().at(0).state, PeerState::active);
}

TEST(PeerTable, ExpiresWhenTtlRunsOutThenIsRemovedAfterLinger) {
  PeerTable t = make_table();
  t.observe_response(announcement("n", 7000, 10, attrs("x")), T0);
  EXPECT_TRUE(t.advance(T0 + milliseconds(9'999)).empty());
  auto events = t.advance(T0 + seconds(10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, PeerEventKind::expired);
  EXPECT_EQ(events[0].peer.name, "n");
  ASSERT_EQ(t.snapshot().size(), 1u);
  EXPECT_EQ(t.snapshot()[0].state, PeerState::expired);
  EXPECT_TRUE(t.advance(T0 + seconds(39)).empty());
  auto removed = t.advance(T0 + seconds(40));
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].kind, PeerEventKind::removed);
  EXPECT_TRUE(t.snapshot().empty());
}

TEST(PeerTable, ExpiredPeerThatComesBackIsAddedAgain) {
  PeerTable t = make_table();
  t.observe_response(announcement("n", 7000, 10, attrs("x")), T0);
  t.advance(T0 + seconds(11));
  auto events = t.observe_response(announcement("n", 7000, 10, attrs("x")), T0 + seconds(12));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, PeerEventKind::added);
}

TEST(PeerTable, GoodbyeMarksPeerAtOnce) {
  PeerTable t = make_table();
  t.observe_response(announcement("n", 7000, 4500, attrs("x")), T0);
  t.observe_response(announcement("other", 7002, 4500, attrs("y")), T0);
  auto events = t.observe_response(announcement("n", 7000, 0, attrs("x")), T0 + seconds(5));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, PeerEventKind::goodbye);
  EXPECT_EQ(events[0].peer.name, "n");
  EXPECT_EQ(t.find("n")->state, PeerState::goodbye);
  EXPECT_EQ(t.find("other")->state, PeerState::active);
  // No refresh queries for a departed peer.
  for (const auto& q : t.due_queries(T0 + seconds(6)))
    EXPECT_FALSE(q.name == instance_name("n"));
  auto removed = t.advance(T0 + seconds(35));
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].kind, PeerEventKind::removed);
  EXPECT_FALSE(t.find("n"));
  // Coming back after the goodbye is a fresh add.
  auto back = t.observe_response(announcement("n", 7000, 4500, attrs("x")), T0 + seconds(40));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].kind, PeerEventKind::added);
}

TEST(PeerTable, TxtChangeIsAnUpdate) {
  PeerTable t = make_table();
  t.observe_response(announcement("n", 7000, 120, attrs("x", 1024)), T0);
  auto events = t.observe_response(announcement("n", 7000, 120, attrs("x", 2048)), T0 + seconds(1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, PeerEventKind::updated);
  EXPECT_EQ(events[0].peer.attributes->memory_mib, 2048u);
  auto moved = t.observe_response(announcement("n", 7005, 120, attrs("x", 2048)), T0 + seconds(2));
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].peer.port, 7005);
}

TEST(PeerTable, PeerWithBadTxtIsIgnored) {
  PeerTable t = make_table();
  DnsMessage m = announcement("bad", 7000, 120, attrs("x"));
  std::get<TxtRecordData>(m.additionals[1].data).strings.push_back("mem=lots");
  // "mem" appears twice now; the first (valid) wins, so break the first one instead.
  auto& strings = std::get<TxtRecordData>(m.additionals[1].data).strings;
  for (auto& s : strings)
    if (s.rfind("mem=", 0) == 0) s = "mem=lots";
  EXPECT_TRUE(t.observe_response(m, T0).empty());
  EXPECT_TRUE(t.snapshot().empty());
}

TEST(PeerTable, IgnoresOtherServices) {
  PeerTable t = make_table();
  DnsMessage m;
  m.flags = kFlagResponse;
  ResourceRecord ptr;
  ptr.name = *DnsName::parse("_http._tcp.local");
  ptr.type = dns_type::PTR;
  ptr.ttl = 120;
  ptr.data = PtrRecordData{*DnsName::parse("web._http._tcp.local")};
  m.answers.push_back(ptr);
  EXPECT_TRUE(t.observe_response(m, T0).empty());
  EXPECT_TRUE(t.due_queries(T0).empty());
}

TEST(PeerTable, KnownAnswersOnlyWhileMoreThanHalfTheTtlIsLeft) {
  PeerTable t = make_table();
  t.observe_response(announcement("n", 7000, 100, attrs("x")), T0);
  auto ka = t.known_answers(T0 + seconds(10));
  ASSERT_EQ(ka.size(), 1u);
  EXPECT_EQ(ka[0].type, dns_type::PTR);
  EXPECT_EQ(ka[0].ttl, 90u);
  EXPECT_EQ(std::get<PtrRecordData>(ka[0].data).target, instance_name("n"));
  EXPECT_TRUE(t.known_answers(T0 + seconds(51)).empty());
}

TEST(PeerTable, CacheFlushReplacesOldAddressAfterOneSecond) {
  PeerTable t = make_table();
  t.observe_response(announcement("n", 7000, 120, attrs("x"), {127, 0, 0, 1}), T0);
  auto events = t.observe_response(announcement("n", 7000, 120, attrs("x"), {127, 0, 0, 2}), T0 + seconds(5));
  // The newest address is preferred at once ...
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, PeerEventKind::updated);
  EXPECT_EQ(events[0].peer.address->to_string(), "127.0.0.2");
  // ... and the old one is gone a second later rather than after its 120 s TTL.
  t.advance(T0 + seconds(7));
  EXPECT_EQ(t.find("n")->address->to_string(), "127.0.0.2");
}

TEST(PeerTable, StaticPeersMergeWithMdnsPeersOnAddressAndPort) {
  PeerTable t = make_table();
  auto added = t.add_static_peers({{"127.0.0.1", 7000}, {"10.1.2.3", 9000}}, T0);
  ASSERT_EQ(added.size(), 2u);
  EXPECT_EQ(added[0].peer.source, PeerSource::static_list);
  EXPECT_TRUE(t.add_static_peers({{"127.0.0.1", 7000}}, T0).empty());  // duplicates ignored
  t.observe_response(announcement("n", 7000, 10, attrs("x")), T0);
  auto snap = t.snapshot();
  ASSERT_EQ(snap.size(), 2u);  // merged "n" + the other static peer
  const PeerEntry* merged = nullptr;
  for (auto& e : snap)
    if (e.name == "n") merged = &e;
  ASSERT_TRUE(merged);
  EXPECT_EQ(merged->source, PeerSource::both);
  EXPECT_TRUE(merged->attributes);
  // When the mDNS side expires, the static side keeps the peer active.
  t.advance(T0 + seconds(11));
  EXPECT_EQ(t.find("n")->state, PeerState::active);
  EXPECT_EQ(t.find("10.1.2.3:9000")->source, PeerSource::static_list);
}

TEST(PeerTable, InstanceCountIsBounded) {
  PeerTable::Options o;
  o.max_instances = 5;
  PeerTable t(o);
  for (int i = 0; i < 20; ++i) {
    std::string name = "n";
    name += std::to_string(i);
    t.observe_response(announcement(name, 7000, 120, attrs("x")), T0);
  }
  EXPECT_EQ(t.snapshot().size(), 5u);
}

}  // namespace
}  // namespace baton::discovery
