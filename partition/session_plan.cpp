#include "partition/session_plan.h"

#include <algorithm>
#include <utility>

namespace baton {

PlanRequest cluster_plan_request(ModelCostProfile model, std::vector<DeviceProfile> devices, DType kv_dtype,
                                 double wire_bytes_per_element) {
  PlanRequest r;
  r.model = std::move(model);
  r.devices = std::move(devices);
  r.kv_dtype = kv_dtype;
  r.wire_bytes_per_element = wire_bytes_per_element;
  return r;
}

SessionPlan plan_for_sessions(PlanRequest request, int64_t context, uint32_t max_sessions, Strategy strategy) {
  SessionPlan out;
  for (uint32_t n = std::max(max_sessions, 1u); n >= 1; --n) {
    request.ctx = context * n;  // every stage reserves KV room for n sessions
    request.sessions = n;
    out.plan = make_plan(request, strategy);
    out.sessions = n;
    if (out.plan.feasible) return out;
  }
  // Not even one session fits: report the one-session plan's reason.
  return out;
}

}  // namespace baton
