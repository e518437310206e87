// The workload of a simulation: its requests sent to the coordinator's HTTP API as a
// client would (streamed completions, greedy), timed on the client's side, and the
// coordinator's own per-stage figures read back from /v1/cluster.
#pragma once

#include <string>
#include <vector>

#include "tools/simulate/cluster_file.h"
#include "tools/simulate/progress_lines.h"
#include "tools/simulate/report.h"
#include "tools/simulate/simulated_cluster.h"

namespace baton::sim {

struct RequestResult {
  bool ok = false;
  std::string error;
  RequestReport report;  // in the run's (time-scaled) milliseconds
};

// Per stage, summed over the requests that ran alone (divide by `samples`).
struct StageAccumulator {
  double compute_ms = 0, wire_bytes = 0;
  int samples = 0;
};

struct WorkloadRun {
  std::vector<RequestResult> results;     // in request order
  std::vector<StageAccumulator> stages;
  std::vector<TraceToken> trace;          // of the last request that ran alone, real time
  double wall_s = 0;                      // time-scaled
};

// Runs `workload.requests` requests, `workload.concurrency` at a time. Figures stay in
// the run's time (divide by `scale` for real time) except the trace, which is already
// scaled back. Failed requests are in `results` with their error.
WorkloadRun run_workload(const Workload& workload, SimulatedCluster& cluster, double scale, ProgressLines& progress);

}  // namespace baton::sim
