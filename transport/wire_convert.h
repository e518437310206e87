// Converters between the Cap'n Proto wire structs and baton's plain structs: the one
// place each field is copied, so a new field is added once for the stage, the router and
// the tools alike.
#pragma once

#include "transport/activation_frame.h"
#include "transport/baton.capnp.h"
#include "transport/stage_timing.h"

namespace baton {

StageTimingRecord timing_from_wire(rpc::StageTiming::Reader t);
void timing_to_wire(const StageTimingRecord& t, rpc::StageTiming::Builder out);

// Copies a wire activation, refusing a payload larger than any valid frame within
// `limits` could be (the largest codec, uncompressible data) before allocating the copy.
ActivationFrame activation_from_wire(rpc::Activation::Reader a, uint64_t session, uint64_t step,
                                     const FrameLimits& limits);
void activation_to_wire(const ActivationFrame& f, rpc::Activation::Builder out);

}  // namespace baton
