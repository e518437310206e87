#include "discovery/peer_table.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace baton::discovery {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// RFC 6762 §5.2: refresh queries at 80%, 85%, 90% and 95% of the TTL.
constexpr double kRefreshPoints[] = {0.80, 0.85, 0.90, 0.95};
// RFC 6762 §10.1: a goodbye (TTL 0) leaves the record for one more second.
constexpr milliseconds kGoodbyeGrace{1000};
constexpr milliseconds kMaxInfoQueryInterval{seconds(32)};

bool same_entry(const PeerEntry& a, const PeerEntry& b) {
  return a.host == b.host && a.address == b.address && a.port == b.port && a.attributes == b.attributes;
}

std::string strip_trailing_dot(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

const char* to_string(PeerState s) {
  switch (s) {
    case PeerState::active: return "active";
    case PeerState::expired: return "expired";
    case PeerState::goodbye: return "goodbye";
  }
  return "?";
}
const char* to_string(PeerSource s) {
  switch (s) {
    case PeerSource::mdns: return "mdns";
    case PeerSource::static_list: return "static";
    case PeerSource::both: return "mdns+static";
  }
  return "?";
}
const char* to_string(PeerEventKind k) {
  switch (k) {
    case PeerEventKind::added: return "added";
    case PeerEventKind::updated: return "updated";
    case PeerEventKind::expired: return "expired";
    case PeerEventKind::goodbye: return "goodbye";
    case PeerEventKind::removed: return "removed";
  }
  return "?";
}

PeerTable::PeerTable() : PeerTable(Options{}) {}
PeerTable::PeerTable(Options options) : options_(options), rng_(options.seed) {}

PeerTable::CacheTimes PeerTable::fresh_times(std::uint32_t ttl, TimePoint now) {
  CacheTimes t;
  t.received = now;
  t.lifetime = ttl == 0 ? kGoodbyeGrace : milliseconds(std::uint64_t{ttl} * 1000);
  t.jitter = std::uniform_real_distribution<double>(0.0, 0.02)(rng_);
  return t;
}

PeerTable::Instance* PeerTable::instance_for(const DnsName& name, TimePoint now, bool create) {
  auto label = node_name_of_instance(name);
  if (!label) return nullptr;
  const std::string key = name.key();
  auto it = instances_.find(key);
  if (it != instances_.end()) return &it->second;
  if (!create) return nullptr;
  if (instances_.size() >= options_.max_instances) {
    spdlog::debug("discovery: ignoring {}: already tracking {} instances", name.to_string(), instances_.size());
    return nullptr;
  }
  Instance fresh;
  fresh.label = *label;
  fresh.name = name;
  fresh.first_seen = now;
  fresh.info_query.next = now;
  return &instances_.emplace(key, std::move(fresh)).first->second;
}

void PeerTable::apply_record(const ResourceRecord& r, TimePoint now) {
  if (r.rclass != kClassIn) return;
  const bool goodbye = r.ttl == 0;
  if (r.type == dns_type::PTR) {
    if (!(r.name == baton_service_name())) return;
    const auto& target = std::get<PtrRecordData>(r.data).target;
    Instance* in = instance_for(target, now, !goodbye);
    if (!in) return;
    in->ptr = fresh_times(r.ttl, now);
    in->last_seen = now;
    in->goodbye = goodbye;
    return;
  }
  if (r.type != dns_type::SRV && r.type != dns_type::TXT) return;
  Instance* in = instance_for(r.name, now, !goodbye);
  if (!in) return;
  in->last_seen = now;
  if (r.type == dns_type::SRV) {
    in->srv = Cached<SrvRecordData>{std::get<SrvRecordData>(r.data), fresh_times(r.ttl, now)};
    if (goodbye) in->goodbye = true;  // only a fresh PTR (a re-announcement) brings it back
  } else {
    const auto& txt = std::get<TxtRecordData>(r.data);
    const bool changed = !in->txt || in->txt->value.strings != txt.strings;
    in->txt = Cached<TxtRecordData>{txt, fresh_times(r.ttl, now)};
    if (changed && !goodbye) {
      TxtDecodeResult decoded = decode_txt(txt);
      if (!decoded.attributes)
        spdlog::debug("discovery: ignoring peer {}: TXT {}", in->label, decoded.error);
      in->attributes = decoded.attributes;
    }
  }
}

void PeerTable::apply_address(const ResourceRecord& r, TimePoint now) {
  if (r.rclass != kClassIn || (r.type != dns_type::A && r.type != dns_type::AAAA)) return;
  // Only cache addresses of hosts some instance's SRV points at: nothing else matters here.
  const std::string key = r.name.key();
  auto host_it = hosts_.find(key);
  if (host_it == hosts_.end()) {
    bool wanted = std::any_of(instances_.begin(), instances_.end(), [&](const auto& kv) {
      return kv.second.srv && kv.second.srv->value.target == r.name;
    });
    if (!wanted) return;
    host_it = hosts_.emplace(key, Host{r.name, {}, now}).first;
  }
  Host& host = host_it->second;
  asio::ip::address address;
  if (r.type == dns_type::A) address = asio::ip::address_v4(std::get<ARecordData>(r.data).address);
  else address = asio::ip::address_v6(std::get<AaaaRecordData>(r.data).address);
  host.last_seen = now;
  if (r.cache_flush && r.ttl != 0) {
    // RFC 6762 §10.2: other records of this name and type older than one second go in 1 s.
    for (auto& a : host.addresses)
      if (a.address != address && a.address.is_v4() == address.is_v4() && now - a.times.received > kGoodbyeGrace &&
          a.times.expires() > now + kGoodbyeGrace)
        a.times.lifetime = std::chrono::duration_cast<milliseconds>(now + kGoodbyeGrace - a.times.received);
  }
  auto same = std::find_if(host.addresses.begin(), host.addresses.end(),
                           [&](const Address& a) { return a.address == address; });
  if (same != host.addresses.end()) same->times = fresh_times(r.ttl, now);
  else if (r.ttl != 0) host.addresses.push_back(Address{address, fresh_times(r.ttl, now)});
  for (auto& [k, in] : instances_)
    if (in.srv && in.srv->value.target == r.name) in.last_seen = now;
}

std::vector<PeerEvent> PeerTable::observe_response(const DnsMessage& response, TimePoint now) {
  last_now_ = std::max(last_now_, now);
  // Two passes: service records first, so an A record that comes before its SRV in the same
  // packet is still recognised as belonging to a peer.
  for (const auto* section : {&response.answers, &response.authorities, &response.additionals})
    for (const auto& r : *section) apply_record(r, now);
  for (const auto* section : {&response.answers, &response.authorities, &response.additionals})
    for (const auto& r : *section) apply_address(r, now);
  return evaluate(now);
}

std::vector<PeerEvent> PeerTable::advance(TimePoint now) {
  last_now_ = std::max(last_now_, now);
  return evaluate(now);
}

std::optional<asio::ip::address> PeerTable::live_address(const Instance& in, TimePoint now) const {
  if (!in.srv) return std::nullopt;
  auto it = hosts_.find(in.srv->value.target.key());
  if (it == hosts_.end()) return std::nullopt;
  // Prefer the most recently confirmed IPv4 address, then IPv6.
  const Address* best = nullptr;
  for (const auto& a : it->second.addresses) {
    if (!a.times.live(now)) continue;
    if (!best || (a.address.is_v4() && !best->address.is_v4()) ||
        (a.address.is_v4() == best->address.is_v4() && a.times.received > best->times.received))
      best = &a;
  }
  if (!best) return std::nullopt;
  return best->address;
}

bool PeerTable::complete(const Instance& in, TimePoint now) const {
  return in.ptr && in.ptr->live(now) && in.srv && in.srv->times.live(now) && in.txt &&
         in.txt->times.live(now) && in.attributes && live_address(in, now).has_value();
}

PeerEntry PeerTable::entry_for(const Instance& in, TimePoint now) const {
  PeerEntry e;
  e.name = in.label;
  if (in.srv) {
    e.host = in.srv->value.target.to_string();
    e.port = in.srv->value.port;
  }
  e.address = live_address(in, now);
  if (!e.address && in.published) e.address = in.last_reported.address;  // keep for display
  e.attributes = in.attributes;
  e.first_seen = in.first_seen;
  e.last_seen = in.last_seen;
  e.state = in.state;
  e.source = PeerSource::mdns;
  e.source = source_for(e);
  return e;
}

std::vector<PeerEvent> PeerTable::evaluate(TimePoint now) {
  std::vector<PeerEvent> events;
  for (auto it = instances_.begin(); it != instances_.end();) {
    Instance& in = it->second;
    if (in.goodbye) {
      if (in.published && in.state == PeerState::active) {
        in.state = PeerState::goodbye;
        in.state_since = now;
        in.last_reported = entry_for(in, now);
        events.push_back({PeerEventKind::goodbye, in.last_reported});
      }
    } else if (complete(in, now)) {
      PeerEntry e = entry_for(in, now);
      e.state = PeerState::active;
      if (!in.published || in.state != PeerState::active) {
        in.published = true;
        in.state = PeerState::active;
        e.state = PeerState::active;
        events.push_back({PeerEventKind::added, e});
      } else if (!same_entry(e, in.last_reported)) {
        events.push_back({PeerEventKind::updated, e});
      }
      in.last_reported = e;
    } else if (in.published && in.state == PeerState::active) {
      in.state = PeerState::expired;
      in.state_since = now;
      in.last_reported = entry_for(in, now);
      events.push_back({PeerEventKind::expired, in.last_reported});
    }

    const bool any_live = (in.ptr && in.ptr->live(now)) || (in.srv && in.srv->times.live(now)) ||
                          (in.txt && in.txt->times.live(now));
    const bool lingered = in.published && in.state != PeerState::active &&
                          now - in.state_since >= options_.linger;
    if (lingered) {
      PeerEntry e = in.last_reported;
      events.push_back({PeerEventKind::removed, e});
      it = instances_.erase(it);
    } else if (!in.published && !any_live) {
      it = instances_.erase(it);  // never complete, now forgotten
    } else {
      ++it;
    }
  }
  drop_dead_records(now);
  return events;
}

void PeerTable::drop_dead_records(TimePoint now) {
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    auto& addrs = it->second.addresses;
    addrs.erase(std::remove_if(addrs.begin(), addrs.end(), [&](const Address& a) { return !a.times.live(now); }),
                addrs.end());
    const DnsName& name = it->second.name;
    bool referenced = std::any_of(instances_.begin(), instances_.end(), [&](const auto& kv) {
      return kv.second.srv && kv.second.srv->value.target == name;
    });
    if (!referenced) it = hosts_.erase(it);
    else ++it;
  }
}

std::vector<Question> PeerTable::due_queries(TimePoint now) {
  last_now_ = std::max(last_now_, now);
  std::vector<Question> out;
  auto ask = [&](const DnsName& name, std::uint16_t type) {
    for (const auto& q : out)
      if (q.type == type && q.name == name) return;
    out.push_back(Question{name, type, kClassIn, false});
  };
  // True once per crossed refresh point of a live, non-goodbye record.
  auto refresh_due = [&](CacheTimes& t) {
    if (!t.live(now) || t.lifetime <= kGoodbyeGrace) return false;
    bool due = false;
    while (t.refresh_points_done < 4) {
      const double fraction = kRefreshPoints[t.refresh_points_done] + t.jitter;
      const auto point = t.received + std::chrono::duration_cast<milliseconds>(t.lifetime * fraction);
      if (now < point) break;
      ++t.refresh_points_done;
      due = true;
    }
    return due;
  };
  for (auto& [key, in] : instances_) {
    if (in.goodbye) continue;
    if (in.ptr && refresh_due(*in.ptr)) ask(baton_service_name(), dns_type::PTR);
    if (in.srv && refresh_due(in.srv->times)) ask(in.name, dns_type::SRV);
    if (in.txt && refresh_due(in.txt->times)) ask(in.name, dns_type::TXT);
    // A peer we know only partly: ask for what is missing, backing off 1 s, 2 s, 4 s ...
    const bool ptr_live = in.ptr && in.ptr->live(now);
    const bool need_srv = !in.srv || !in.srv->times.live(now);
    const bool need_txt = !in.txt || !in.txt->times.live(now);
    const bool need_addr = !need_srv && !live_address(in, now);
    if (ptr_live && (need_srv || need_txt || need_addr)) {
      if (now >= in.info_query.next) {
        if (need_srv) ask(in.name, dns_type::SRV);
        if (need_txt) ask(in.name, dns_type::TXT);
        if (need_addr) ask(in.srv->value.target, dns_type::A);
        in.info_query.next = now + in.info_query.interval;
        in.info_query.interval = std::min(in.info_query.interval * 2, kMaxInfoQueryInterval);
      }
    } else {
      in.info_query = Backoff{now, milliseconds(seconds(1))};
    }
  }
  for (auto& [key, host] : hosts_)
    for (auto& a : host.addresses)
      if (refresh_due(a.times)) ask(host.name, a.address.is_v4() ? dns_type::A : dns_type::AAAA);
  return out;
}

std::vector<ResourceRecord> PeerTable::known_answers(TimePoint now) const {
  std::vector<ResourceRecord> out;
  for (const auto& [key, in] : instances_) {
    if (!in.ptr || in.goodbye || !in.ptr->live(now)) continue;
    const auto left = in.ptr->expires() - now;
    if (left * 2 <= in.ptr->lifetime) continue;
    ResourceRecord r;
    r.name = baton_service_name();
    r.type = dns_type::PTR;
    r.ttl = static_cast<std::uint32_t>(std::chrono::duration_cast<seconds>(left).count());
    r.data = PtrRecordData{in.name};
    out.push_back(std::move(r));
  }
  return out;
}

bool PeerTable::matches_static(const PeerEntry& e, const StaticPeer& s) const {
  if (e.port != s.port) return false;
  const std::string host = strip_trailing_dot(s.host);
  if (e.address && e.address->to_string() == host) return true;
  return labels_equal_ignore_case(strip_trailing_dot(e.host), host);
}

PeerSource PeerTable::source_for(const PeerEntry& e) const {
  for (const auto& [s, added] : static_peers_)
    if (matches_static(e, s)) return PeerSource::both;
  return PeerSource::mdns;
}

std::vector<PeerEvent> PeerTable::add_static_peers(const std::vector<StaticPeer>& peers, TimePoint now) {
  last_now_ = std::max(last_now_, now);
  std::vector<PeerEvent> events;
  for (const auto& p : peers) {
    bool known = std::any_of(static_peers_.begin(), static_peers_.end(),
                             [&](const auto& s) { return s.first == p; });
    if (known) continue;
    static_peers_.emplace_back(p, now);
    PeerEntry e;
    e.name = p.host + ":" + std::to_string(p.port);
    e.host = p.host;
    asio::error_code ec;
    auto address = asio::ip::make_address(strip_trailing_dot(p.host), ec);
    if (!ec) e.address = address;
    e.port = p.port;
    e.first_seen = e.last_seen = now;
    e.source = PeerSource::static_list;
    events.push_back({PeerEventKind::added, e});
  }
  return events;
}

std::vector<PeerEntry> PeerTable::snapshot() const {
  std::vector<PeerEntry> out;
  std::vector<bool> static_merged(static_peers_.size(), false);
  for (const auto& [key, in] : instances_) {
    if (!in.published) continue;
    PeerEntry e = in.state == PeerState::active ? entry_for(in, last_now_) : in.last_reported;
    e.state = in.state;
    e.last_seen = in.last_seen;
    for (std::size_t i = 0; i < static_peers_.size(); ++i) {
      if (matches_static(e, static_peers_[i].first)) {
        static_merged[i] = true;
        e.source = PeerSource::both;
        // A static peer is always a candidate; the authenticated handshake decides.
        e.state = PeerState::active;
      }
    }
    out.push_back(std::move(e));
  }
  for (std::size_t i = 0; i < static_peers_.size(); ++i) {
    if (static_merged[i]) continue;
    const auto& [p, added] = static_peers_[i];
    PeerEntry e;
    e.name = p.host + ":" + std::to_string(p.port);
    e.host = p.host;
    asio::error_code ec;
    auto address = asio::ip::make_address(strip_trailing_dot(p.host), ec);
    if (!ec) e.address = address;
    e.port = p.port;
    e.first_seen = e.last_seen = added;
    e.source = PeerSource::static_list;
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const PeerEntry& a, const PeerEntry& b) { return a.name < b.name; });
  return out;
}

std::optional<PeerEntry> PeerTable::find(const std::string& name) const {
  for (auto& e : snapshot())
    if (e.name == name) return e;
  return std::nullopt;
}

}  // namespace baton::discovery
