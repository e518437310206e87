#pragma once
// The --peers option: "host:port,host:port,[v6addr]:port" for networks that block multicast.
#include <string>
#include <vector>

#include "discovery/peer_table.h"

namespace baton::discovery {

struct StaticPeersParse {
  std::vector<StaticPeer> peers;
  std::string error;  // empty on success, else names the bad item
};

// Spaces around items are ignored, empty items are not allowed, duplicates are dropped.
StaticPeersParse parse_static_peers(const std::string& text);

}  // namespace baton::discovery
