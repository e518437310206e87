#include "node/coordinator/health_policy.h"

#include <fmt/format.h>

namespace baton {

const char* to_string(HealthPolicy::Action a) {
  switch (a) {
    case HealthPolicy::Action::plan_out: return "plan_out";
    case HealthPolicy::Action::plan_out_now: return "plan_out_now";
    case HealthPolicy::Action::plan_back_in: return "plan_back_in";
  }
  return "?";
}

std::string HealthPolicy::out_reason(const HealthReading& r, bool& critical) const {
  critical = false;
  if (r.temperature_c && *r.temperature_c >= t_.critical_c) {
    critical = true;
    return fmt::format("{:.1f} °C (critical at {:g} °C)", *r.temperature_c, t_.critical_c);
  }
  const bool discharging = r.battery_percent && !r.charging;
  if (discharging && *r.battery_percent <= t_.battery_critical) {
    critical = true;
    return fmt::format("battery {} % and not charging (critical at {} %)", *r.battery_percent, t_.battery_critical);
  }
  if (r.temperature_c && *r.temperature_c >= t_.hot_c) {
    return fmt::format("{:.1f} °C (hot at {:g} °C)", *r.temperature_c, t_.hot_c);
  }
  if (t_.throttling_counts && r.throttled) {
    return r.temperature_c ? fmt::format("CPU throttled at {:.1f} °C", *r.temperature_c) : "CPU throttled";
  }
  if (discharging && *r.battery_percent <= t_.battery_low) {
    return fmt::format("battery {} % and not charging (low at {} %)", *r.battery_percent, t_.battery_low);
  }
  return "";
}

bool HealthPolicy::may_return(const HealthReading& r) const {
  if (r.temperature_c && *r.temperature_c > t_.cool_c) return false;
  if (t_.throttling_counts && r.throttled) return false;
  if (r.battery_percent && !r.charging && *r.battery_percent < t_.battery_ok) return false;
  return true;
}

std::optional<HealthPolicy::Decision> HealthPolicy::update(const std::string& node, const HealthReading& reading) {
  NodeState& s = state_[node];
  bool critical = false;
  const std::string why = out_reason(reading, critical);
  if (!s.benched) {
    if (why.empty()) return std::nullopt;
    s = NodeState{true, critical, why};
    return Decision{node, critical ? Action::plan_out_now : Action::plan_out, why};
  }
  // Benched: a planned-out node turning critical needs nothing more (it holds no layers
  // once the re-plan has happened); it comes back only once clearly recovered.
  if (!why.empty() || !may_return(reading)) {
    if (!why.empty()) s.reason = why;
    return std::nullopt;
  }
  std::string back = reading.temperature_c ? fmt::format("{:.1f} °C", *reading.temperature_c) : std::string();
  if (reading.battery_percent) {
    back += fmt::format("{}battery {} %{}", back.empty() ? "" : ", ", *reading.battery_percent,
                        reading.charging ? " and charging" : "");
  }
  s = NodeState{};
  return Decision{node, Action::plan_back_in, back.empty() ? std::string("recovered") : back};
}

bool HealthPolicy::benched(const std::string& node) const {
  auto it = state_.find(node);
  return it != state_.end() && it->second.benched;
}

std::map<std::string, std::string> HealthPolicy::benched_nodes() const {
  std::map<std::string, std::string> out;
  for (const auto& [node, s] : state_) {
    if (s.benched) out[node] = s.reason;
  }
  return out;
}

}  // namespace baton
