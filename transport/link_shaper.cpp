#include "transport/link_shaper.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace baton {

namespace {

// splitmix64: tiny, seedable, the same sequence on every platform.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int64_t ms_to_ns(double ms) { return static_cast<int64_t>(std::llround(ms * 1e6)); }

}  // namespace

std::string validate_link_params(const LinkParams& p) {
  auto bad = [](double v) { return !std::isfinite(v) || v < 0; };
  if (bad(p.latency_ms) || p.latency_ms > 60'000) return fmt::format("latency {} ms is outside [0, 60000]", p.latency_ms);
  if (bad(p.jitter_ms)) return fmt::format("jitter {} ms is negative or not a number", p.jitter_ms);
  if (p.jitter_ms > p.latency_ms) {
    return fmt::format("jitter {} ms is larger than the latency {} ms (jitter is +- around the latency)", p.jitter_ms,
                       p.latency_ms);
  }
  if (bad(p.bandwidth_mbps) || p.bandwidth_mbps > 1e7) {
    return fmt::format("bandwidth {} Mbit/s is outside [0, 1e7] (0: unlimited)", p.bandwidth_mbps);
  }
  return {};
}

LinkShaper::LinkShaper(LinkParams params, uint64_t seed) : params_(params), rng_(seed) {}

int64_t LinkShaper::serialisation_ns(uint64_t bytes) const {
  if (params_.bandwidth_mbps <= 0) return 0;
  // bits / (Mbit/s) = microseconds; * 1000 for ns.
  return static_cast<int64_t>(std::llround(static_cast<double>(bytes) * 8.0 * 1000.0 / params_.bandwidth_mbps));
}

int64_t LinkShaper::jitter_ns() {
  if (params_.jitter_ms <= 0) return 0;
  // Uniform in [-1, 1) from the top 53 bits.
  const double u = static_cast<double>(next_random(rng_) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
  return ms_to_ns(u * params_.jitter_ms);
}

int64_t LinkShaper::arrival_ns(int64_t ready_ns, uint64_t bytes) {
  const int64_t start = std::max(ready_ns, link_free_ns_);
  link_free_ns_ = start + serialisation_ns(bytes);
  const int64_t flight = std::max<int64_t>(0, ms_to_ns(params_.latency_ms) + jitter_ns());
  const int64_t arrival = std::max(link_free_ns_ + flight, last_arrival_ns_);
  last_arrival_ns_ = arrival;
  return arrival;
}

}  // namespace baton
