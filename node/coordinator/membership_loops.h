// The coordinator's background policies over membership, run on the kj event loop
// between sessions: follow what discovery sees, and bring back nodes lost to failover.
#pragma once

#include <kj/async-io.h>

#include <string>
#include <vector>

namespace baton {

namespace discovery {
class MdnsBrowser;
}
class Cluster;
class SessionRunner;

// Every second, between sessions: a node that joined becomes part of the next plan, one
// that left (goodbye or expiry) drops out of it.
kj::Promise<void> follow_membership(kj::AsyncIoContext& io, Cluster& cluster, SessionRunner& runner,
                                    discovery::MdnsBrowser& browser, const std::vector<std::string>& static_peers);

// Every `period`, between sessions: nodes lost to failover that answer again (a phone
// that woke up, a node restarted on the same address) are planned back in.
kj::Promise<void> rejoin_lost_nodes(kj::AsyncIoContext& io, Cluster& cluster, SessionRunner& runner,
                                    kj::Duration period);

}  // namespace baton
