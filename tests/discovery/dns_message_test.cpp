// DNS codec: hand-built packets (independent of the writer), every record type round-trip,
// name compression, a corpus of broken packets each with its exact reason, and a bounded
// random-mutation run.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>

#include "discovery/dns_message.h"
#include "raw_packet.h"

namespace baton::discovery {
namespace {

using testing::RawPacket;

DnsName N(const char* text) { return *DnsName::parse(text); }

ResourceRecord rec(const char* name, std::uint16_t type, std::uint32_t ttl, RecordData data,
                   bool flush = false) {
  ResourceRecord r;
  r.name = N(name);
  r.type = type;
  r.ttl = ttl;
  r.cache_flush = flush;
  r.data = std::move(data);
  return r;
}

void expect_same_records(const std::vector<ResourceRecord>& a, const std::vector<ResourceRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].same_record(b[i])) << describe_record(a[i]) << " vs " << describe_record(b[i]);
    EXPECT_EQ(a[i].ttl, b[i].ttl);
    EXPECT_EQ(a[i].cache_flush, b[i].cache_flush);
  }
}

void expect_same_message(const DnsMessage& a, const DnsMessage& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.flags, b.flags);
  ASSERT_EQ(a.questions.size(), b.questions.size());
  for (std::size_t i = 0; i < a.questions.size(); ++i) {
    EXPECT_EQ(a.questions[i].name, b.questions[i].name);
    EXPECT_EQ(a.questions[i].type, b.questions[i].type);
    EXPECT_EQ(a.questions[i].qclass, b.questions[i].qclass);
    EXPECT_EQ(a.questions[i].unicast_response, b.questions[i].unicast_response);
  }
  expect_same_records(a.answers, b.answers);
  expect_same_records(a.authorities, b.authorities);
  expect_same_records(a.additionals, b.additionals);
}

TEST(DnsName, ParsesEscapesAndPrintsThemBack) {
  auto n = DnsName::parse("my\\.node\\032x._baton._tcp.local.");
  ASSERT_TRUE(n);
  ASSERT_EQ(n->labels.size(), 4u);
  EXPECT_EQ(n->labels[0], "my.node x");
  EXPECT_EQ(n->labels[3], "local");
  EXPECT_EQ(n->to_string(), "my\\.node x._baton._tcp.local");
  EXPECT_EQ(*DnsName::parse(n->to_string()), *n);
  EXPECT_EQ(n->wire_length(), 1u + 10 + 7 + 5 + 6);
}

TEST(DnsName, RejectsBadPresentation) {
  EXPECT_FALSE(DnsName::parse("a..b"));
  EXPECT_FALSE(DnsName::parse(".a"));
  EXPECT_FALSE(DnsName::parse("a\\"));
  EXPECT_FALSE(DnsName::parse("a\\25"));
  EXPECT_FALSE(DnsName::parse("a\\256"));
  EXPECT_FALSE(DnsName::parse(std::string(64, 'x') + ".local"));
  EXPECT_TRUE(DnsName::parse(std::string(63, 'x') + ".local"));
  // 4 labels of 63 bytes = 4*64 + 1 = 257 wire bytes: too long; 3 + a 61-byte label fits 255.
  std::string l63(63, 'a');
  EXPECT_FALSE(DnsName::parse(l63 + "." + l63 + "." + l63 + "." + l63));
  EXPECT_TRUE(DnsName::parse(l63 + "." + l63 + "." + l63 + "." + std::string(61, 'a')));
}

TEST(DnsName, ComparesCaseInsensitively) {
  EXPECT_EQ(N("Node._BATON._tcp.Local"), N("node._baton._tcp.local"));
  EXPECT_FALSE(N("node1.local") == N("node2.local"));
  EXPECT_TRUE(N("x._baton._tcp.local").ends_with(N("_Baton._tcp.local")));
  EXPECT_FALSE(N("local").ends_with(N("_tcp.local")));
}

// A response laid out by hand, with compression pointers the way Apple and Avahi emit them.
TEST(DnsParse, HandBuiltResponseWithCompression) {
  RawPacket p;
  p.header(0, 0x8400, 0, 4);
  const std::uint16_t service_at = static_cast<std::uint16_t>(p.size());  // 12
  p.name("_baton._tcp.local").u16(dns_type::PTR).u16(1).u32(4500);
  // rdata: "n1" + pointer to the service name
  p.u16(2 + 1 + 2).u8(2).text("n1").pointer(service_at);
  const std::uint16_t instance_at = static_cast<std::uint16_t>(p.size() - 5);
  // SRV, owner = pointer to the instance name inside the PTR rdata, target compressed too
  p.pointer(instance_at).u16(dns_type::SRV).u16(0x8001).u32(120);
  const std::uint16_t srv_rdata_at = static_cast<std::uint16_t>(p.size() + 2);
  p.u16(6 + 1 + 2 + 2).u16(0).u16(0).u16(7000).u8(2).text("h1").pointer(service_at + 12);  // "local"
  const std::uint16_t host_at = static_cast<std::uint16_t>(srv_rdata_at + 6);
  p.pointer(instance_at).u16(dns_type::TXT).u16(0x8001).u32(4500);
  p.u16(1 + 9 + 1 + 4).u8(9).text("txtvers=1").u8(4).text("id=x");
  p.pointer(host_at).u16(dns_type::A).u16(0x8001).u32(120).u16(4).raw({127, 0, 0, 7});

  auto result = parse_dns_message(p.bytes);
  ASSERT_TRUE(result) << result.failure().describe();
  const DnsMessage& m = result.message();
  EXPECT_TRUE(m.is_response());
  ASSERT_EQ(m.answers.size(), 4u);
  EXPECT_EQ(m.answers[0].name, N("_baton._tcp.local"));
  EXPECT_FALSE(m.answers[0].cache_flush);
  EXPECT_EQ(std::get<PtrRecordData>(m.answers[0].data).target, N("n1._baton._tcp.local"));
  EXPECT_EQ(m.answers[1].name, N("n1._baton._tcp.local"));
  EXPECT_TRUE(m.answers[1].cache_flush);
  EXPECT_EQ(m.answers[1].rclass, kClassIn);
  const auto& srv = std::get<SrvRecordData>(m.answers[1].data);
  EXPECT_EQ(srv.port, 7000);
  EXPECT_EQ(srv.target, N("h1.local"));
  const auto& txt = std::get<TxtRecordData>(m.answers[2].data);
  EXPECT_EQ(txt.strings, (std::vector<std::string>{"txtvers=1", "id=x"}));
  EXPECT_EQ(m.answers[3].name, N("h1.local"));
  EXPECT_EQ(std::get<ARecordData>(m.answers[3].data).address, (std::array<std::uint8_t, 4>{127, 0, 0, 7}));
  EXPECT_EQ(m.answers[3].ttl, 120u);
}

TEST(DnsWrite, QueryBytesMatchHandLayout) {
  DnsMessage q;
  q.questions.push_back(Question{N("_baton._tcp.local"), dns_type::PTR, kClassIn, true});
  q.questions.push_back(Question{N("n1._baton._tcp.local"), dns_type::SRV, kClassIn, false});
  RawPacket expected;
  expected.header(0, 0, 2, 0).name("_baton._tcp.local").u16(12).u16(0x8001);
  expected.u8(2).text("n1").pointer(12).u16(33).u16(1);
  EXPECT_EQ(write_dns_message(q), expected.bytes);
}

TEST(DnsWrite, CompressesRepeatedSuffixes) {
  DnsMessage m;
  m.flags = kFlagResponse | kFlagAuthoritative;
  m.answers.push_back(rec("_baton._tcp.local", dns_type::PTR, 4500, PtrRecordData{N("a._baton._tcp.local")}));
  m.answers.push_back(rec("a._baton._tcp.local", dns_type::TXT, 4500, TxtRecordData{{"k=v"}}, true));
  m.answers.push_back(rec("a.local", dns_type::A, 120, ARecordData{{10, 0, 0, 1}}, true));
  auto bytes = write_dns_message(m);
  // Hand count: header 12; PTR owner 19 + 10 fixed + rdata (1+1 + pointer 2) = 33;
  // TXT owner = pointer 2 + 10 + 4 = 16; A owner "a" + pointer to "local" = 4, + 10 + 4 = 18.
  EXPECT_EQ(bytes.size(), 12u + 33 + 16 + 18);
  // The PTR target's suffix points back to offset 12, the service name.
  EXPECT_EQ(bytes[12 + 19 + 10 + 2], 0xC0);
  EXPECT_EQ(bytes[12 + 19 + 10 + 3], 12);
  auto parsed = parse_dns_message(bytes);
  ASSERT_TRUE(parsed) << parsed.failure().describe();
  expect_same_message(parsed.message(), m);
}

TEST(DnsRoundTrip, EveryRecordTypeWithFlushAndQuBits) {
  DnsMessage m;
  m.id = 0xBEEF;
  m.flags = kFlagResponse | kFlagAuthoritative;
  m.questions.push_back(Question{N("node\\.1._baton._tcp.local"), dns_type::ANY, kClassIn, true});
  m.answers.push_back(rec("_baton._tcp.local", dns_type::PTR, 4500, PtrRecordData{N("node\\.1._baton._tcp.local")}));
  m.answers.push_back(rec("node\\.1._baton._tcp.local", dns_type::SRV, 120,
                          SrvRecordData{1, 2, 7001, N("node-1.local")}, true));
  m.answers.push_back(rec("node\\.1._baton._tcp.local", dns_type::TXT, 4500,
                          TxtRecordData{{"txtvers=1", "", std::string(255, 'z'), "a=b=c"}}, true));
  m.authorities.push_back(rec("node-1.local", dns_type::A, 120, ARecordData{{192, 0, 2, 1}}, true));
  AaaaRecordData v6;
  for (int i = 0; i < 16; ++i) v6.address[i] = static_cast<std::uint8_t>(i * 17);
  m.additionals.push_back(rec("node-1.local", dns_type::AAAA, 120, v6, true));
  m.additionals.push_back(rec("node-1.local", dns_type::NSEC, 120,
                              NsecRecordData{N("node-1.local"), {dns_type::A, dns_type::AAAA, 300, 1234}}, true));
  m.additionals.push_back(rec("node-1.local", 99, 7, OpaqueRecordData{{1, 2, 3, 0, 255}}));
  auto bytes = write_dns_message(m);
  auto parsed = parse_dns_message(bytes);
  ASSERT_TRUE(parsed) << parsed.failure().describe();
  expect_same_message(parsed.message(), m);
  EXPECT_EQ(std::get<NsecRecordData>(parsed.message().additionals[1].data).types,
            (std::vector<std::uint16_t>{1, 28, 300, 1234}));
}

TEST(DnsRoundTrip, NsecBitmapMatchesRfcExample) {
  // RFC 4034 §4.3 style: types A(1) and AAAA(28) in window 0 -> bitmap length 4:
  // 0x40 (bit 1), 0, 0, 0x08 (bit 28).
  DnsMessage m;
  m.answers.push_back(rec("h.local", dns_type::NSEC, 120, NsecRecordData{N("h.local"), {28, 1}}));
  auto bytes = write_dns_message(m);
  std::vector<std::uint8_t> tail(bytes.end() - 6, bytes.end());
  EXPECT_EQ(tail, (std::vector<std::uint8_t>{0, 4, 0x40, 0, 0, 0x08}));
}

TEST(DnsRoundTrip, EmptyTxtMeansOneEmptyString) {
  RawPacket p;
  p.header(0, 0x8400, 0, 1).name("a.local").u16(dns_type::TXT).u16(1).u32(10).u16(0);
  auto parsed = parse_dns_message(p.bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(std::get<TxtRecordData>(parsed.message().answers[0].data).strings, std::vector<std::string>{""});
}

TEST(DnsWrite, RefusesOversizedTxtString) {
  DnsMessage m;
  m.answers.push_back(rec("a.local", dns_type::TXT, 10, TxtRecordData{{std::string(256, 'x')}}));
  EXPECT_THROW(write_dns_message(m), std::invalid_argument);
}

// ---- broken packets: each must fail with exactly this reason ----

struct BrokenCase {
  const char* what;
  std::vector<std::uint8_t> bytes;
  DnsParseError expected;
};

std::vector<BrokenCase> broken_corpus() {
  std::vector<BrokenCase> cases;
  auto add = [&](const char* what, const RawPacket& p, DnsParseError e) { cases.push_back({what, p.bytes, e}); };

  add("empty packet", RawPacket{}, DnsParseError::truncated_header);
  add("11-byte header", RawPacket{}.raw({0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0}), DnsParseError::truncated_header);
  add("one question, no bytes", RawPacket{}.header(0, 0, 1, 0), DnsParseError::count_exceeds_packet);
  add("65535 answers in a small packet",
      RawPacket{}.header(0, 0x8400, 0, 65535).name("a.local").u16(1).u16(1).u32(1).u16(4).raw({1, 2, 3, 4}),
      DnsParseError::count_exceeds_packet);
  add("label runs past the end", RawPacket{}.header(0, 0, 1, 0).raw({5, 'a', 'b', 0, 0}),
      DnsParseError::truncated_name);
  add("name without root byte", RawPacket{}.header(0, 0, 1, 0).raw({1, 'a', 1, 'b', 1}),
      DnsParseError::truncated_name);
  {
    RawPacket p;
    p.header(0, 0, 1, 0).u8(64).text(std::string(64, 'a')).u8(0).u16(1).u16(1);
    add("64-byte label", p, DnsParseError::label_too_long);
  }
  add("0x80 label type", RawPacket{}.header(0, 0, 1, 0).raw({0x80, 'a', 0, 0, 1, 0, 1}),
      DnsParseError::bad_label_type);
  {
    RawPacket p;
    p.header(0, 0, 1, 0);
    for (int i = 0; i < 5; ++i) p.u8(63).text(std::string(63, 'a'));
    p.u8(0).u16(1).u16(1);
    add("321-byte name", p, DnsParseError::name_too_long);
  }
  add("pointer to itself", RawPacket{}.header(0, 0, 1, 0).pointer(12).u16(1).u16(1),
      DnsParseError::pointer_forward);
  add("pointer forward", RawPacket{}.header(0, 0, 1, 0).pointer(17).u16(1).u16(1).name("a"),
      DnsParseError::pointer_forward);
  add("pointer past the end", RawPacket{}.header(0, 0, 1, 0).pointer(0x3FFF).u16(1).u16(1),
      DnsParseError::pointer_out_of_range);
  // "ab" at 12, then a pointer at 15 back to 12: 12 -> 15 -> 12 -> ... never reaches a root.
  add("pointer loop", RawPacket{}.header(0, 0, 1, 0).u8(2).text("ab").pointer(12).u16(1).u16(1),
      DnsParseError::pointer_loop);
  {
    // Answer 1 (type 99) carries opaque rdata at offset 25 that looks like a name: "b" then
    // a pointer at 27 to 30. Answer 2's owner points back to 25: the first hop is fine, the
    // second one points forward from inside the chain.
    RawPacket p;
    p.header(0, 0x8400, 0, 2).name("a").u16(99).u16(1).u32(5).u16(4).raw({1, 'b', 0xC0, 30});
    p.pointer(25).u16(99).u16(1).u32(5).u16(0);
    add("forward pointer inside a chain", p, DnsParseError::pointer_forward);
  }
  {
    // Same layout, but the second hop goes back to 25 again: a loop through backward pointers.
    RawPacket p;
    p.header(0, 0x8400, 0, 2).name("a").u16(99).u16(1).u32(5).u16(4).raw({1, 'b', 0xC0, 25});
    p.pointer(25).u16(99).u16(1).u32(5).u16(0);
    add("loop inside a chain", p, DnsParseError::pointer_loop);
  }
  add("question fields cut off", RawPacket{}.header(0, 0, 1, 0).name("a").u16(1),
      DnsParseError::truncated_question);
  add("record fields cut off", RawPacket{}.header(0, 0x8400, 0, 1).name("a").u16(1).u16(1).u32(5),
      DnsParseError::truncated_record);
  add("rdlength past the end",
      RawPacket{}.header(0, 0x8400, 0, 1).name("a").u16(dns_type::A).u16(1).u32(5).u16(4).raw({1, 2}),
      DnsParseError::rdata_out_of_range);
  add("A record of 5 bytes",
      RawPacket{}.header(0, 0x8400, 0, 1).name("a").u16(dns_type::A).u16(1).u32(5).u16(5).raw({1, 2, 3, 4, 5}),
      DnsParseError::bad_address_length);
  add("AAAA record of 4 bytes",
      RawPacket{}.header(0, 0x8400, 0, 1).name("a").u16(dns_type::AAAA).u16(1).u32(5).u16(4).raw({1, 2, 3, 4}),
      DnsParseError::bad_address_length);
  add("PTR rdata longer than its name",
      RawPacket{}.header(0, 0x8400, 0, 1).name("a").u16(dns_type::PTR).u16(1).u32(5).u16(4).raw({1, 'b', 0, 9}),
      DnsParseError::rdata_length_mismatch);
  add("PTR name runs past its rdata",
      RawPacket{}.header(0, 0x8400, 0, 1).name("a").u16(dns_type::PTR).u16(1).u32(5).u16(2).raw({1, 'b', 0, 0}),
      DnsParseError::truncated_name);
  add("SRV of 3 bytes",
      RawPacket{}.header(0, 0x8400, 0, 1).name("a").u16(dns_type::SRV).u16(1).u32(5).u16(3).raw({0, 0, 0}),
      DnsParseError::rdata_length_mismatch);
  add("TXT string past its rdata",
      RawPacket{}.header(0, 0x8400, 0, 1).name("a").u16(dns_type::TXT).u16(1).u32(5).u16(3).raw({5, 'a', 'b'}),
      DnsParseError::txt_string_overflow);
  {
    RawPacket p;
    p.header(0, 0x8400, 0, 1).name("a").u16(dns_type::TXT).u16(1).u32(5).u16(9000);
    for (int i = 0; i < 9000 / 250; ++i) p.u8(249).text(std::string(249, 'k'));
    add("TXT of 9000 bytes", p, DnsParseError::txt_too_large);
  }
  add("NSEC window of length 0",
      RawPacket{}.header(0, 0x8400, 0, 1).name("a").u16(dns_type::NSEC).u16(1).u32(5).u16(5).raw({1, 'a', 0, 0, 0}),
      DnsParseError::bad_nsec_bitmap);
  {
    RawPacket p;
    p.header(0, 0x8400, 0, 1).name("a").u16(dns_type::NSEC).u16(1).u32(5).u16(3 + 2 + 33).raw({1, 'a', 0, 0, 33});
    for (int i = 0; i < 33; ++i) p.u8(0xFF);
    add("NSEC bitmap of 33 bytes", p, DnsParseError::bad_nsec_bitmap);
  }
  add("NSEC windows out of order",
      RawPacket{}.header(0, 0x8400, 0, 1).name("a").u16(dns_type::NSEC).u16(1).u32(5).u16(9)
          .raw({1, 'a', 0, 1, 1, 0x40, 0, 1, 0x40}),
      DnsParseError::bad_nsec_bitmap);
  {
    RawPacket p;
    p.bytes.assign(65536, 0);
    add("65536-byte packet", p, DnsParseError::packet_too_large);
  }
  return cases;
}

TEST(DnsParse, BrokenCorpusFailsWithTheExpectedReason) {
  for (const auto& c : broken_corpus()) {
    auto result = parse_dns_message(c.bytes);
    ASSERT_FALSE(result) << c.what << ": parsed although broken";
    EXPECT_EQ(result.failure().error, c.expected)
        << c.what << ": got '" << result.failure().describe() << "', expected '" << to_string(c.expected) << "'";
    EXPECT_FALSE(result.failure().describe().empty());
  }
}

TEST(DnsParse, LimitsThemselvesAreAccepted) {
  RawPacket p;
  p.header(0, 0x8400, 0, 1).name("a").u16(dns_type::TXT).u16(1).u32(5).u16(8900);
  std::size_t left = 8900;
  while (left > 0) {
    std::size_t n = std::min<std::size_t>(255, left - 1);
    p.u8(static_cast<std::uint8_t>(n)).text(std::string(n, 'v'));
    left -= n + 1;
  }
  auto r = parse_dns_message(p.bytes);
  ASSERT_TRUE(r) << r.failure().describe();
  RawPacket q;
  q.header(0, 0, 1, 0);
  for (int i = 0; i < 3; ++i) q.u8(63).text(std::string(63, 'a'));
  q.u8(61).text(std::string(61, 'b')).u8(0).u16(1).u16(1);  // exactly 255 bytes
  auto r2 = parse_dns_message(q.bytes);
  ASSERT_TRUE(r2) << r2.failure().describe();
  EXPECT_EQ(r2.message().questions[0].name.wire_length(), 255u);
}

// ---- bounded random mutations of valid packets ----

std::vector<std::vector<std::uint8_t>> seed_packets() {
  DnsMessage response;
  response.flags = kFlagResponse | kFlagAuthoritative;
  response.answers.push_back(rec("_baton._tcp.local", dns_type::PTR, 4500, PtrRecordData{N("n 1._baton._tcp.local")}));
  response.additionals.push_back(rec("n 1._baton._tcp.local", dns_type::SRV, 120, SrvRecordData{0, 0, 7000, N("n-1.local")}, true));
  response.additionals.push_back(rec("n 1._baton._tcp.local", dns_type::TXT, 4500, TxtRecordData{{"txtvers=1", "id=abc", "mem=1024"}}, true));
  response.additionals.push_back(rec("n-1.local", dns_type::A, 120, ARecordData{{127, 0, 0, 1}}, true));
  response.additionals.push_back(rec("n-1.local", dns_type::NSEC, 120, NsecRecordData{N("n-1.local"), {dns_type::A}}, true));
  DnsMessage query;
  query.questions.push_back(Question{N("_baton._tcp.local"), dns_type::PTR, kClassIn, false});
  query.answers.push_back(rec("_baton._tcp.local", dns_type::PTR, 3000, PtrRecordData{N("n 1._baton._tcp.local")}));
  return {write_dns_message(response), write_dns_message(query)};
}

TEST(DnsParse, RandomMutationsNeverCrashAndRoundTripWhenAccepted) {
  std::mt19937 rng(20240501);  // fixed seed: the run is reproducible
  const auto seeds = seed_packets();
  int accepted = 0, rejected = 0;
  for (int iteration = 0; iteration < 4000; ++iteration) {
    std::vector<std::uint8_t> packet = seeds[iteration % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 5) {
        case 0: packet[rng() % packet.size()] = static_cast<std::uint8_t>(rng()); break;  // byte
        case 1: packet[rng() % packet.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
        case 2: packet.resize(rng() % (packet.size() + 1)); break;  // truncate
        case 3: packet.insert(packet.begin() + static_cast<std::ptrdiff_t>(rng() % (packet.size() + 1)),
                              static_cast<std::uint8_t>(rng())); break;
        case 4: if (packet.size() > 13) packet[12 + rng() % (packet.size() - 12)] = 0xC0; break;
      }
      if (packet.empty()) packet.push_back(0);
    }
    DnsParseResult result = parse_dns_message(packet);
    if (!result) {
      ++rejected;
      continue;
    }
    ++accepted;
    // Whatever the parser accepts must be writable and parse back to the same message.
    std::vector<std::uint8_t> rewritten;
    ASSERT_NO_THROW(rewritten = write_dns_message(result.message())) << "iteration " << iteration;
    auto again = parse_dns_message(rewritten);
    ASSERT_TRUE(again) << "iteration " << iteration << ": " << again.failure().describe();
    expect_same_message(again.message(), result.message());
    if (::testing::Test::HasFailure()) FAIL() << "iteration " << iteration;
  }
  // Both outcomes must actually occur, or the mutations are not exercising anything.
  EXPECT_GT(accepted, 100);
  EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace baton::discovery
