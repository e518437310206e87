// Strategy `memory`: layer counts proportional to each device's usable memory, in the
// order given. Simple and predictable; the latency strategy exists for when it is not
// good enough.
#include <fmt/format.h>

#include "partition/cost_model.h"
#include "partition/plan.h"

namespace baton {
namespace {

std::vector<StageRange> proportional_split(const CostModel& cost) {
  std::vector<double> caps;
  for (size_t d = 0; d < cost.n_devices(); ++d) caps.push_back(cost.cap_bytes(d));
  const std::vector<int> counts = apportion(cost.n_layers(), caps);
  std::vector<StageRange> split;
  int next = 0;
  for (size_t d = 0; d < counts.size(); ++d) {
    if (counts[d] == 0) continue;  // too little memory for even a rounded-up layer
    split.push_back({d, next, next + counts[d]});
    next += counts[d];
  }
  return split;
}

bool split_fits(const CostModel& cost, const std::vector<StageRange>& split) {
  for (const StageRange& r : split) {
    if (!cost.fits(r.device_index, r.first, r.last)) return false;
  }
  return true;
}

}  // namespace

Plan plan_memory(const PlanRequest& request) {
  if (std::string problem = validate_request(request); !problem.empty()) {
    Plan plan;
    plan.strategy = Strategy::Memory;
    plan.ctx = request.ctx;
    plan.reason = "invalid request: " + problem;
    return plan;
  }
  const CostModel cost(request);
  if (!(cost.total_cap_bytes() > 0)) {
    Plan plan;
    plan.strategy = Strategy::Memory;
    plan.ctx = request.ctx;
    plan.total_need_bytes = cost.total_need_bytes(request.devices.size());
    plan.reason = fmt::format("no device has memory left after the safety margin ({:g}% + {:g} MiB)",
                              request.margin.fraction * 100, request.margin.mib);
    plan.max_fitting_ctx = 0;
    return plan;
  }
  const std::vector<StageRange> split = proportional_split(cost);
  Plan plan = evaluate_split(request, split, Strategy::Memory);
  if (plan.feasible) return plan;

  // The split does not depend on the context, so only the KV reserve can shrink.
  const int64_t max_ctx = largest_fitting_context(request.ctx - 1, [&](int64_t ctx) {
    const PlanRequest smaller = with_context(request, ctx);
    return split_fits(CostModel(smaller), split);
  });
  plan.max_fitting_ctx = max_ctx;

  const double need = plan.total_need_bytes, have = plan.total_cap_bytes;
  std::string total =
      need > have
          ? fmt::format("in total the model needs {:.1f} MiB at context {} and the devices can use {:.1f} MiB: "
                        "short by {:.1f} MiB",
                        need / kMiB, request.ctx, have / kMiB, (need - have) / kMiB)
          : fmt::format("in total the model needs {:.1f} MiB at context {} and the devices can use {:.1f} MiB, "
                        "so the proportional split is the problem (the latency strategy may find one that fits)",
                        need / kMiB, request.ctx, have / kMiB);
  std::string context = max_ctx > 0
                            ? fmt::format("a context of at most {} tokens would fit with this split", max_ctx)
                            : std::string("no context would fit: the weights (with one token of KV) alone exceed a device's memory");
  plan.reason = fmt::format("{}; {}; {}", plan.reason, total, context);
  return plan;
}

}  // namespace baton
