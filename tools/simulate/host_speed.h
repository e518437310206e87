// How fast this machine runs the simulated model: the yardstick every simulated device
// is paced against.
#pragma once

#include <string>

#include "model/cost_profile.h"

namespace baton::sim {

// Single-thread GFLOP/s on the model at `path`, best of five passes: decoding (the
// planner's FLOPs per decoded token at the workload's positions over the measured time)
// and the prompt (its rows' FLOPs, as one frame, over its time).
struct HostSpeed {
  double decode_gflops = 0;
  double prompt_gflops = 0;
};
HostSpeed measure_host_speed(const std::string& path, const ModelCostProfile& cost, int prompt_tokens, int decode_tokens);

}  // namespace baton::sim
