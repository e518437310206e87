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

namespace {

// The whole model on one reference device of 1 GFLOP/s and 1 GB/s (times in ms are then
// MFLOPs and MB), its KV filled to `position`.
PlanRequest reference_request(const ModelCostProfile& model, double position) {
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
  return r;
}

}  // namespace

TokenWork token_work(const ModelCostProfile& model, double position) {
  const PlanRequest r = reference_request(model, position);
  const Plan p = evaluate_split(r, {{0, 0, model.n_layers}}, Strategy::Memory);
  const std::vector<PlanStage>& stages = p.feasible ? p.stages : p.rejected;
  TokenWork w;
  if (!stages.empty()) {
    w.flops = stages.front().compute_ms * 1e6;
    w.bytes = stages.front().memory_ms * 1e6;
  }
  return w;
}

TokenWork frame_flops(const ModelCostProfile& model, int rows) {
  // With memory this fast, compute binds: the frame's time in ms is its MFLOPs.
  PlanRequest r = reference_request(model, 1);
  r.devices.front().memory_bandwidth_gbs = 1e12;
  TokenWork w;
  w.flops = time_frame(r, {{0, 0, model.n_layers}}, FrameShape{std::max(rows, 1), 1, 0}).stage_ms.front() * 1e6;
  w.bytes = token_work(model, 1).bytes;  // the weights, read once for the frame
  return w;
}

double effective_gflops(const DeviceProfile& device, const TokenWork& work) {
  if (work.flops <= 0) return device.compute_gflops;
  const double ms = std::max(work.flops / (device.compute_gflops * 1e6), work.bytes / (device.memory_bandwidth_gbs * 1e6));
  return work.flops / (ms * 1e6);
}

Pacing pace_cluster(const ClusterSpec& spec, const TokenWork& token, const TokenWork& prompt, double host_gflops,
                    double host_prompt_gflops, double requested_scale) {
  Pacing p;
  p.host_gflops = host_gflops;
  p.host_prompt_gflops = host_prompt_gflops;
  double needed = 1;
  for (const SimDevice& d : spec.devices) {
    p.effective_gflops.push_back(effective_gflops(d.profile, token));
    // Slow enough that every device is still slower than this machine, with room for noise.
    needed = std::max(needed, p.effective_gflops.back() / host_gflops * 1.15);
    if (host_prompt_gflops > 0) needed = std::max(needed, effective_gflops(d.profile, prompt) / host_prompt_gflops * 1.15);
  }
  p.scale = requested_scale > 0 ? requested_scale : needed;
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

double predict_ttft_ms(const PlanRequest& request, const std::vector<StageRange>& split, int prompt_tokens,
                       int cached_tokens, int chunk) {
  const int cached = std::clamp(cached_tokens, 0, std::max(0, prompt_tokens - 1));
  return prompt_ms(request, split, prompt_tokens - cached, cached, chunk);
}

double predict_decode_tokens_per_s(const PlanRequest& request, const std::vector<StageRange>& split,
                                   double ms_per_token, double position, const DecodeSteps& steps,
                                   const DraftCost& draft) {
  if (steps.tokens <= 0) return 0;
  double ms = 0;
  int plain = steps.tokens;
  if (steps.verify_steps > 0) {
    // The verifications' mean rows; a frame's time is piecewise linear in its rows, so
    // interpolate between the two whole row counts around the mean.
    const double rows = 1.0 + static_cast<double>(steps.drafted) / steps.verify_steps;
    const int below = static_cast<int>(std::floor(rows));
    const double frac = rows - below;
    auto frame_ms = [&](int n) { return time_frame(request, split, FrameShape{n, n, position}).total_ms(); };
    const double verify_ms = (1 - frac) * frame_ms(below) + (frac > 0 ? frac * frame_ms(below + 1) : 0.0);
    ms += steps.verify_steps * verify_ms + steps.drafted * draft.ms_per_draft + draft.prompt_ms;
    plain = std::max(0, steps.tokens - steps.accepted - steps.verify_steps);
  }
  ms += plain * ms_per_token;
  return ms > 0 ? steps.tokens * 1000.0 / ms : 0;
}

}  // namespace baton::sim
