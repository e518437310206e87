// Baton service <-> DNS-SD records: names, TXT encoding/validation, escaping.
#include <gtest/gtest.h>

#include "discovery/service_record.h"

namespace baton::discovery {
namespace {

NodeAttributes sample_attributes() {
  NodeAttributes a;
  a.node_id = "3f2a-9c";
  a.kind = "phone";
  a.memory_mib = 6144;
  a.compute_gflops = 12.5;
  a.bandwidth_gbps = 0.1;
  a.model_hash = "sha256:abcd";
  a.role = NodeRole::node;
  return a;
}

TEST(ServiceRecord, NamesFollowDnsSdLayout) {
  EXPECT_EQ(baton_service_name().to_string(), "_baton._tcp.local");
  DnsName instance = instance_name("Anna's phone.v2");
  ASSERT_EQ(instance.labels.size(), 4u);
  EXPECT_EQ(instance.labels[0], "Anna's phone.v2");  // one label, dot and space kept
  EXPECT_EQ(instance.to_string(), "Anna's phone\\.v2._baton._tcp.local");
  EXPECT_EQ(node_name_of_instance(instance), "Anna's phone.v2");
  EXPECT_FALSE(node_name_of_instance(*DnsName::parse("x._http._tcp.local")));
  EXPECT_FALSE(node_name_of_instance(*DnsName::parse("a.b._baton._tcp.local")));
  EXPECT_EQ(host_name_for("Anna's phone.v2").to_string(), "Anna-s-phone-v2.local");
  EXPECT_EQ(host_label_for("   "), "baton-node");
  EXPECT_EQ(host_label_for(std::string(80, 'x')).size(), 63u);
}

TEST(ServiceRecord, TxtRoundTripsAndStartsWithTxtvers) {
  NodeAttributes a = sample_attributes();
  TxtRecordData txt = encode_txt(a);
  ASSERT_FALSE(txt.strings.empty());
  EXPECT_EQ(txt.strings.front(), "txtvers=1");
  auto back = decode_txt(txt);
  ASSERT_TRUE(back.attributes) << back.error;
  EXPECT_EQ(*back.attributes, a);
  std::size_t total = 0;
  for (auto& s : txt.strings) total += 1 + s.size();
  EXPECT_LT(total, kMaxBatonTxtSize);
}

TEST(ServiceRecord, TxtCarriesWhatWasDetectedAndHeatAndBattery) {
  NodeAttributes a = sample_attributes();
  a.detected = "mem,gflops,bw";
  a.temperature_c = 71;
  a.battery_percent = 54;
  a.charging = true;
  a.throttled = true;
  auto back = decode_txt(encode_txt(a));
  ASSERT_TRUE(back.attributes) << back.error;
  EXPECT_EQ(*back.attributes, a);
  for (const char* bad : {"temp=hot", "temp=400", "battery=101", "battery=-3", "detected=MEM;rm"}) {
    TxtRecordData txt{{"txtvers=1", "proto=1", "id=a", "role=node", bad}};
    EXPECT_FALSE(decode_txt(txt).attributes) << bad;
  }
}

TEST(ServiceRecord, TxtWithLongestAllowedValuesStaysUnder1300Bytes) {
  NodeAttributes a = sample_attributes();
  a.node_id = std::string(64, 'i');
  a.kind = std::string(32, 'k');
  a.model_hash = std::string(128, 'm');
  a.memory_mib = std::uint64_t{1} << 40;
  a.compute_gflops = 123456789.123456;
  a.detected = "mem,gflops,bw,kind";
  a.temperature_c = -100;
  a.battery_percent = 100;
  a.charging = a.throttled = true;
  ASSERT_EQ(validate_attributes(a), "");
  std::size_t total = 0;
  for (auto& s : encode_txt(a).strings) total += 1 + s.size();
  EXPECT_LT(total, kMaxBatonTxtSize);
}

TEST(ServiceRecord, TxtParsingIgnoresUnknownKeysAndUsesFirstOccurrence) {
  TxtRecordData txt{{"TXTVERS=1", "proto=1", "id=a", "id=b", "role=coordinator", "colour=blue", "flag", "=x", ""}};
  auto r = decode_txt(txt);
  ASSERT_TRUE(r.attributes) << r.error;
  EXPECT_EQ(r.attributes->node_id, "a");
  EXPECT_EQ(r.attributes->role, NodeRole::coordinator);
  EXPECT_EQ(r.attributes->kind, "unknown");
  EXPECT_EQ(r.attributes->memory_mib, 0u);
}

TEST(ServiceRecord, TxtWithBadValuesIsRefusedWithAReason) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"proto=1", "id=a", "role=node"}, "txtvers"},
      {{"txtvers=2", "proto=1", "id=a", "role=node"}, "txtvers"},
      {{"txtvers=1", "proto=x", "id=a", "role=node"}, "proto"},
      {{"txtvers=1", "proto=1", "role=node"}, "id"},
      {{"txtvers=1", "proto=1", "id=a"}, "role"},
      {{"txtvers=1", "proto=1", "id=a", "role=boss"}, "role"},
      {{"txtvers=1", "proto=1", "id=a", "role=node", "mem=12x"}, "mem"},
      {{"txtvers=1", "proto=1", "id=a", "role=node", "mem=-5"}, "mem"},
      {{"txtvers=1", "proto=1", "id=a", "role=node", "mem=99999999999999999999999"}, "mem"},
      {{"txtvers=1", "proto=1", "id=a", "role=node", "gflops=nan"}, "gflops"},
      {{"txtvers=1", "proto=1", "id=a", "role=node", "gflops=inf"}, "gflops"},
      {{"txtvers=1", "proto=1", "id=a", "role=node", "gflops=-1"}, "gflops"},
      {{"txtvers=1", "proto=1", "id=a", "role=node", "bw=1e12"}, "bw"},
      {{"txtvers=1", "proto=1", "id=a b", "role=node"}, "node id"},
  };
  for (const auto& [strings, mentions] : cases) {
    auto r = decode_txt(TxtRecordData{strings});
    EXPECT_FALSE(r.attributes) << strings.back();
    EXPECT_NE(r.error.find(mentions), std::string::npos) << "error '" << r.error << "' should mention " << mentions;
  }
}

TEST(ServiceRecord, AdvertValidation) {
  ServiceAdvert ad{"node", 7000, sample_attributes()};
  EXPECT_EQ(validate_advert(ad), "");
  ad.port = 0;
  EXPECT_NE(validate_advert(ad), "");
  ad.port = 1;
  ad.node_name = std::string(64, 'n');
  EXPECT_NE(validate_advert(ad).find("63"), std::string::npos);
  ad.node_name = "";
  EXPECT_NE(validate_advert(ad), "");
}

TEST(ServiceRecord, BuildsRecordsWithRfcTtlsAndFlushBits) {
  ServiceAdvert ad{"pc 1", 7001, sample_attributes()};
  auto r = build_service_records(ad, {127, 0, 0, 1}, RecordTtls{});
  EXPECT_EQ(r.ptr.ttl, 4500u);
  EXPECT_FALSE(r.ptr.cache_flush);  // shared record
  EXPECT_EQ(r.srv.ttl, 120u);
  EXPECT_TRUE(r.srv.cache_flush);
  EXPECT_EQ(r.txt.ttl, 4500u);
  EXPECT_EQ(r.a.ttl, 120u);
  EXPECT_EQ(std::get<SrvRecordData>(r.srv.data).port, 7001);
  EXPECT_EQ(std::get<SrvRecordData>(r.srv.data).target.to_string(), "pc-1.local");
  EXPECT_EQ(std::get<PtrRecordData>(r.ptr.data).target, instance_name("pc 1"));
  auto short_ttls = build_service_records(ad, {127, 0, 0, 1}, RecordTtls::uniform(3));
  EXPECT_EQ(short_ttls.ptr.ttl, 3u);
  EXPECT_EQ(short_ttls.a.ttl, 3u);
}

TEST(ServiceRecord, ConflictNamesStayWithinOneLabel) {
  EXPECT_EQ(next_conflict_name("pc", 2), "pc (2)");
  std::string long_name(63, 'x');
  auto renamed = next_conflict_name(long_name, 12);
  EXPECT_LE(renamed.size(), 63u);
  EXPECT_EQ(renamed.substr(renamed.size() - 5), " (12)");
  // A multi-byte UTF-8 character at the cut is dropped whole.
  std::string utf8 = std::string(58, 'a') + "\xC3\xA9\xC3\xA9";  // 62 bytes; cut at 59
  EXPECT_EQ(next_conflict_name(utf8, 2), std::string(58, 'a') + " (2)");
  std::string fits = std::string(57, 'a') + "\xC3\xA9\xC3\xA9";  // cut at 59 keeps one é
  EXPECT_EQ(next_conflict_name(fits, 2), std::string(57, 'a') + "\xC3\xA9 (2)");
}

}  // namespace
}  // namespace baton::discovery
