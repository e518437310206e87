#pragma once
// The cluster view built from discovery: a cache of the baton service's mDNS records
// (RFC 6762 §5.2, §10) folded into one entry per peer, plus static peers from --peers.
//
// Pure data structure: it never reads a clock or touches a socket. The browser feeds it
// received responses and the current time, and sends the queries it asks for, so every
// lifecycle step (add, refresh, expire after the TTL, goodbye) is unit-testable.
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <asio/ip/address.hpp>

#include "discovery/dns_message.h"
#include "discovery/service_record.h"

namespace baton::discovery {

using DiscoveryClock = std::chrono::steady_clock;
using TimePoint = DiscoveryClock::time_point;

enum class PeerState { active, expired, goodbye };
const char* to_string(PeerState state);
enum class PeerSource { mdns, static_list, both };
const char* to_string(PeerSource source);

struct PeerEntry {
  std::string name;  // node name (the mDNS instance label), or "host:port" for a static peer
  std::string host;  // SRV target such as "pc.local", or the static host as typed
  std::optional<asio::ip::address> address;
  std::uint16_t port = 0;
  std::optional<NodeAttributes> attributes;  // from TXT; unknown for a static-only peer
  TimePoint first_seen{};
  TimePoint last_seen{};
  PeerState state = PeerState::active;
  PeerSource source = PeerSource::mdns;
};

enum class PeerEventKind { added, updated, expired, goodbye, removed };
const char* to_string(PeerEventKind kind);
struct PeerEvent {
  PeerEventKind kind;
  PeerEntry peer;
};

struct StaticPeer {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const StaticPeer&) const = default;
};

class PeerTable {
 public:
  struct Options {
    // How long an expired or departed peer stays listed (state expired/goodbye) before it
    // is dropped with a `removed` event.
    std::chrono::milliseconds linger{std::chrono::seconds(60)};
    // Upper bound on tracked instances, so a flood of fake adverts cannot grow memory.
    std::size_t max_instances = 1024;
    std::uint32_t seed = 1;  // for the 0-2% jitter of refresh queries (RFC 6762 §5.2)
  };

  PeerTable();
  explicit PeerTable(Options options);

  // All records of one received mDNS response (answers, authorities and additionals).
  std::vector<PeerEvent> observe_response(const DnsMessage& response, TimePoint now);
  // Applies the passage of time: expiry (TTL ran out), goodbye removal, linger removal.
  std::vector<PeerEvent> advance(TimePoint now);
  // Questions to send now: cache refresh at 80/85/90/95% of a record's TTL (RFC 6762 §5.2)
  // and the SRV/TXT/A of peers only partly known (with backoff). Each due point is
  // reported once.
  std::vector<Question> due_queries(TimePoint now);
  // PTR answers to list in our next PTR query for known-answer suppression (RFC 6762 §7.1):
  // those with more than half of their TTL left, with the remaining TTL.
  std::vector<ResourceRecord> known_answers(TimePoint now) const;

  // Static peers (--peers host:port,...) are always listed as active; when an mDNS peer
  // has the same address (or host name) and port, the two merge into one entry.
  std::vector<PeerEvent> add_static_peers(const std::vector<StaticPeer>& peers, TimePoint now);

  // Merged view sorted by name. Includes expired/goodbye entries still lingering.
  std::vector<PeerEntry> snapshot() const;
  std::optional<PeerEntry> find(const std::string& name) const;

 private:
  struct CacheTimes {
    TimePoint received{};
    std::chrono::milliseconds lifetime{0};
    int refresh_points_done = 0;  // how many of the 80/85/90/95% queries went out
    double jitter = 0;            // 0..0.02 of the TTL, drawn once per record
    TimePoint expires() const { return received + lifetime; }
    bool live(TimePoint now) const { return now < expires(); }
  };
  template <typename T>
  struct Cached {
    T value;
    CacheTimes times;
  };
  struct Address {
    asio::ip::address address;
    CacheTimes times;
  };
  struct Backoff {
    TimePoint next{};
    std::chrono::milliseconds interval{std::chrono::seconds(1)};
  };
  struct Instance {
    std::string label;
    DnsName name;
    std::optional<CacheTimes> ptr;
    std::optional<Cached<SrvRecordData>> srv;
    std::optional<Cached<TxtRecordData>> txt;
    std::optional<NodeAttributes> attributes;  // decoded txt, if valid
    bool goodbye = false;                       // PTR or SRV said TTL 0
    bool published = false;                     // an `added` was reported
    PeerState state = PeerState::active;
    TimePoint state_since{};
    TimePoint first_seen{};
    TimePoint last_seen{};
    PeerEntry last_reported;
    Backoff info_query;
  };
  struct Host {
    DnsName name;
    std::vector<Address> addresses;
    TimePoint last_seen{};
  };

  CacheTimes fresh_times(std::uint32_t ttl, TimePoint now);
  void apply_record(const ResourceRecord& record, TimePoint now);
  void apply_address(const ResourceRecord& record, TimePoint now);
  Instance* instance_for(const DnsName& instance_name, TimePoint now, bool create);
  std::optional<asio::ip::address> live_address(const Instance& instance, TimePoint now) const;
  bool complete(const Instance& instance, TimePoint now) const;
  PeerEntry entry_for(const Instance& instance, TimePoint now) const;
  std::vector<PeerEvent> evaluate(TimePoint now);
  void drop_dead_records(TimePoint now);
  PeerSource source_for(const PeerEntry& mdns_entry) const;
  bool matches_static(const PeerEntry& mdns_entry, const StaticPeer& peer) const;

  Options options_;
  std::mt19937 rng_;
  std::map<std::string, Instance> instances_;  // by lower-case instance name key
  std::map<std::string, Host> hosts_;          // by lower-case host name key
  std::vector<std::pair<StaticPeer, TimePoint>> static_peers_;  // with the time added
  TimePoint last_now_{};  // latest time seen, for snapshot()
};

}  // namespace baton::discovery
