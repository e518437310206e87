// The node role's RPC surface: describe itself, load an assigned layer range (refusing
// ranges that do not fit its memory), link to the next stage, and serve Stage.forward.
#pragma once

#include <kj/async-io.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "transport/rpc_peer.h"
#include "node/stage/stage_service.h"
#include "node/stage/stage_shaping.h"
#include "transport/baton.capnp.h"
#include "transport/telemetry.h"

namespace baton {

struct NodeConfig {
  std::string name = "node";
  std::string node_id;
  std::string kind = "pc";
  uint64_t memory_mib = 0;        // offered for weights + KV; 0: no limit
  double compute_gflops = 0;
  double bandwidth_gbs = 0;
  std::string detected;  // which figures were measured: "mem,gflops,bw,kind" or a subset
  std::optional<std::string> model_path;  // own copy of the GGUF, if any
  std::string secret;
  std::string cache_dir;
  uint64_t cache_max_bytes = 0;  // shard cache cap (0: none)
  unsigned threads = 0;
  ShapingOptions shaping;  // simulated device: link and compute pacing (default: none)
  // ZeroMQ heartbeats: published on this host (empty: none) every heartbeat_ms.
  std::string telemetry_host;
  uint32_t heartbeat_ms = 500;
  // Heat and battery are read here each heartbeat ("/": the real sysfs; tests: a fake tree).
  std::string sysfs_root = "/";
};

// Bytes a stage would hold, for the memory check and for reporting.
struct StageFootprint {
  uint64_t weight_bytes = 0;
  uint64_t kv_bytes = 0;
  uint64_t total() const { return weight_bytes + kv_bytes; }
};
// Empty when it fits, else the reason ("layers [0, 6) need 812.3 MiB (...) but this node offers 512 MiB").
std::string check_fits(const StageFootprint& need, uint64_t memory_mib, const StageAssignment& a);

class NodeServer final : public rpc::Node::Server {
 public:
  NodeServer(kj::AsyncIoContext& io, NodeConfig config);

  // The Stage capability for this node's (current) runtime.
  rpc::Stage::Client stage_capability() { return stage_cap_; }
  const std::string& model_hash() const { return model_hash_; }
  // Counts the ranges installed: which load the current runtime came from.
  uint64_t load_generation() const { return load_generation_; }
  // The connection of the coordinator whose load made `generation` closed (it died or
  // re-planned): its sessions' KV caches go, unless a newer load replaced the runtime.
  void coordinator_gone(uint64_t generation);

 protected:
  kj::Promise<void> describe(DescribeContext context) override;
  kj::Promise<void> load(LoadContext context) override;
  kj::Promise<void> link(LinkContext context) override;
  kj::Promise<void> stage(StageContext context) override;
  kj::Promise<void> ping(PingContext context) override;

 private:
  void fill_info(rpc::NodeInfo::Builder info) const;
  kj::Promise<void> heartbeat_loop();
  void install(const std::string& path, const StageAssignment& a, bool own_file);

  kj::AsyncIoContext& io_;
  NodeConfig config_;
  std::string model_hash_;  // of the own file ("" if none)
  std::shared_ptr<StageRuntime> runtime_;
  rpc::Stage::Client stage_cap_;
  kj::Own<RpcPeer> next_peer_;  // our connection to the next stage
  uint64_t used_bytes_ = 0;
  uint64_t load_generation_ = 0;
  std::unique_ptr<NodeShaping> shaping_;
  std::unique_ptr<TelemetryPublisher> telemetry_;
  uint64_t heartbeats_sent_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  kj::Promise<void> heartbeats_ = kj::READY_NOW;  // cancelled with the server
};

StageAssignment parse_assignment(rpc::Assignment::Reader a);


}  // namespace baton
