// When a node should step back because it is hot or low on battery, and when it may come
// back. Pure: fed each node's latest reading (from its heartbeats), returns decisions; the
// coordinator acts on them (a re-plan at the next session boundary, or at once, like a
// lost node, when critical). Hysteresis keeps a node near a threshold from flapping.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/health_reading.h"

namespace baton {

struct HealthThresholds {
  double hot_c = 80;         // plan the node out at the next session boundary
  double critical_c = 92;    // plan it out now, mid-generation
  double cool_c = 70;        // back in once at or below this (and not throttled)
  int battery_low = 20;      // percent, when not charging: plan out at the next boundary
  int battery_critical = 8;  // ... now
  int battery_ok = 30;       // back in at or above this, or once charging
  bool throttling_counts = true;  // a throttled CPU counts as hot
};

class HealthPolicy {
 public:
  enum class Action { plan_out, plan_out_now, plan_back_in };
  struct Decision {
    std::string node;
    Action action;
    std::string reason;  // "92.5 °C (critical at 92 °C)", "battery 15 % and not charging (low at 20 %)"
  };

  explicit HealthPolicy(HealthThresholds t = {}) : t_(t) {}

  // The node's latest reading; returns what changed (at most one decision per call).
  std::optional<Decision> update(const std::string& node, const HealthReading& reading);
  // A node that left the cluster: forget it.
  void forget(const std::string& node) { state_.erase(node); }
  bool benched(const std::string& node) const;
  // Nodes planned out and why.
  std::map<std::string, std::string> benched_nodes() const;

 private:
  struct NodeState {
    bool benched = false;
    bool critical = false;
    std::string reason;
  };
  // Why the reading puts the node out (empty: it does not); `critical` when it must go now.
  std::string out_reason(const HealthReading& r, bool& critical) const;
  bool may_return(const HealthReading& r) const;

  HealthThresholds t_;
  std::map<std::string, NodeState> state_;
};

const char* to_string(HealthPolicy::Action a);

}  // namespace baton
