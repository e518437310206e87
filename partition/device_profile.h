// What a device offers to a plan: memory for weights and KV cache, arithmetic speed,
// memory bandwidth and its network link. Profiles come from TOML files
// (configs/devices/*.toml) or, at run time, from discovery.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace baton {

struct DeviceProfile {
  std::string id;                     // unique within a cluster, e.g. "phone"
  std::string kind;                   // phone, tablet, laptop, pc, sbc, server, other
  int64_t memory_mib = 0;             // usable for weights + KV cache (not the whole RAM)
  double compute_gflops = 0;          // effective GFLOP/s on matrix-vector work
  double memory_bandwidth_gbs = 0;    // effective GB/s when streaming weights
  double link_latency_ms = 0;         // one-way latency from this device onto the LAN
  double link_bandwidth_mbps = 0;     // Mbit/s this device's link sustains
};

// Any problem with a profile file: the message names the file and the field.
class DeviceProfileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses one profile from TOML text. `label` names the source in errors (usually the
// path). Flat keys: id, kind, memory_mib, compute_gflops, memory_bandwidth_gbs,
// link_latency_ms, link_bandwidth_mbps, and an optional free-text description.
// Throws DeviceProfileError for syntax errors, missing or unknown fields, wrong types and
// values out of range, e.g.
//   "configs/devices/phone.toml: field 'memory_mib': expected a positive integer, found -5".
DeviceProfile parse_device_profile(std::string_view toml_text, const std::string& label);

// Checks a profile built in code (e.g. from discovery) with the same rules as the parser.
// Returns empty when valid, else "<label>: field '...': ...".
std::string validate_device_profile(const DeviceProfile& device, const std::string& label);

// Largest accepted profile file: profiles are a handful of lines.
inline constexpr size_t kMaxDeviceProfileBytes = 64 * 1024;

}  // namespace baton
