// The coordinator's planning question, asked in one place: its members' device profiles,
// the KV cache type and the wire's bytes per element make the request, and the plan holds
// as many concurrent sessions as every stage's memory allows. The simulator predicts
// from the same request, so its prediction is the coordinator's plan.
#pragma once

#include <cstdint>
#include <vector>

#include "partition/plan.h"

namespace baton {

PlanRequest cluster_plan_request(ModelCostProfile model, std::vector<DeviceProfile> devices, DType kv_dtype,
                                 double wire_bytes_per_element);

// The plan for as many concurrent sessions (each `context` tokens of KV on every stage)
// as the devices' memory holds, at most `max_sessions`. If not even one fits, the plan is
// infeasible with the planner's reason and `sessions` is 1.
struct SessionPlan {
  Plan plan;
  uint32_t sessions = 0;
};
SessionPlan plan_for_sessions(PlanRequest request, int64_t context, uint32_t max_sessions, Strategy strategy);

}  // namespace baton
