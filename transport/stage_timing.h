// One stage's figures for one frame, carried along the ring in the frame and returned
// with the logits: what the coordinator's statistics are made of.
#pragma once

#include <cstdint>

namespace baton {

struct StageTimingRecord {
  uint32_t stage = 0;
  uint64_t compute_us = 0, decode_us = 0, raw_bytes = 0, wire_bytes = 0;
  uint64_t received_ns = 0, sent_ns = 0;  // steady clock (see StageTiming in baton.capnp)
};

// Steady-clock nanoseconds, the clock of StageTimingRecord's stamps.
uint64_t steady_now_ns();

}  // namespace baton
