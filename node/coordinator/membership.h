// Which nodes the coordinator should plan over: static peers (--peers, must join) plus the
// nodes discovery currently sees as active (a hint; used only if they join). Pure.
#pragma once

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

}  // namespace baton
