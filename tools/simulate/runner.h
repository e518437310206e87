// One simulation: a real local cluster (one `baton node` process per device, shaped and
// paced like the device, and a `baton coordinator`) runs the workload over the HTTP API;
// the result is a RunReport next to the planner's prediction. Progress goes to stderr.
#pragma once

#include <stdexcept>
#include <string>

#include "partition/plan.h"
#include "tools/simulate/cluster_file.h"
#include "tools/simulate/report.h"

namespace baton::sim {

// The planner found no split that fits (exit status 2, like `baton plan`).
class NoPlanError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RunOptions {
  std::string baton_exe;     // the `baton` binary to start nodes and the coordinator with
  std::string model_path;    // resolved
  std::string work_dir;      // scratch (node shard caches)
  std::string cluster_label; // for the report
  // > 0: run this many times slower than the simulated cluster and scale the figures
  // back; 0: automatic (just slow enough that every device can be paced).
  double time_scale = 0;
  bool quiet = false;        // no progress lines
};

RunReport run_simulation(const ClusterSpec& spec, Strategy strategy, const RunOptions& options);

}  // namespace baton::sim
