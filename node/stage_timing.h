// One stage's figures for one frame, carried along the ring in the frame and returned
// with the logits: what the coordinator's statistics are made of.
#pragma once

#include <cstdint>

namespace baton {

struct StageTimingRecord {
  uint32_t stage = 0;
  uint64_t compute_us = 0, decode_us = 0, raw_bytes = 0, wire_bytes = 0;
};

}  // namespace baton
