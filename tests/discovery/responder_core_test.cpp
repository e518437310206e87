// What the responder answers, to whom and when: legacy unicast (dig), QU, known-answer
// suppression, rate limiting, additional records, probes and conflicts. No sockets.
#include <gtest/gtest.h>

#include "discovery/responder_core.h"

namespace baton::discovery {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint T0 = TimePoint{} + seconds(500);

ServiceRecords records_for(const std::string& name, std::uint16_t port = 7000) {
  NodeAttributes a;
  a.node_id = "id-" + std::to_string(port);
  a.kind = "pc";
  return build_service_records(ServiceAdvert{name, port, a}, {127, 0, 0, 1}, RecordTtls{});
}

DnsMessage query(const char* name, std::uint16_t type, bool qu = false) {
  DnsMessage q;
  q.questions.push_back(Question{*DnsName::parse(name), type, kClassIn, qu});
  return q;
}

bool has(const std::vector<ResourceRecord>& list, std::uint16_t type) {
  for (const auto& r : list)
    if (r.type == type) return true;
  return false;
}

TEST(ResponderCore, LegacyUnicastReplyEchoesIdAndQuestionWithShortTtls) {
  ResponderCore core(records_for("pc"));
  DnsMessage q = query("_baton._tcp.local", dns_type::PTR);
  q.id = 0x1234;
  q.flags = 0x0100;  // RD, as dig sends
  auto plan = core.plan(q, /*legacy_unicast=*/true, T0);
  ASSERT_TRUE(plan.unicast_reply);
  EXPECT_TRUE(plan.multicast_answers.empty());
  const DnsMessage& r = *plan.unicast_reply;
  EXPECT_EQ(r.id, 0x1234);
  EXPECT_TRUE(r.is_response());
  EXPECT_TRUE(r.flags & kFlagAuthoritative);
  ASSERT_EQ(r.questions.size(), 1u);
  EXPECT_EQ(r.questions[0].name, baton_service_name());
  ASSERT_EQ(r.answers.size(), 1u);
  EXPECT_EQ(r.answers[0].type, dns_type::PTR);
  EXPECT_TRUE(has(r.additionals, dns_type::SRV));
  EXPECT_TRUE(has(r.additionals, dns_type::TXT));
  EXPECT_TRUE(has(r.additionals, dns_type::A));
  for (const auto* section : {&r.answers, &r.additionals})
    for (const auto& rr : *section) {
      EXPECT_LE(rr.ttl, 10u) << describe_record(rr);
      EXPECT_FALSE(rr.cache_flush) << describe_record(rr);
    }
}

TEST(ResponderCore, QueryForOtherNamesGetsNothing) {
  ResponderCore core(records_for("pc"));
  auto plan = core.plan(query("_http._tcp.local", dns_type::PTR), false, T0);
  EXPECT_FALSE(plan.unicast_reply);
  EXPECT_TRUE(plan.multicast_answers.empty());
  auto other = core.plan(query("other._baton._tcp.local", dns_type::SRV), true, T0);
  EXPECT_FALSE(other.unicast_reply);
}

TEST(ResponderCore, SharedAnswersAreDelayedUniqueOnesAreNot) {
  ResponderCore core(records_for("pc"));
  for (int i = 0; i < 50; ++i) {
    auto plan = core.plan(query("_baton._tcp.local", dns_type::PTR), false, T0);
    ASSERT_EQ(plan.multicast_answers.size(), 1u);
    EXPECT_GE(plan.multicast_delay, milliseconds(20));
    EXPECT_LE(plan.multicast_delay, milliseconds(120));
  }
  auto unique = core.plan(query("pc._baton._tcp.local", dns_type::SRV), false, T0);
  ASSERT_EQ(unique.multicast_answers.size(), 1u);
  EXPECT_EQ(unique.multicast_delay, milliseconds(0));
  DnsMessage truncated = query("_baton._tcp.local", dns_type::PTR);
  truncated.flags |= kFlagTruncated;
  auto tc = core.plan(truncated, false, T0);
  EXPECT_GE(tc.multicast_delay, milliseconds(400));
  EXPECT_LE(tc.multicast_delay, milliseconds(500));
}

TEST(ResponderCore, KnownAnswerSuppressesOnlyWithHalfTheTtlLeft) {
  ServiceRecords recs = records_for("pc");
  ResponderCore core(recs);
  DnsMessage q = query("_baton._tcp.local", dns_type::PTR);
  ResourceRecord known = recs.ptr;
  known.ttl = recs.ptr.ttl / 2;  // exactly half: still suppresses
  q.answers = {known};
  EXPECT_TRUE(core.plan(q, false, T0).multicast_answers.empty());
  q.answers[0].ttl = recs.ptr.ttl / 2 - 1;
  EXPECT_EQ(core.plan(q, false, T0).multicast_answers.size(), 1u);
}

TEST(ResponderCore, SameRecordIsMulticastAtMostOncePerSecond) {
  ResponderCore core(records_for("pc"));
  std::vector<ResourceRecord> answers = {core.records().srv};
  auto first = core.multicast_response(answers, T0, false);
  ASSERT_TRUE(first);
  EXPECT_TRUE(has(first->answers, dns_type::SRV));
  EXPECT_TRUE(has(first->additionals, dns_type::A));  // SRV brings its host address
  EXPECT_FALSE(core.multicast_response(answers, T0 + milliseconds(999), false));
  EXPECT_TRUE(core.multicast_response(answers, T0 + milliseconds(999), true));  // probe defence
  EXPECT_TRUE(core.multicast_response(answers, T0 + milliseconds(2000), false));
}

TEST(ResponderCore, AnnouncementMarksRecordsAsMulticast) {
  ResponderCore core(records_for("pc"));
  DnsMessage a = core.announcement(T0);
  EXPECT_EQ(a.answers.size(), 4u);
  for (const auto& r : a.answers) EXPECT_EQ(r.cache_flush, r.type != dns_type::PTR) << describe_record(r);
  EXPECT_FALSE(core.multicast_response({core.records().ptr}, T0 + milliseconds(500), false));
}

TEST(ResponderCore, QuQuestionGetsUnicastOnlyIfMulticastRecently) {
  ResponderCore core(records_for("pc"));
  // Never multicast: answer by multicast so all caches learn it (RFC 6762 §5.4).
  auto cold = core.plan(query("pc._baton._tcp.local", dns_type::SRV, true), false, T0);
  EXPECT_FALSE(cold.unicast_reply);
  EXPECT_EQ(cold.multicast_answers.size(), 1u);
  core.announcement(T0);
  auto warm = core.plan(query("pc._baton._tcp.local", dns_type::SRV, true), false, T0 + seconds(1));
  ASSERT_TRUE(warm.unicast_reply);
  EXPECT_EQ(warm.unicast_reply->id, 0);
  EXPECT_TRUE(warm.unicast_reply->questions.empty());
  EXPECT_TRUE(warm.multicast_answers.empty());
  // SRV TTL 120 s: a quarter is 30 s; after that it goes multicast again.
  auto later = core.plan(query("pc._baton._tcp.local", dns_type::SRV, true), false, T0 + seconds(31));
  EXPECT_FALSE(later.unicast_reply);
}

TEST(ResponderCore, MissingTypeGetsNsec) {
  ResponderCore core(records_for("pc"));
  auto plan = core.plan(query("pc.local", dns_type::AAAA), true, T0);
  ASSERT_TRUE(plan.unicast_reply);
  ASSERT_EQ(plan.unicast_reply->answers.size(), 1u);
  const auto& nsec = plan.unicast_reply->answers[0];
  EXPECT_EQ(nsec.type, dns_type::NSEC);
  EXPECT_EQ(std::get<NsecRecordData>(nsec.data).types, std::vector<std::uint16_t>{dns_type::A});
}

TEST(ResponderCore, ServiceEnumerationIsAnswered) {
  ResponderCore core(records_for("pc"));
  auto plan = core.plan(query("_services._dns-sd._udp.local", dns_type::PTR), true, T0);
  ASSERT_TRUE(plan.unicast_reply);
  EXPECT_EQ(std::get<PtrRecordData>(plan.unicast_reply->answers.at(0).data).target, baton_service_name());
}

TEST(ResponderCore, OwnProbeIsIdenticalOthersWinOrLose) {
  ResponderCore core(records_for("pc", 7000));
  EXPECT_EQ(core.contest_probe(core.probe()), ResponderCore::ProbeContest::identical);
  ResponderCore lower(records_for("pc", 6999));
  ResponderCore higher(records_for("pc", 7001));
  // SRV rdata compares priority, weight, then port: the higher port wins.
  EXPECT_EQ(core.contest_probe(lower.probe()), ResponderCore::ProbeContest::we_win);
  EXPECT_EQ(core.contest_probe(higher.probe()), ResponderCore::ProbeContest::we_lose);
  ResponderCore other_name(records_for("laptop"));
  EXPECT_EQ(core.contest_probe(other_name.probe()), ResponderCore::ProbeContest::not_about_us);
}

TEST(ResponderCore, ProbeForOurNameIsDefendedAtOnce) {
  ResponderCore core(records_for("pc", 7000));
  core.announcement(T0);
  ResponderCore intruder(records_for("pc", 7001));
  auto plan = core.plan(intruder.probe(), false, T0 + milliseconds(100));
  EXPECT_TRUE(plan.probe_defence);
  EXPECT_EQ(plan.multicast_delay, milliseconds(0));
  EXPECT_TRUE(has(plan.multicast_answers, dns_type::SRV));
  // Our own probe echoed back is not answered.
  auto own = core.plan(core.probe(), false, T0);
  EXPECT_FALSE(own.probe_defence);
  EXPECT_TRUE(own.multicast_answers.empty());
}

TEST(ResponderCore, ConflictingResponseIsDetectedButOwnEchoIsNot) {
  ResponderCore core(records_for("pc", 7000));
  EXPECT_FALSE(core.is_conflicting_response(core.announcement(T0)));
  ResponderCore same_name(records_for("pc", 7001));
  EXPECT_TRUE(core.is_conflicting_response(same_name.announcement(T0)));
  EXPECT_FALSE(core.is_conflicting_response(same_name.goodbye()));  // TTL 0 claims nothing
  ResponderCore other(records_for("laptop", 7001));
  EXPECT_FALSE(core.is_conflicting_response(other.announcement(T0)));
}

TEST(ResponderCore, GoodbyeHasZeroTtls) {
  ResponderCore core(records_for("pc"));
  DnsMessage g = core.goodbye();
  ASSERT_EQ(g.answers.size(), 4u);
  for (const auto& r : g.answers) EXPECT_EQ(r.ttl, 0u);
  // And it survives the wire.
  auto parsed = parse_dns_message(write_dns_message(g));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed.message().answers.size(), 4u);
}

}  // namespace
}  // namespace baton::discovery
