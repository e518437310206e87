// Heat and battery, read from Linux sysfs (phones, tablets and laptops all publish them):
// the hottest thermal zone, whether the CPU is being throttled, the battery's charge and
// whether the device is on external power. The root is a parameter so tests (and
// `baton node --sysfs-root`) can supply a fake tree. Every file read is bounded.
#pragma once

#include <filesystem>

#include "node/health_reading.h"

namespace baton {

// Reads <root>/sys/class/thermal and <root>/sys/class/power_supply.
HealthReading read_health(const std::filesystem::path& root = "/");

}  // namespace baton
