#pragma once
// What an mDNS responder says and when, without sockets or clocks (RFC 6762 §6-§9).
// MdnsResponder wraps this with a socket, timers and the probe/announce schedule.
#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "discovery/dns_message.h"
#include "discovery/peer_table.h"
#include "discovery/service_record.h"

namespace baton::discovery {

// RFC 6762 §6.7: legacy unicast answers carry TTLs of at most ten seconds.
inline constexpr std::uint32_t kLegacyUnicastMaxTtl = 10;

class ResponderCore {
 public:
  explicit ResponderCore(ServiceRecords records, std::uint32_t seed = 1);

  void set_records(ServiceRecords records);
  const ServiceRecords& records() const { return records_; }

  struct Plan {
    // Send at once to the querier's address and port: a legacy unicast reply (source port
    // not 5353), or answers to QU questions that were multicast recently.
    std::optional<DnsMessage> unicast_reply;
    // Answers to multicast after `multicast_delay` (pass to multicast_response then).
    std::vector<ResourceRecord> multicast_answers;
    std::chrono::milliseconds multicast_delay{0};
    // The query was someone else's probe for one of our names: answer at once and
    // regardless of the one-second rate limit (RFC 6762 §6, §8.1).
    bool probe_defence = false;
  };
  Plan plan(const DnsMessage& query, bool legacy_unicast, TimePoint now);

  // The multicast response carrying `answers` plus their additional records
  // (RFC 6763 §12). Records multicast less than a second ago are left out unless
  // `bypass_rate_limit`. Marks what it returns as multicast at `now`; nullopt when
  // nothing is left to send.
  std::optional<DnsMessage> multicast_response(const std::vector<ResourceRecord>& answers, TimePoint now,
                                               bool bypass_rate_limit);

  DnsMessage announcement(TimePoint now);  // every record, cache-flush on unique ones
  DnsMessage goodbye() const;              // PTR, SRV, TXT, A with TTL 0
  DnsMessage probe() const;                // ANY questions for our names, proposed records

  // A response claiming one of our unique names (SRV/TXT of the instance, A of the host)
  // with different data: someone else uses the name (RFC 6762 §9).
  bool is_conflicting_response(const DnsMessage& response) const;

  // Simultaneous probe tie-break (RFC 6762 §8.2): compare the proposed records.
  enum class ProbeContest { not_about_us, identical, we_win, we_lose };
  ProbeContest contest_probe(const DnsMessage& probe) const;

 private:
  std::vector<ResourceRecord> answers_for(const Question& q) const;
  std::vector<ResourceRecord> additionals_for(const std::vector<ResourceRecord>& answers) const;
  bool owns_name(const DnsName& name) const;
  bool multicast_recently(const ResourceRecord& r, TimePoint now, std::chrono::milliseconds window) const;
  static std::string record_key(const ResourceRecord& r);

  ServiceRecords records_;
  std::mt19937 rng_;
  std::map<std::string, TimePoint> last_multicast_;  // by name+type
};

}  // namespace baton::discovery
