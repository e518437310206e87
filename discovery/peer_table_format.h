#pragma once
// Text table of peers for `baton peers` (once or --watch). Pure: the caller supplies the
// current time and, if it has them, smoothed RTTs from the transport layer.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "discovery/peer_table.h"

namespace baton::discovery {

// Returns the RTT in milliseconds for a peer, or nullopt if not measured (yet).
using RttLookup = std::function<std::optional<double>(const PeerEntry&)>;

// Columns: NAME ADDRESS PORT KIND ROLE MEM(MiB) GFLOPS BW(GB/s) RTT(ms) LAST-SEEN STATE SOURCE.
std::string format_peer_table(const std::vector<PeerEntry>& peers, TimePoint now, const RttLookup& rtt = {});

}  // namespace baton::discovery
