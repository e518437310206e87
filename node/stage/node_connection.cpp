#include "node/stage/node_connection.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "transport/rpc_peer.h"

namespace baton {

namespace {
CoordinatorLease::Clock::time_point now() { return CoordinatorLease::Clock::now(); }

// "[::ffff:10.0.0.2]:41234" (an IPv4 peer on a dual-stack socket) -> "10.0.0.2:41234".
std::string plain_peer(std::string peer) {
  constexpr std::string_view mapped = "[::ffff:";
  const auto close = peer.find("]:");
  if (peer.rfind(mapped, 0) == 0 && close != std::string::npos && peer.find('.') != std::string::npos) {
    return peer.substr(mapped.size(), close - mapped.size()) + peer.substr(close + 1);
  }
  return peer;
}

}  // namespace

NodeConnection::NodeConnection(NodeServer& server, rpc::Node::Client node, CoordinatorLease& lease, uint64_t id,
                               std::string peer, std::chrono::milliseconds stale_after)
    : server_(server),
      node_(kj::mv(node)), lease_(lease), id_(id), peer_(plain_peer(std::move(peer))), stale_after_(stale_after) {}

NodeConnection::~NodeConnection() {
  if (lease_.held_by(id_)) spdlog::info("the coordinator at {} disconnected: this node is free", peer_);
  lease_.release(id_);
  if (*loaded_) server_.coordinator_gone(**loaded_);
}

void NodeConnection::claim_or_refuse() {
  const std::string holder = lease_.claim(id_, peer_, now());
  if (!holder.empty()) {
    spdlog::warn("refused the coordinator at {}: this node serves {}", peer_, holder);
    throw_rpc_error(fmt::format(
        "this node serves {}; a node serves one coordinator at a time: stop that coordinator, or wait until it is "
        "gone (disconnected, or silent for {} s)",
        holder, stale_after_.count() / 1000.0));
  }
  if (const auto& old = lease_.last_takeover()) {
    spdlog::warn("the coordinator at {} takes over from {}, which went silent", peer_, *old);
  }
}

kj::Promise<void> NodeConnection::describe(DescribeContext context) {
  lease_.heard(id_, now());
  // The lease outlives every connection; this object may not outlive the call.
  return node_.describeRequest().send().then(
      [&lease = lease_, id = id_, context](capnp::Response<rpc::Node::DescribeResults> r) mutable {
        auto results = context.getResults();
        results.setInfo(r.getInfo());
        results.getInfo().setServingCoordinator(lease.other_holder(id, now()));
      });
}

kj::Promise<void> NodeConnection::load(LoadContext context) {
  claim_or_refuse();
  auto p = context.getParams();
  auto req = node_.loadRequest();
  req.setAssignment(p.getAssignment());
  if (p.hasSource()) req.setSource(p.getSource());
  lease_.call_started(id_, now());
  return req.send()
      .then([context, loaded = loaded_, &server = server_](capnp::Response<rpc::Node::LoadResults> r) mutable {
        *loaded = server.load_generation();
        context.getResults().setInfo(r.getInfo());
      })
      .attach(kj::defer([&lease = lease_, id = id_] { lease.call_ended(id, now()); }));
}

kj::Promise<void> NodeConnection::link(LinkContext context) {
  claim_or_refuse();
  auto p = context.getParams();
  auto req = node_.linkRequest();
  req.setNextAddress(p.getNextAddress());
  if (p.hasSink()) req.setSink(p.getSink());
  return context.tailCall(kj::mv(req));
}

kj::Promise<void> NodeConnection::stage(StageContext context) {
  return context.tailCall(node_.stageRequest());
}

kj::Promise<void> NodeConnection::ping(PingContext context) {
  lease_.heard(id_, now());
  auto req = node_.pingRequest();
  req.setSentNanos(context.getParams().getSentNanos());
  return context.tailCall(kj::mv(req));
}

}  // namespace baton
