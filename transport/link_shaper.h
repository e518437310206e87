// Link shaping for simulated clusters (`baton simulate`): when does a frame that is ready
// to leave at time T arrive at the other end of a link with a given latency, jitter and
// bandwidth? Pure arithmetic on nanosecond timestamps the caller supplies; the node glue
// (node/stage_shaping.h) waits with a kj timer until the returned time.
//
// Model, per link and direction:
//   - the link carries one frame at a time: transmission starts when the frame is ready
//     and the previous frame has left, and takes bytes * 8 / bandwidth;
//   - then the frame is in flight for latency + jitter, jitter uniform in [-j, +j]
//     (seeded, reproducible; never below zero), so the mean is the configured latency;
//   - frames leave a link in the order they entered it: a frame never arrives before
//     the one sent ahead of it (TCP would hold it back just the same).
#pragma once

#include <cstdint>
#include <string>

namespace baton {

struct LinkParams {
  double latency_ms = 0;      // one way
  double jitter_ms = 0;       // +- around latency_ms
  double bandwidth_mbps = 0;  // 0: unlimited
  bool shaped() const { return latency_ms > 0 || jitter_ms > 0 || bandwidth_mbps > 0; }
};

// Empty when usable, else what is wrong ("jitter 5 ms is larger than the latency 2 ms").
std::string validate_link_params(const LinkParams& p);

class LinkShaper {
 public:
  LinkShaper(LinkParams params, uint64_t seed);

  // A frame of `bytes` is ready to leave at `ready_ns`; returns when it arrives
  // (>= ready_ns, and >= every earlier arrival on this link).
  int64_t arrival_ns(int64_t ready_ns, uint64_t bytes);

  const LinkParams& params() const { return params_; }
  // Transmission time of `bytes` at this link's bandwidth (0 when unlimited).
  int64_t serialisation_ns(uint64_t bytes) const;

 private:
  int64_t jitter_ns();

  LinkParams params_;
  uint64_t rng_;
  int64_t link_free_ns_ = INT64_MIN;     // when the previous frame finished transmitting
  int64_t last_arrival_ns_ = INT64_MIN;  // FIFO: no overtaking
};

}  // namespace baton
