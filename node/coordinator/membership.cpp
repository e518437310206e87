#include "node/coordinator/membership.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace baton {

std::vector<PeerCandidate> plan_candidates(const std::vector<std::string>& static_peers,
                                           const std::vector<discovery::PeerEntry>& discovered) {
  std::vector<PeerCandidate> out;
  std::set<std::string> seen;
  for (const auto& p : static_peers) {
    if (seen.insert(p).second) out.push_back({p, true});
  }
  std::vector<std::string> found;
  for (const auto& e : discovered) {
    if (e.source != discovery::PeerSource::mdns || e.state != discovery::PeerState::active || !e.address || e.port == 0) {
      continue;
    }
    found.push_back(fmt::format("{}:{}", e.address->to_string(), e.port));
  }
  std::sort(found.begin(), found.end());
  for (auto& a : found) {
    if (seen.insert(a).second) out.push_back({a, false});
  }
  return out;
}

std::vector<NodeStatus> discovered_nodes(const std::vector<discovery::PeerEntry>& discovered) {
  std::vector<NodeStatus> out;
  for (const auto& e : discovered) {
    if (e.source != discovery::PeerSource::mdns || !e.address || e.port == 0) continue;
    NodeStatus n;
    n.id = e.name;
    n.address = fmt::format("{}:{}", e.address->to_string(), e.port);
    n.online = e.state == discovery::PeerState::active;
    if (e.attributes) {
      n.kind = e.attributes->kind;
      n.memory_mib = static_cast<int64_t>(e.attributes->memory_mib);
      n.compute_gflops = e.attributes->compute_gflops;
      n.bandwidth_gbs = e.attributes->bandwidth_gbps;
      n.figures = describe_figures(e.attributes->detected);
    }
    out.push_back(std::move(n));
  }
  return out;
}

std::string describe_change(const std::vector<PeerCandidate>& before, const std::vector<PeerCandidate>& after) {
  std::set<std::string> b, a;
  for (const auto& c : before) b.insert(c.address);
  for (const auto& c : after) a.insert(c.address);
  std::string out;
  for (const auto& x : a) {
    if (!b.count(x)) out += (out.empty() ? "+" : ", +") + x;
  }
  for (const auto& x : b) {
    if (!a.count(x)) out += (out.empty() ? "-" : ", -") + x;
  }
  return out;
}

std::optional<std::vector<PeerCandidate>> MembershipDebounce::observe(const std::vector<PeerCandidate>& seen,
                                                                      const std::vector<PeerCandidate>& current,
                                                                      Clock::time_point now) {
  if (seen == current || seen.empty()) {
    pending_.reset();  // back to what the plan has (a flap), or nothing to plan over
    return std::nullopt;
  }
  if (!pending_ || *pending_ != seen) {
    pending_ = seen;  // a new change: it has to hold still first
    pending_since_ = now;
    return std::nullopt;
  }
  if (now - pending_since_ < settle_) return std::nullopt;
  if (last_replan_ && now - *last_replan_ < min_interval_) return std::nullopt;
  pending_.reset();
  return seen;
}

}  // namespace baton
