// Which nodes the coordinator should plan over: static peers (--peers, must join) plus the
// nodes discovery currently sees as active (a hint; used only if they join). Pure.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "discovery/peer_table.h"
#include "node/coordinator/cluster.h"
#include "node/coordinator/cluster_status.h"

namespace baton {

// Static peers first (as given), then active discovered peers with a known address,
// sorted, without duplicates.
std::vector<PeerCandidate> plan_candidates(const std::vector<std::string>& static_peers,
                                           const std::vector<discovery::PeerEntry>& discovered);

// mDNS-discovered nodes as status rows (online while their advert is active).
std::vector<NodeStatus> discovered_nodes(const std::vector<discovery::PeerEntry>& discovered);

// "+a, -b" for the log.
std::string describe_change(const std::vector<PeerCandidate>& before, const std::vector<PeerCandidate>& after);

// When a changed membership is worth a re-plan. Discovery is a hint that can flap (a phone
// at the edge of the Wi-Fi, a spoofed or flapping announcement), and every re-plan reloads
// nodes: a new set of candidates is acted on only once discovery has shown the same set
// for `settle`, and no sooner than `min_interval` after the last re-plan. Pure: fed with
// what discovery shows and the time.
class MembershipDebounce {
 public:
  using Clock = std::chrono::steady_clock;
  MembershipDebounce(Clock::duration settle, Clock::duration min_interval)
      : settle_(settle), min_interval_(min_interval) {}

  // The candidates to re-plan over now (`seen` differs from `current`, has settled, and
  // the last re-plan is long enough ago), else nullopt.
  std::optional<std::vector<PeerCandidate>> observe(const std::vector<PeerCandidate>& seen,
                                                    const std::vector<PeerCandidate>& current, Clock::time_point now);
  // A re-plan happened at `now` (whatever started it).
  void replanned(Clock::time_point now) { last_replan_ = now; }

 private:
  Clock::duration settle_, min_interval_;
  std::optional<std::vector<PeerCandidate>> pending_;  // the changed set, as first seen
  Clock::time_point pending_since_{};
  std::optional<Clock::time_point> last_replan_;
};

}  // namespace baton
