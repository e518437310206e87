#include "node/stage/device_offer.h"

#include <fmt/format.h>

#include <algorithm>

#include "node/stage/device_probe.h"
#include "node/stage/host_calibration.h"

namespace baton {

namespace {

void add_detected(DeviceOffer& o, const char* figure) {
  o.detected += (o.detected.empty() ? "" : ",") + std::string(figure);
}

void offer_memory(const OfferOverrides& in, DeviceOffer& o) {
  if (in.memory_mib) {
    o.memory_mib = *in.memory_mib;
    o.sources.push_back(o.memory_mib ? fmt::format("{} MiB (configured)", o.memory_mib)
                                     : std::string("no memory limit (configured)"));
    return;
  }
  const MemoryFacts facts = read_memory_facts(in.root);
  const uint64_t usable = usable_memory_mib(facts, in.reserve_mib);
  if (usable == 0) {
    o.sources.push_back("no memory limit (this system tells nothing: pass --memory MIB)");
    return;
  }
  o.memory_mib = std::max<uint64_t>(usable / kDetectedMemoryStepMib * kDetectedMemoryStepMib, std::min<uint64_t>(usable, kDetectedMemoryStepMib));
  add_detected(o, "mem");
  std::string basis = facts.available_bytes ? fmt::format("MemAvailable {} MiB", *facts.available_bytes >> 20) : "";
  if (facts.cgroup_limit_bytes) {
    basis += fmt::format("{}{} limit {} MiB, {} MiB used", basis.empty() ? "" : ", ", facts.limit_source,
                         *facts.cgroup_limit_bytes >> 20, facts.cgroup_usage_bytes >> 20);
  }
  o.sources.push_back(fmt::format("{} MiB (detected: {}, minus {} MiB reserve)", o.memory_mib, basis, in.reserve_mib));
}

void offer_speed(const OfferOverrides& in, DeviceOffer& o) {
  DeviceSpeed speed;
  if (!in.gflops || !in.bandwidth_gbs) {
    speed = calibrate_device(in.threads, in.cache_dir);
    o.calibration_ms = speed.measured_ms;
  }
  const std::string how = speed.from_cache ? "detected, cached"
                                           : fmt::format("detected in {:.0f} ms, {:.0f} ms of CPU", speed.measured_ms,
                                                         speed.cpu_ms);
  if (in.gflops) {
    o.gflops = *in.gflops;
    o.sources.push_back(fmt::format("{:.1f} GFLOP/s (configured)", o.gflops));
  } else {
    o.gflops = speed.gflops;
    add_detected(o, "gflops");
    o.sources.push_back(fmt::format("{:.1f} GFLOP/s ({})", o.gflops, how));
  }
  if (in.bandwidth_gbs) {
    o.bandwidth_gbs = *in.bandwidth_gbs;
    o.sources.push_back(fmt::format("{:.1f} GB/s (configured)", o.bandwidth_gbs));
  } else {
    o.bandwidth_gbs = speed.bandwidth_gbs;
    add_detected(o, "bw");
    o.sources.push_back(fmt::format("{:.1f} GB/s ({})", o.bandwidth_gbs, how));
  }
}

void offer_kind(const OfferOverrides& in, DeviceOffer& o) {
  if (in.kind) {
    o.kind = *in.kind;
    o.sources.push_back(fmt::format("kind {} (configured)", o.kind));
    return;
  }
  if (auto fact = detect_kind(in.root)) {
    o.kind = fact->kind;
    add_detected(o, "kind");
    o.sources.push_back(fmt::format("kind {} (detected: {})", o.kind, fact->source));
    return;
  }
  o.kind = "pc";
  o.sources.push_back("kind pc (the system does not say; pass --kind)");
}

}  // namespace

DeviceOffer measure_offer(const OfferOverrides& overrides) {
  DeviceOffer o;
  offer_memory(overrides, o);
  offer_speed(overrides, o);
  offer_kind(overrides, o);
  return o;
}

}  // namespace baton
