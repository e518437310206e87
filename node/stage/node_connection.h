// One coordinator at a time: the Node capability one connection sees. Forwards to the
// node's shared NodeServer, and lets only the connection holding the CoordinatorLease load
// layers and link the ring; describe() tells any other caller whom the node serves.
// Stages (stage()), observers (ping, describe) are never refused. When the connection of
// the coordinator that loaded the node closes, the node drops that coordinator's sessions,
// so the KV caches of a coordinator that died do not hold memory forever.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "node/stage/coordinator_lease.h"
#include "node/stage/node_service.h"
#include "transport/baton.capnp.h"

namespace baton {

class NodeConnection final : public rpc::Node::Server {
 public:
  // `server` (behind `node`) and `lease` must outlive every connection (they live with
  // the listener).
  NodeConnection(NodeServer& server, rpc::Node::Client node, CoordinatorLease& lease, uint64_t id, std::string peer,
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

  NodeServer& server_;
  rpc::Node::Client node_;
  // The load generation this connection made; shared with a load still in flight, which
  // may finish after the connection object is gone.
  std::shared_ptr<std::optional<uint64_t>> loaded_ = std::make_shared<std::optional<uint64_t>>();
  CoordinatorLease& lease_;
  uint64_t id_;
  std::string peer_;
  std::chrono::milliseconds stale_after_;
};

}  // namespace baton
