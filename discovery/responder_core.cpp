#include "discovery/responder_core.h"

#include <algorithm>

namespace baton::discovery {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kRateLimit{1000};  // RFC 6762 §6: one multicast per record per second
constexpr std::uint16_t kFlagRecursionDesired = 0x0100;

bool known_to_querier(const ResourceRecord& ours, const DnsMessage& query) {
  // RFC 6762 §7.1: skip an answer the querier already holds with at least half our TTL.
  for (const auto& known : query.answers)
    if (known.same_record(ours) && std::uint64_t{known.ttl} * 2 >= ours.ttl) return true;
  return false;
}

bool contains(const std::vector<ResourceRecord>& list, const ResourceRecord& r) {
  return std::any_of(list.begin(), list.end(), [&](const ResourceRecord& x) { return x.same_record(r); });
}

void add_unique(std::vector<ResourceRecord>& list, const ResourceRecord& r) {
  if (!contains(list, r)) list.push_back(r);
}

bool is_shared(const ResourceRecord& r) { return r.type == dns_type::PTR; }

int compare_records(const ResourceRecord& a, const ResourceRecord& b) {
  if (a.rclass != b.rclass) return a.rclass < b.rclass ? -1 : 1;
  if (a.type != b.type) return a.type < b.type ? -1 : 1;
  auto ra = canonical_rdata(a), rb = canonical_rdata(b);
  if (ra == rb) return 0;
  return std::lexicographical_compare(ra.begin(), ra.end(), rb.begin(), rb.end()) ? -1 : 1;
}

void sort_canonically(std::vector<ResourceRecord>& list) {
  std::sort(list.begin(), list.end(),
            [](const ResourceRecord& a, const ResourceRecord& b) { return compare_records(a, b) < 0; });
}

}  // namespace

ResponderCore::ResponderCore(ServiceRecords records, std::uint32_t seed)
    : records_(std::move(records)), rng_(seed) {}

void ResponderCore::set_records(ServiceRecords records) {
  records_ = std::move(records);
  last_multicast_.clear();  // new data must go out at once
}

std::string ResponderCore::record_key(const ResourceRecord& r) {
  return r.name.key() + "/" + std::to_string(r.type);
}

bool ResponderCore::multicast_recently(const ResourceRecord& r, TimePoint now, milliseconds window) const {
  auto it = last_multicast_.find(record_key(r));
  return it != last_multicast_.end() && now - it->second < window;
}

bool ResponderCore::owns_name(const DnsName& name) const {
  return name == records_.srv.name || name == records_.a.name;
}

std::vector<ResourceRecord> ResponderCore::answers_for(const Question& q) const {
  std::vector<ResourceRecord> out;
  if (q.qclass != kClassIn && q.qclass != 255) return out;
  const bool any = q.type == dns_type::ANY;
  if (q.name == records_.ptr.name) {
    if (any || q.type == dns_type::PTR) out.push_back(records_.ptr);
  } else if (q.name == records_.enumeration_ptr.name) {
    if (any || q.type == dns_type::PTR) out.push_back(records_.enumeration_ptr);
  } else if (q.name == records_.srv.name) {
    if (any || q.type == dns_type::SRV) out.push_back(records_.srv);
    if (any || q.type == dns_type::TXT) out.push_back(records_.txt);
    if (out.empty()) out.push_back(records_.instance_nsec);  // negative answer (RFC 6762 §6.1)
  } else if (q.name == records_.a.name) {
    if (any || q.type == dns_type::A) out.push_back(records_.a);
    else out.push_back(records_.host_nsec);  // e.g. AAAA: we have none
  }
  return out;
}

std::vector<ResourceRecord> ResponderCore::additionals_for(const std::vector<ResourceRecord>& answers) const {
  std::vector<ResourceRecord> extra;
  for (const auto& r : answers) {
    if (r.type == dns_type::PTR && r.name == records_.ptr.name) {
      add_unique(extra, records_.srv);
      add_unique(extra, records_.txt);
      add_unique(extra, records_.a);
      add_unique(extra, records_.host_nsec);
    } else if (r.type == dns_type::SRV) {
      add_unique(extra, records_.a);
      add_unique(extra, records_.host_nsec);
    } else if (r.type == dns_type::A) {
      add_unique(extra, records_.host_nsec);
    }
  }
  std::vector<ResourceRecord> out;
  for (auto& r : extra)
    if (!contains(answers, r)) out.push_back(std::move(r));
  return out;
}

ResponderCore::Plan ResponderCore::plan(const DnsMessage& query, bool legacy_unicast, TimePoint now) {
  Plan plan;
  if (query.is_response() || query.opcode() != 0) return plan;

  if (legacy_unicast) {
    // RFC 6762 §6.7: a conventional DNS reply to the querier's port: same ID, the question
    // repeated, TTLs of at most 10 s and no cache-flush bits.
    std::vector<ResourceRecord> answers;
    for (const auto& q : query.questions)
      for (auto& r : answers_for(q)) add_unique(answers, r);
    if (answers.empty()) return plan;
    DnsMessage reply;
    reply.id = query.id;
    reply.flags = kFlagResponse | kFlagAuthoritative | (query.flags & kFlagRecursionDesired);
    reply.questions = query.questions;
    for (auto& q : reply.questions) q.unicast_response = false;
    reply.answers = answers;
    reply.additionals = additionals_for(answers);
    for (auto* section : {&reply.answers, &reply.additionals})
      for (auto& r : *section) {
        r.cache_flush = false;
        r.ttl = std::min(r.ttl, kLegacyUnicastMaxTtl);
      }
    plan.unicast_reply = std::move(reply);
    return plan;
  }

  if (!query.authorities.empty()) {
    ProbeContest contest = contest_probe(query);
    if (contest == ProbeContest::we_win || contest == ProbeContest::we_lose) {
      // Someone probes for a name we already hold: defend it at once (RFC 6762 §8.1).
      for (const auto& q : query.questions)
        for (auto& r : answers_for(q))
          if (r.type != dns_type::NSEC) add_unique(plan.multicast_answers, r);
      plan.probe_defence = !plan.multicast_answers.empty();
      return plan;
    }
    if (contest == ProbeContest::identical) return plan;  // our own probe, looped back
  }

  std::vector<ResourceRecord> unicast_answers;
  bool any_shared = false;
  for (const auto& q : query.questions) {
    for (auto& r : answers_for(q)) {
      if (known_to_querier(r, query)) continue;
      // QU: unicast if we multicast this record within a quarter of its TTL, else
      // multicast so every cache on the link stays fresh (RFC 6762 §5.4).
      const auto quarter_ttl = milliseconds(std::uint64_t{r.ttl} * 250);
      if (q.unicast_response && multicast_recently(r, now, quarter_ttl)) {
        add_unique(unicast_answers, r);
      } else {
        any_shared = any_shared || is_shared(r);
        add_unique(plan.multicast_answers, r);
      }
    }
  }
  if (!unicast_answers.empty()) {
    DnsMessage reply;
    reply.flags = kFlagResponse | kFlagAuthoritative;
    reply.answers = unicast_answers;
    reply.additionals = additionals_for(unicast_answers);
    plan.unicast_reply = std::move(reply);
  }
  if (!plan.multicast_answers.empty()) {
    // RFC 6762 §6: shared answers wait 20-120 ms so several responders' answers spread
    // out; a truncated query (more known answers follow) waits 400-500 ms; unique-only
    // answers go at once.
    if (query.truncated())
      plan.multicast_delay = milliseconds(std::uniform_int_distribution<int>(400, 500)(rng_));
    else if (any_shared)
      plan.multicast_delay = milliseconds(std::uniform_int_distribution<int>(20, 120)(rng_));
  }
  return plan;
}

std::optional<DnsMessage> ResponderCore::multicast_response(const std::vector<ResourceRecord>& answers,
                                                            TimePoint now, bool bypass_rate_limit) {
  DnsMessage m;
  m.flags = kFlagResponse | kFlagAuthoritative;
  for (const auto& r : answers)
    if (bypass_rate_limit || !multicast_recently(r, now, kRateLimit)) add_unique(m.answers, r);
  if (m.answers.empty()) return std::nullopt;
  for (auto& r : additionals_for(m.answers))
    if (bypass_rate_limit || !multicast_recently(r, now, kRateLimit)) m.additionals.push_back(std::move(r));
  for (const auto* section : {&m.answers, &m.additionals})
    for (const auto& r : *section) last_multicast_[record_key(r)] = now;
  return m;
}

DnsMessage ResponderCore::announcement(TimePoint now) {
  DnsMessage m;
  m.flags = kFlagResponse | kFlagAuthoritative;
  m.answers = {records_.ptr, records_.srv, records_.txt, records_.a};
  m.additionals = {records_.host_nsec, records_.instance_nsec};
  for (const auto* section : {&m.answers, &m.additionals})
    for (const auto& r : *section) last_multicast_[record_key(r)] = now;
  return m;
}

DnsMessage ResponderCore::goodbye() const {
  DnsMessage m;
  m.flags = kFlagResponse | kFlagAuthoritative;
  m.answers = {records_.ptr, records_.srv, records_.txt, records_.a};
  for (auto& r : m.answers) r.ttl = 0;
  return m;
}

DnsMessage ResponderCore::probe() const {
  DnsMessage m;
  m.questions.push_back(Question{records_.srv.name, dns_type::ANY, kClassIn, false});
  m.questions.push_back(Question{records_.a.name, dns_type::ANY, kClassIn, false});
  m.authorities = {records_.srv, records_.txt, records_.a};
  for (auto& r : m.authorities) r.cache_flush = false;  // not in probes (RFC 6762 §10.2)
  return m;
}

bool ResponderCore::is_conflicting_response(const DnsMessage& response) const {
  if (!response.is_response()) return false;
  for (const auto* section : {&response.answers, &response.additionals}) {
    for (const auto& theirs : *section) {
      if (theirs.ttl == 0) continue;
      for (const auto& ours : records_.unique_records())
        if (theirs.type == ours.type && theirs.name == ours.name && theirs.rclass == ours.rclass &&
            !theirs.same_record(ours))
          return true;
    }
  }
  return false;
}

ResponderCore::ProbeContest ResponderCore::contest_probe(const DnsMessage& probe) const {
  ProbeContest result = ProbeContest::not_about_us;
  for (const DnsName& name : {records_.srv.name, records_.a.name}) {
    std::vector<ResourceRecord> theirs, ours;
    for (const auto& r : probe.authorities)
      if (r.name == name) theirs.push_back(r);
    if (theirs.empty()) continue;
    for (const auto& r : records_.unique_records())
      if (r.name == name) ours.push_back(r);
    sort_canonically(theirs);
    sort_canonically(ours);
    int cmp = 0;
    for (std::size_t i = 0; i < std::min(theirs.size(), ours.size()) && cmp == 0; ++i)
      cmp = compare_records(ours[i], theirs[i]);
    if (cmp == 0 && ours.size() != theirs.size()) cmp = ours.size() > theirs.size() ? 1 : -1;
    if (cmp < 0) return ProbeContest::we_lose;
    if (cmp > 0) result = ProbeContest::we_win;
    else if (result == ProbeContest::not_about_us) result = ProbeContest::identical;
  }
  return result;
}

}  // namespace baton::discovery
