#include "tools/simulate/prediction.h"

#include <algorithm>
#include <cmath>

#include "partition/session_plan.h"

namespace baton::sim {

PlanRequest plan_request(const ClusterSpec& spec, const ModelCostProfile& model, int64_t context, int sessions,
                         double wire_bytes_per_element) {
  std::vector<DeviceProfile> devices;
  for (const SimDevice& d : spec.devices) devices.push_back(d.profile);
  // The coordinator's own request (partition/session_plan.h), for `sessions` sessions.
  PlanRequest r = cluster_plan_request(model, std::move(devices), DType::F16, wire_bytes_per_element);
  r.ctx = context * sessions;
  r.coordinator.latency_ms = 0;        // on this machine, unshaped
  r.coordinator.bandwidth_mbps = 1e6;
  return r;
}

TokenWork token_work(const ModelCostProfile& model, double position) {
  // One reference device holding everything at 1 GFLOP/s and 1 GB/s: its stage times in
  // ms are the token's MFLOPs and MB.
  PlanRequest r;
  r.model = model;
  DeviceProfile ref;
  ref.id = "reference";
  ref.kind = "other";
  ref.memory_mib = int64_t{16} * 1024 * 1024;
  ref.compute_gflops = 1;
  ref.memory_bandwidth_gbs = 1;
  ref.link_bandwidth_mbps = 1;
  r.devices.push_back(ref);
  r.ctx = std::max<int64_t>(1, static_cast<int64_t>(std::llround(2 * position)));
  const Plan p = evaluate_split(r, {{0, 0, model.n_layers}}, Strategy::Memory);
  const std::vector<PlanStage>& stages = p.feasible ? p.stages : p.rejected;
  TokenWork w;
  if (!stages.empty()) {
    w.flops = stages.front().compute_ms * 1e6;
    w.bytes = stages.front().memory_ms * 1e6;
  }
  return w;
}

double effective_gflops(const DeviceProfile& device, const TokenWork& work) {
  if (work.flops <= 0) return device.compute_gflops;
  const double ms = std::max(work.flops / (device.compute_gflops * 1e6), work.bytes / (device.memory_bandwidth_gbs * 1e6));
  return work.flops / (ms * 1e6);
}

Pacing pace_cluster(const ClusterSpec& spec, const TokenWork& work, double host_gflops, double requested_scale) {
  Pacing p;
  p.host_gflops = host_gflops;
  double fastest = 0;
  for (const SimDevice& d : spec.devices) {
    p.effective_gflops.push_back(effective_gflops(d.profile, work));
    fastest = std::max(fastest, p.effective_gflops.back());
  }
  // Slow enough that the fastest device is still slower than this machine, with room
  // for noise.
  p.scale = requested_scale > 0 ? requested_scale : std::max(1.0, fastest / host_gflops * 1.15);
  return p;
}

Plan predict_split(const PlanRequest& request, const std::vector<StageRange>& split, Strategy strategy, double position) {
  PlanRequest at = request;
  at.ctx = std::max<int64_t>(1, static_cast<int64_t>(std::llround(2 * position)));
  Plan timed = evaluate_split(at, split, strategy);
  // Memory figures (and whether it fits) belong to the real context.
  const Plan held = evaluate_split(request, split, strategy);
  std::vector<PlanStage>& t = timed.feasible ? timed.stages : timed.rejected;
  const std::vector<PlanStage>& h = held.feasible ? held.stages : held.rejected;
  for (size_t i = 0; i < t.size() && i < h.size(); ++i) {
    t[i].kv_bytes = h[i].kv_bytes;
    t[i].total_bytes = h[i].total_bytes;
    t[i].cap_bytes = h[i].cap_bytes;
    t[i].fits = h[i].fits;
  }
  std::vector<PlanStage> stages = std::move(t);
  timed.stages.clear();
  timed.rejected.clear();
  (held.feasible ? timed.stages : timed.rejected) = std::move(stages);
  timed.ctx = request.ctx;
  timed.total_need_bytes = held.total_need_bytes;
  timed.feasible = held.feasible;
  timed.reason = held.reason;
  return timed;
}

}  // namespace baton::sim
