// One simulation, as a table of contents: predict (the planner on the profiles), calibrate
// (this machine against each device), start the cluster (one `baton node` process per
// device, shaped and paced like it, and a `baton coordinator`), run the workload over the
// HTTP API, and build the report next to the prediction. Progress goes to stderr.
// Throws baton::NoPlanError when no split fits (exit status 2, like `baton plan`).
#pragma once

#include <stdexcept>
#include <string>

#include "partition/plan.h"
#include "tools/simulate/cluster_file.h"
#include "tools/simulate/report.h"

namespace baton::sim {

struct RunOptions {
  std::string baton_exe;     // the `baton` binary to start nodes and the coordinator with
  std::string model_path;    // resolved
  std::string work_dir;      // scratch (node shard caches)
  std::string cluster_label; // for the report
  // > 0: run this many times slower than the simulated cluster and scale the figures
  // back; 0: automatic (just slow enough that every device can be paced).
  double time_scale = 0;
  bool quiet = false;        // no progress lines
  std::string speculative;   // the coordinator's --speculative (on | off | lookup | draft); empty: its default
  std::string draft_model;   // the coordinator's --draft; empty: none
};

RunReport run_simulation(const ClusterSpec& spec, Strategy strategy, const RunOptions& options);

}  // namespace baton::sim
