// GET /v1/cluster: who is in the cluster, how the model is split, and what each device
// contributed to the last request. Gathering happens on the event-loop thread
// (gather_cluster_status); the JSON shape is a pure function of the gathered snapshot.
#pragma once

#include <kj/async.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/coordinator/cluster.h"
#include "node/coordinator/metrics.h"

namespace baton {

struct NodeStatus {
  std::string id;       // the name the plan uses
  std::string address;  // host:port
  std::string kind;
  int64_t memory_mib = 0;
  double compute_gflops = 0;
  double bandwidth_gbs = 0;
  std::string figures = "configured";  // where the figures came from: detected / configured / a mix
  std::optional<double> rtt_ms;
  bool online = false;
  bool in_plan = false;
  bool joined = false;  // false: discovered (mDNS) but not part of the cluster
  std::optional<uint64_t> used_mib;
  std::optional<uint32_t> sessions;  // KV caches held
  // From its latest ZeroMQ heartbeat, if one came.
  std::optional<Telemetry> telemetry;
  std::optional<int64_t> heartbeat_age_ms;
  std::optional<std::string> stepped_back;  // out of the plan for heat or battery: why
};

struct ClusterStatus {
  std::string model_id;
  int layers = 0;
  std::string strategy;
  std::string wire;
  Plan plan;
  std::vector<NodeStatus> nodes;
  int sessions_active = 0, sessions_queued = 0, sessions_max = 0;
  std::optional<RequestFigures> last;
  std::map<std::string, uint64_t> health_decisions;  // heat/battery decisions so far, by action
};

nlohmann::json cluster_status_json(const ClusterStatus& s);
// The reader paired with cluster_status_json, for tools that read GET /v1/cluster (the
// simulator, `baton submit`): fields a client needs come back typed. The trace's stamps
// come back relative to the first traced step (ns). Throws std::invalid_argument naming
// the field when the body is not a cluster status.
ClusterStatus cluster_status_from_json(const nlohmann::json& j);

// Discovered nodes that are not members (mDNS), for the device list.
using DiscoveredNodes = std::function<std::vector<NodeStatus>()>;

// Runs on the event-loop thread: probes the members (bounded) and fills `base`'s nodes
// and plan from the cluster.
kj::Promise<ClusterStatus> gather_cluster_status(Cluster& cluster, ClusterStatus base, const DiscoveredNodes& discovered);

}  // namespace baton
