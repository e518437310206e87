// A simulated device computes slower than this machine (`baton simulate`): when does a
// stage's compute that just ended here end on the device? Pure arithmetic on nanosecond
// timestamps the caller supplies; node/stage/stage_shaping.h waits until then.
//
// Two ways to say how slow the device is:
//   - roofline (the device's GFLOP/s and GB/s, and the loaded stage's work): a frame takes
//     max(FLOPs / GFLOP/s, bytes read / GB/s) there, by the cost model the planner
//     predicts with (model/frame_cost.h), however many rows it has. A prompt chunk or a
//     speculative verification of k rows then costs the device what it would, not k
//     times this machine's one-row time; this machine's own time is only a floor;
//   - a factor: the device takes this machine's time times the factor (>= 1).
// The device works on one batch at a time, so a frame waits for the previous batch too.
// Frames computed as one batch each report the whole batch's time; they are recognised by
// an identical compute time whose (estimated) start lies before the previous frame's end,
// which distinct computes on one stage thread cannot do, and share one paced compute.
#pragma once

#include <cstdint>
#include <optional>

#include "model/frame_cost.h"

namespace baton {

class ComputePacer {
 public:
  // Factor pacing (< 1 is taken as 1: unpaced).
  explicit ComputePacer(double factor);
  // Roofline pacing at these device speeds (both > 0); frames are paced once set_stage
  // has said what the stage computes, and run unpaced before.
  ComputePacer(double device_gflops, double device_gbs);

  bool paced() const;
  void set_stage(const StageWork& work) { stage_ = work; }

  struct Paced {
    int64_t done_ns = 0;      // when the compute ends on the device
    uint64_t compute_us = 0;  // how long the device computes this frame's batch
  };
  // Compute of `compute_us` for `frame` ended (on this machine) at `end_ns`.
  Paced finish(int64_t end_ns, uint64_t compute_us, const FrameShape& frame);

 private:
  // The device's time for the current batch, which `real_ns` took here.
  int64_t device_ns(int64_t real_ns) const;

  double factor_ = 1;
  double gflops_ = 0, gbs_ = 0;
  std::optional<StageWork> stage_;
  int64_t busy_until_ns_ = INT64_MIN;
  int64_t batch_start_ns_ = 0;
  int64_t last_end_ns_ = INT64_MIN;
  uint64_t last_compute_us_ = UINT64_MAX;
  // The current batch's work: FLOPs add up; weights are read once, KV and embedding
  // rows per frame.
  double batch_flops_ = 0, batch_shared_bytes_ = 0, batch_own_bytes_ = 0;
};

}  // namespace baton
