// Heat and battery of a device as a node reads them (node/stage/device_health) and the
// coordinator judges them (node/coordinator/health_policy), carried by heartbeats.
#pragma once

#include <optional>

namespace baton {

struct HealthReading {
  std::optional<double> temperature_c;  // hottest plausible zone; nullopt: no thermal zones
  bool throttled = false;               // a CPU cooling device is active, or a passive trip point is passed
  std::optional<int> battery_percent;   // nullopt: no battery
  bool charging = false;                // on mains/USB power, charging or full
  bool operator==(const HealthReading&) const = default;
};

}  // namespace baton
