// What a node offers the planner, each figure measured unless its owner typed it: usable
// memory (device_probe), compute and memory bandwidth (host_calibration), device kind.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace baton {

struct OfferOverrides {
  std::optional<uint64_t> memory_mib;  // --memory (0: no limit)
  std::optional<double> gflops;        // --gflops
  std::optional<double> bandwidth_gbs; // --bandwidth
  std::optional<std::string> kind;     // --kind
  uint64_t reserve_mib = 1024;         // kept for the system and other apps
  unsigned threads = 0;                // the kernels' threads (0: all cores)
  std::string cache_dir;               // where calibrations are cached
  std::string root = "/";              // tests: a fake /proc and /sys
};

struct DeviceOffer {
  uint64_t memory_mib = 0;  // 0: no limit (nothing known and nothing typed)
  double gflops = 0, bandwidth_gbs = 0;
  std::string kind = "pc";
  std::string detected;             // "mem,gflops,bw,kind" or the subset measured
  std::vector<std::string> sources; // one phrase per figure, for the start-up log
  double calibration_ms = 0;        // time spent measuring (0: cached or typed)
};

// Detected memory is rounded down to a multiple of this: MemAvailable moves all the time,
// and nodes on one machine should offer the same figure.
inline constexpr uint64_t kDetectedMemoryStepMib = 64;

DeviceOffer measure_offer(const OfferOverrides& overrides);

}  // namespace baton
