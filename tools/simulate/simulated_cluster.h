// A simulated cluster on this machine: one `baton node` process per device, its link
// shaped and its compute paced like the device, and a `baton coordinator` serving the
// HTTP API on loopback. The processes tell their ports through --ready-file; their output
// is only ever shown to a person (when something fails), never parsed.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/coordinator/cluster_status.h"
#include "partition/plan.h"
#include "tools/child_process.h"
#include "tools/simulate/cluster_file.h"
#include "tools/simulate/prediction.h"
#include "tools/simulate/progress_lines.h"

namespace baton::sim {

struct SimulatedClusterOptions {
  std::string baton_exe;   // the `baton` binary
  std::string model_path;
  std::string work_dir;    // node shard caches and ready files
  Strategy strategy = Strategy::Memory;
  int64_t context = 2048;
  int prefill_chunk = 64;   // the coordinator's --prefill-chunk (the prediction uses it too)
  std::string speculative;  // the coordinator's --speculative (on | off | lookup | draft); empty: its default
  std::string draft_model;  // the coordinator's --draft; empty: none
};

class SimulatedCluster {
 public:
  // Starts every node, then the coordinator, and returns once its HTTP API serves.
  // Throws NoPlanError when the coordinator finds no plan, std::runtime_error (with the
  // process's last log lines) when a process fails to start.
  SimulatedCluster(const ClusterSpec& spec, const Pacing& pacing, const SimulatedClusterOptions& options,
                   ProgressLines& progress);

  int http_port() const { return http_port_; }
  // Reads whatever the processes wrote so far, so no pipe fills up and blocks them.
  void drain_output();
  // Each node's peak RSS in MiB (spec order), while it runs.
  std::vector<std::optional<double>> peak_rss_mib() const;

 private:
  void start_nodes(const ClusterSpec& spec, const Pacing& pacing, const SimulatedClusterOptions& options,
                   ProgressLines& progress, const std::vector<std::string>& env);
  void start_coordinator(const ClusterSpec& spec, const SimulatedClusterOptions& options, ProgressLines& progress,
                         const std::vector<std::string>& env);

  std::vector<std::unique_ptr<ChildProcess>> nodes_;
  std::vector<int> node_ports_;
  std::unique_ptr<ChildProcess> coordinator_;
  int http_port_ = 0;
};

// GET /v1/cluster, read into the struct the coordinator writes it from.
std::optional<ClusterStatus> get_cluster_status(int http_port);

// The coordinator's plan, its ranges indexing the spec's devices, and each member's own
// accounting of the memory it uses (MiB, by device name).
struct ActualPlan {
  std::vector<StageRange> split;
  std::map<std::string, double> used_mib;
};
// Throws std::runtime_error when the coordinator has no plan or plans for a device the
// spec does not have.
ActualPlan actual_plan(int http_port, const ClusterSpec& spec);

}  // namespace baton::sim
