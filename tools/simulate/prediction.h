// What the planner predicts for a simulated cluster, and how fast each simulated device's
// node must be paced so that its stages take the time the planner charges them. Pure:
// figures in, figures out.
#pragma once

#include <vector>

#include "model/cost_profile.h"
#include "partition/plan.h"
#include "tools/simulate/cluster_file.h"

namespace baton::sim {

// The request the coordinator makes for this cluster (the profiles' figures; KV for
// `sessions` sessions of `context` tokens on every stage; the wire's bytes per element),
// with the coordinator on this machine: its own hops cost nothing but the devices' links.
PlanRequest plan_request(const ClusterSpec& spec, const ModelCostProfile& model, int64_t context, int sessions,
                         double wire_bytes_per_element);

// Arithmetic and bytes read for one decoded token through the whole model at `position`
// (the planner's cost model, asked through evaluate_split).
struct TokenWork {
  double flops = 0;
  double bytes = 0;
};
TokenWork token_work(const ModelCostProfile& model, double position);

// A device's speed on this model: the planner charges a stage max(flops / GFLOP/s,
// bytes / GB/s), i.e. the device computes at min(GFLOP/s, GB/s * flops/byte).
double effective_gflops(const DeviceProfile& device, const TokenWork& work);

// How the simulation runs this cluster on this machine: each device's speed on this
// model, and how many times slower than real time the whole run goes so that even the
// fastest device can be paced (a stage is only ever slowed down, never sped up).
struct Pacing {
  double host_gflops = 0;               // this machine, one thread, on this model
  double scale = 1;                     // >= 1
  std::vector<double> effective_gflops; // per device (spec order), unscaled
};
// `requested_scale` > 0 is taken as given; 0 picks the smallest scale with 15% headroom.
Pacing pace_cluster(const ClusterSpec& spec, const TokenWork& work, double host_gflops, double requested_scale);

// The planner's times for `split` (from the coordinator's actual plan) at decode
// `position` rather than at the middle of the context: what this workload should see.
// Layer ranges index `request.devices`.
Plan predict_split(const PlanRequest& request, const std::vector<StageRange>& split, Strategy strategy, double position);

}  // namespace baton::sim
