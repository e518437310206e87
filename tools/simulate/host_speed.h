// How fast this machine runs the simulated model: the yardstick every simulated device
// is paced against.
#pragma once

#include <string>

#include "model/cost_profile.h"

namespace baton::sim {

// Single-thread GFLOP/s decoding the model at `path`: the planner's FLOPs per decoded
// token at the workload's positions over the measured time, best of five passes.
double measure_host_gflops(const std::string& path, const ModelCostProfile& cost, int prompt_tokens, int decode_tokens);

}  // namespace baton::sim
