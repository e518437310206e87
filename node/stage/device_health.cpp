#include "node/stage/device_health.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <string_view>

namespace baton {

namespace {

namespace fs = std::filesystem;

std::string read_line(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  char buffer[128] = {0};
  in.read(buffer, sizeof(buffer) - 1);
  std::string_view s(buffer, static_cast<size_t>(in.gcount()));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

std::optional<long long> read_number(const fs::path& path) {
  const std::string s = read_line(path);
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool contains(std::string haystack, std::string_view needle) {
  std::transform(haystack.begin(), haystack.end(), haystack.begin(), [](unsigned char c) { return std::tolower(c); });
  return haystack.find(needle) != std::string::npos;
}

// Entries of a sysfs class directory, bounded (a device has a handful).
template <typename Fn>
void for_each_entry(const fs::path& dir, std::string_view prefix, Fn fn) {
  std::error_code ec;
  int seen = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (++seen > 256) break;
    if (e.path().filename().string().rfind(prefix, 0) == 0) fn(e.path());
  }
}

void read_thermal(const fs::path& root, HealthReading& r) {
  const fs::path thermal = root / "sys/class/thermal";
  for_each_entry(thermal, "thermal_zone", [&](const fs::path& zone) {
    const auto milli = read_number(zone / "temp");
    if (!milli) return;
    const double c = static_cast<double>(*milli) / 1000.0;
    if (c <= -40 || c >= 200) return;  // sensors report nonsense when absent or broken
    r.temperature_c = std::max(r.temperature_c.value_or(c), c);
    // A passive trip point passed means the kernel is slowing the CPU down.
    for (int i = 0; i < 16; ++i) {
      const std::string type = read_line(zone / ("trip_point_" + std::to_string(i) + "_type"));
      if (type.empty()) break;
      const auto trip = read_number(zone / ("trip_point_" + std::to_string(i) + "_temp"));
      if (type == "passive" && trip && *trip > 0 && *milli >= *trip) r.throttled = true;
    }
  });
  for_each_entry(thermal, "cooling_device", [&](const fs::path& device) {
    const std::string type = read_line(device / "type");
    const auto state = read_number(device / "cur_state");
    if (state && *state > 0 && (contains(type, "processor") || contains(type, "cpu"))) r.throttled = true;
  });
}

void read_power(const fs::path& root, HealthReading& r) {
  for_each_entry(root / "sys/class/power_supply", "", [&](const fs::path& supply) {
    const std::string type = read_line(supply / "type");
    if (type == "Battery") {
      if (read_line(supply / "scope") == "Device") return;  // a mouse's battery, not ours
      const auto capacity = read_number(supply / "capacity");
      if (capacity && *capacity >= 0 && *capacity <= 100) {
        r.battery_percent = std::min(r.battery_percent.value_or(100), static_cast<int>(*capacity));
      }
      const std::string status = read_line(supply / "status");
      if (status == "Charging" || status == "Full") r.charging = true;
    } else if (type == "Mains" || type == "USB" || type == "USB_C" || type == "USB_PD" || type == "Wireless") {
      if (read_number(supply / "online").value_or(0) > 0) r.charging = true;
    }
  });
}

}  // namespace

HealthReading read_health(const fs::path& root) {
  HealthReading r;
  read_thermal(root, r);
  read_power(root, r);
  return r;
}

}  // namespace baton
