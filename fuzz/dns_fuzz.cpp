// libFuzzer target for the mDNS packet path (discovery/): the DNS parser, the writer
// round trip, TXT decoding, and the peer table and responder logic fed with whatever
// parses. Build: see fuzz/CMakeLists.txt; run e.g.
//   ./build-fuzz/fuzz/dns_fuzz -max_len=9000 CORPUS_DIR
#include <cstddef>
#include <cstdint>
#include <span>

#include "discovery/dns_message.h"
#include "discovery/peer_table.h"
#include "discovery/responder_core.h"
#include "discovery/service_record.h"

using namespace baton::discovery;

namespace {

ServiceRecords our_records() {
  NodeAttributes a;
  a.node_id = "fuzz";
  return build_service_records(ServiceAdvert{"fuzz", 7000, a}, {127, 0, 0, 1}, RecordTtls{});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  DnsParseResult result = parse_dns_message(std::span<const std::uint8_t>(data, size));
  if (!result) {
    (void)result.failure().describe();
    return 0;
  }
  const DnsMessage& message = result.message();

  // Anything the parser accepts must be writable and parse back with the same shape.
  const auto bytes = write_dns_message(message);
  DnsParseResult again = parse_dns_message(bytes);
  if (!again || again.message().questions.size() != message.questions.size() ||
      again.message().answers.size() != message.answers.size() ||
      again.message().authorities.size() != message.authorities.size() ||
      again.message().additionals.size() != message.additionals.size())
    __builtin_trap();

  for (const auto* section : {&message.answers, &message.authorities, &message.additionals})
    for (const auto& r : *section) {
      (void)describe_record(r);
      if (r.type == dns_type::TXT) (void)decode_txt(std::get<TxtRecordData>(r.data));
    }

  const TimePoint now = TimePoint{} + std::chrono::hours(1);
  PeerTable table;
  table.observe_response(message, now);
  (void)table.due_queries(now + std::chrono::seconds(100));
  (void)table.known_answers(now);
  (void)table.advance(now + std::chrono::hours(2));
  (void)table.snapshot();

  ResponderCore core(our_records());
  (void)core.plan(message, false, now);
  (void)core.plan(message, true, now);
  (void)core.is_conflicting_response(message);
  (void)core.contest_probe(message);
  return 0;
}
