// Request validation and the scoring of a split: the single place where a split becomes
// predicted bytes and milliseconds.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "partition/cost_model.h"
#include "partition/plan.h"

namespace baton {

std::string_view strategy_name(Strategy strategy) {
  return strategy == Strategy::Memory ? "memory" : "latency";
}

std::optional<Strategy> parse_strategy(std::string_view name) {
  if (name == "memory") return Strategy::Memory;
  if (name == "latency") return Strategy::Latency;
  return std::nullopt;
}

std::string validate_request(const PlanRequest& request) {
  if (std::string problem = request.model.validate(); !problem.empty()) return "model: " + problem;
  if (request.devices.empty()) return "no devices";
  if (request.devices.size() > kMaxPlanDevices) {
    return fmt::format("{} devices; at most {} are supported", request.devices.size(), kMaxPlanDevices);
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < request.devices.size(); ++i) {
    const DeviceProfile& d = request.devices[i];
    if (std::string problem = validate_device_profile(d, fmt::format("device #{} ('{}')", i, d.id)); !problem.empty()) {
      return problem;
    }
    if (!ids.insert(d.id).second) return fmt::format("device id '{}' appears twice", d.id);
  }
  if (request.ctx < 1 || request.ctx > kMaxPlanContext) {
    return fmt::format("context {} is outside [1, {}]", request.ctx, kMaxPlanContext);
  }
  if (request.sessions < 1 || request.sessions > request.ctx) {
    return fmt::format("{} sessions for a context of {} tokens: need 1 to {}", request.sessions, request.ctx, request.ctx);
  }
  try {
    (void)kv_bytes_per_element(request.kv_dtype);
  } catch (const std::exception& e) {
    return e.what();
  }
  const SafetyMargin& m = request.margin;
  if (!(m.fraction >= 0 && m.fraction < 1)) return fmt::format("safety margin fraction {} is outside [0, 1)", m.fraction);
  if (!(m.mib >= 0 && std::isfinite(m.mib))) return fmt::format("safety margin {} MiB is negative", m.mib);
  auto positive = [](double v) { return v > 0 && std::isfinite(v); };
  if (!positive(request.wire_bytes_per_element)) return "wire bytes per element must be positive";
  if (!(request.frame_header_bytes >= 0) || !(request.request_bytes >= 0) || !(request.reply_bytes >= 0) ||
      !std::isfinite(request.frame_header_bytes + request.request_bytes + request.reply_bytes)) {
    return "frame, request and reply sizes must not be negative";
  }
  if (!(request.coordinator.latency_ms >= 0) || !positive(request.coordinator.bandwidth_mbps) ||
      !std::isfinite(request.coordinator.latency_ms)) {
    return "coordinator link: latency must be >= 0 and bandwidth positive";
  }
  return {};
}

namespace {

std::string malformed(const PlanRequest& request, const std::vector<StageRange>& split) {
  const int n_layers = request.model.n_layers;
  if (split.empty()) return "the split has no stages";
  std::set<size_t> used;
  int expected_first = 0;
  for (size_t s = 0; s < split.size(); ++s) {
    const StageRange& r = split[s];
    if (r.device_index >= request.devices.size()) return fmt::format("stage {} names device #{}", s, r.device_index);
    if (!used.insert(r.device_index).second) return fmt::format("device #{} holds two stages", r.device_index);
    if (r.first != expected_first) return fmt::format("stage {} starts at layer {}, expected {}", s, r.first, expected_first);
    if (r.last <= r.first || r.last > n_layers) return fmt::format("stage {} has layers [{}, {})", s, r.first, r.last);
    expected_first = r.last;
  }
  if (expected_first != n_layers) return fmt::format("the split ends at layer {}, the model has {}", expected_first, n_layers);
  return {};
}

std::string shortfall(const PlanStage& s, int64_t ctx) {
  return fmt::format(
      "device '{}' needs {:.1f} MiB for layers [{}, {}) (weights {:.1f} MiB + KV {:.1f} MiB for {} tokens) "
      "but can use {:.1f} MiB: short by {:.1f} MiB",
      s.device_id, s.total_bytes / kMiB, s.first, s.last, s.weight_bytes / kMiB, s.kv_bytes / kMiB, ctx,
      s.cap_bytes / kMiB, (s.total_bytes - s.cap_bytes) / kMiB);
}

}  // namespace

Plan evaluate_split(const PlanRequest& request, const std::vector<StageRange>& split, Strategy label) {
  Plan plan;
  plan.strategy = label;
  plan.ctx = request.ctx;
  if (std::string problem = validate_request(request); !problem.empty()) {
    plan.reason = "invalid request: " + problem;
    return plan;
  }
  if (std::string problem = malformed(request, split); !problem.empty()) {
    plan.reason = "malformed split: " + problem;
    return plan;
  }
  const CostModel cost(request);
  plan.predicted_position = cost.position();
  plan.total_cap_bytes = cost.total_cap_bytes();
  plan.total_need_bytes = cost.total_need_bytes(split.size());

  std::vector<PlanStage> stages;
  // Summed in path order (hop, stage, hop, stage, ..., return hop) like the planners do,
  // so their totals and this one agree exactly.
  double total_ms = 0;
  bool all_fit = true;
  for (size_t s = 0; s < split.size(); ++s) {
    const StageRange& r = split[s];
    const DeviceProfile& d = request.devices[r.device_index];
    PlanStage st;
    st.device_index = r.device_index;
    st.device_id = d.id;
    st.kind = d.kind;
    st.first = r.first;
    st.last = r.last;
    st.holds_embed = r.first == 0;
    st.holds_head = r.last == cost.n_layers();
    st.weight_bytes = cost.weight_bytes(r.first, r.last);
    st.kv_bytes = cost.kv_bytes(r.first, r.last);
    st.total_bytes = st.weight_bytes + st.kv_bytes;
    st.cap_bytes = cost.cap_bytes(r.device_index);
    const StageTime t = cost.stage_time(r.device_index, r.first, r.last);
    st.compute_ms = t.compute_ms;
    st.memory_ms = t.memory_ms;
    st.stage_ms = t.ms();
    st.link_ms = s == 0 ? cost.first_hop_ms(r.device_index) : cost.middle_hop_ms(split[s - 1].device_index, r.device_index);
    st.memory_share = plan.total_cap_bytes > 0 ? st.cap_bytes / plan.total_cap_bytes : 0.0;
    st.fits = cost.fits(r.device_index, r.first, r.last);
    all_fit = all_fit && st.fits;
    total_ms += st.link_ms;
    total_ms += st.stage_ms;
    stages.push_back(std::move(st));
  }
  plan.return_link_ms = cost.return_hop_ms(split.back().device_index);
  total_ms += plan.return_link_ms;
  plan.ms_per_token = total_ms;
  plan.tokens_per_s = total_ms > 0 ? 1000.0 / total_ms : 0.0;

  if (all_fit) {
    plan.feasible = true;
    plan.stages = std::move(stages);
  } else {
    std::string reason;
    for (const PlanStage& st : stages) {
      if (st.fits) continue;
      if (!reason.empty()) reason += "; ";
      reason += shortfall(st, request.ctx);
    }
    plan.reason = reason;
    plan.rejected = std::move(stages);
  }
  return plan;
}

std::vector<int> apportion(int total, const std::vector<double>& weights) {
  std::vector<int> counts(weights.size(), 0);
  double sum = 0;
  for (double w : weights) sum += std::max(0.0, w);
  if (weights.empty() || total <= 0 || !(sum > 0)) return counts;
  std::vector<double> remainder(weights.size(), 0.0);
  int assigned = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const double exact = static_cast<double>(total) * std::max(0.0, weights[i]) / sum;
    counts[i] = static_cast<int>(std::floor(exact));
    remainder[i] = exact - counts[i];
    assigned += counts[i];
  }
  // Largest remainders first; ties go to the earlier device so the result is stable.
  std::vector<size_t> order(weights.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return remainder[a] > remainder[b]; });
  for (size_t k = 0; assigned < total; k = (k + 1) % order.size()) {
    ++counts[order[k]];
    ++assigned;
  }
  // Rounding noise could in principle overshoot; take back from the smallest remainders.
  while (assigned > total) {
    for (size_t k = order.size(); k-- > 0;) {
      if (counts[order[k]] > 0) {
        --counts[order[k]];
        --assigned;
        break;
      }
    }
  }
  return counts;
}

Plan make_plan(const PlanRequest& request, Strategy strategy) {
  return strategy == Strategy::Memory ? plan_memory(request) : plan_latency(request);
}

}  // namespace baton
