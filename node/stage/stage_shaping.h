// A node behaving like a slower device behind a slower link (`baton simulate`), without
// touching the stage's own code: the node wraps the capabilities frames travel through.
//
//   incoming   frames (and session drops) reaching this node's Stage wait for the
//              device's downlink: latency + jitter + bytes / bandwidth;
//   outgoing   frames to the next stage and logits to the coordinator's sink first wait
//              for the device's compute (transport/compute_pacer.h: the frame's work at
//              the device's GFLOP/s and GB/s, or this machine's compute time * a pace
//              factor; the stage timing carried in the frame is rewritten to the paced
//              time), then for its uplink. Frames keep their order on each link.
//   ping       replies wait for one round trip over the device's link, so the RTT the
//              coordinator measures (and plans with) is the device's.
//
// A hop between two simulated devices thus costs the sender's uplink plus the receiver's
// downlink, the same sum the planner's cost model uses (partition/cost_model.cpp).
// With nothing to shape, every wrap_* returns its argument unchanged.
#pragma once

#include <kj/async-io.h>

#include <memory>
#include <string>

#include "transport/baton.capnp.h"
#include "model/frame_cost.h"
#include "transport/link_shaper.h"

namespace baton {

struct ShapingOptions {
  LinkParams link;          // this device's attachment to the network, both directions
  uint64_t seed = 1;        // jitter
  double pace_factor = 1;   // device compute time / this machine's (1: unpaced)
  // Roofline pacing instead (both > 0): the device's compute and memory bandwidth.
  double device_gflops = 0;
  double device_gbs = 0;
  bool roofline() const { return device_gflops > 0 && device_gbs > 0; }
};

// Empty when usable, else what is wrong.
std::string validate_shaping(const ShapingOptions& o);

class NodeShaping {
 public:
  NodeShaping(kj::AsyncIoContext& io, const ShapingOptions& options);
  ~NodeShaping();

  bool active() const;
  // What the loaded stage computes per frame (roofline pacing starts with it).
  void set_stage(const StageWork& work);
  rpc::Stage::Client wrap_incoming(rpc::Stage::Client own);
  rpc::Stage::Client wrap_outgoing(rpc::Stage::Client next);
  rpc::ResultSink::Client wrap_outgoing(rpc::ResultSink::Client sink);
  // Resolves after one round trip's latency over this device's link (ping replies).
  kj::Promise<void> round_trip();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace baton
