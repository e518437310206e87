// One coordinator at a time: the Node capability one connection sees. Forwards to the
// node's shared NodeServer, and lets only the connection holding the CoordinatorLease load
// layers and link the ring; describe() tells any other caller whom the node serves.
// Stages (stage()), observers (ping, describe) are never refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "node/stage/coordinator_lease.h"
#include "transport/baton.capnp.h"

namespace baton {

class NodeConnection final : public rpc::Node::Server {
 public:
  // `lease` must outlive every connection (it lives with the listener).
  NodeConnection(rpc::Node::Client node, CoordinatorLease& lease, uint64_t id, std::string peer,
                 std::chrono::milliseconds stale_after);
  ~NodeConnection();  // the connection closed: its lease, if any, ends

 protected:
  kj::Promise<void> describe(DescribeContext context) override;
  kj::Promise<void> load(LoadContext context) override;
  kj::Promise<void> link(LinkContext context) override;
  kj::Promise<void> stage(StageContext context) override;
  kj::Promise<void> ping(PingContext context) override;

 private:
  void claim_or_refuse();

  rpc::Node::Client node_;
  CoordinatorLease& lease_;
  uint64_t id_;
  std::string peer_;
  std::chrono::milliseconds stale_after_;
};

}  // namespace baton
