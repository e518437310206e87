// Compute pacing for simulated devices: by a factor, or by the roofline of the frame's
// work, batches sharing one paced compute, the device busy with one batch at a time.
#include <gtest/gtest.h>

#include "transport/compute_pacer.h"

namespace baton {
namespace {

constexpr int64_t kMs = 1'000'000;

FrameShape one_row(double position = 0) { return FrameShape{1, 1, position}; }

TEST(ComputePacer, StretchesComputeByTheFactor) {
  ComputePacer p(4.0);
  EXPECT_TRUE(p.paced());
  // 1 ms of compute ended at t = 10 ms: on the device it ends at 9 + 4 = 13 ms.
  const ComputePacer::Paced paced = p.finish(10 * kMs, 1000, one_row());
  EXPECT_EQ(paced.done_ns, 13 * kMs);
  EXPECT_EQ(paced.compute_us, 4000u);
}

TEST(ComputePacer, DeviceWorksOnOneFrameAtATime) {
  ComputePacer p(3.0);
  // Two 1 ms computes that really ran back to back (0-1 ms, 1-2 ms): on the device the
  // second starts when the first is done (3 ms) and ends at 6 ms.
  EXPECT_EQ(p.finish(1 * kMs, 1000, one_row()).done_ns, 3 * kMs);
  EXPECT_EQ(p.finish(2 * kMs, 1000, one_row()).done_ns, 6 * kMs);
  // Much later the device is idle again.
  EXPECT_EQ(p.finish(101 * kMs, 1000, one_row()).done_ns, 103 * kMs);
}

TEST(ComputePacer, FramesOfOneBatchShareOneCompute) {
  ComputePacer p(4.0);
  // A batch of three frames computed 1-2 ms, sent at 2.0, 2.05 and 2.1 ms, each
  // reporting the batch's 1 ms: one paced compute of 4 ms, 1-5 ms.
  EXPECT_EQ(p.finish(2 * kMs, 1000, one_row()).done_ns, 5 * kMs);
  EXPECT_EQ(p.finish(2 * kMs + kMs / 20, 1000, one_row()).done_ns, 5 * kMs);
  EXPECT_EQ(p.finish(2 * kMs + kMs / 10, 1000, one_row()).done_ns, 5 * kMs);
  // The next batch (1 ms, really computed 2.2-3.2 ms) waits for the device: 5-9 ms.
  EXPECT_EQ(p.finish(3 * kMs + kMs / 5, 1000, one_row()).done_ns, 9 * kMs);
}

TEST(ComputePacer, FactorBelowOneRunsUnpaced) {
  ComputePacer p(0.5);
  EXPECT_FALSE(p.paced());
  const ComputePacer::Paced paced = p.finish(5 * kMs, 700, one_row());
  EXPECT_EQ(paced.done_ns, 5 * kMs);
  EXPECT_EQ(paced.compute_us, 700u);
}

// A stage of 2 MFLOP per row and 4 MB of weights (no head, no attention): on a device of
// 1 GFLOP/s and 1 GB/s a row costs 2 ms of compute against 4 ms of reading.
StageWork small_stage() {
  StageWork w;
  w.layers = 1;
  w.layer_flops = 2e6;
  w.layer_bytes = 4e6;
  return w;
}

TEST(ComputePacer, RooflineWaitsForTheStageItPaces) {
  ComputePacer p(1.0, 1.0);
  EXPECT_FALSE(p.paced());  // nothing loaded: nothing to charge
  EXPECT_EQ(p.finish(5 * kMs, 100, one_row()).done_ns, 5 * kMs);
  p.set_stage(small_stage());
  EXPECT_TRUE(p.paced());
}

TEST(ComputePacer, RooflineChargesRowsByTheBoundThatBinds) {
  ComputePacer p(1.0, 1.0);
  p.set_stage(small_stage());
  // One row: memory-bound, 4 ms, whatever this machine took (0.1 ms, started at 9.9 ms).
  ComputePacer::Paced paced = p.finish(10 * kMs, 100, one_row());
  EXPECT_EQ(paced.done_ns, 9 * kMs + 9 * kMs / 10 + 4 * kMs);
  EXPECT_EQ(paced.compute_us, 4000u);
  // Two rows still read the weights once: 4 ms. Five rows are compute-bound: 10 ms.
  EXPECT_EQ(p.finish(100 * kMs, 100, FrameShape{2, 0, 0}).compute_us, 4000u);
  EXPECT_EQ(p.finish(200 * kMs, 100, FrameShape{5, 0, 0}).compute_us, 10000u);
}

TEST(ComputePacer, RooflineNeverRunsFasterThanThisMachine) {
  ComputePacer p(1000.0, 1000.0);
  p.set_stage(small_stage());  // 4 us on this device
  const ComputePacer::Paced paced = p.finish(10 * kMs, 2000, one_row());
  EXPECT_EQ(paced.done_ns, 10 * kMs);
  EXPECT_EQ(paced.compute_us, 2000u);
}

TEST(ComputePacer, RooflineBatchReadsWeightsOnceAndAddsFlops) {
  ComputePacer p(1.0, 1.0);
  p.set_stage(small_stage());
  // Three one-row frames computed as one batch (1-2 ms). Each frame leaves when the work
  // known so far is done: 2 or 4 MFLOP take no longer than reading the 4 MB (4 ms, until
  // 5 ms); with the third, 6 MFLOP take 6 ms, until 7 ms.
  EXPECT_EQ(p.finish(2 * kMs, 1000, one_row()).done_ns, 5 * kMs);
  EXPECT_EQ(p.finish(2 * kMs + kMs / 20, 1000, one_row()).done_ns, 5 * kMs);
  EXPECT_EQ(p.finish(2 * kMs + kMs / 10, 1000, one_row()).done_ns, 7 * kMs);
}

TEST(ComputePacer, RooflineCountsTheHeadOnlyForRowsWithLogits) {
  StageWork w = small_stage();
  w.head_flops = 1e6;
  w.head_bytes = 8e6;
  ComputePacer p(1.0, 1.0);
  p.set_stage(w);
  // A prompt chunk of 3 rows asking for its last row's logits: 6 + 1 MFLOP (7 ms) against
  // 4 + 8 MB (12 ms). Without logits (an earlier stage's view): 6 ms against 4 ms.
  EXPECT_EQ(p.finish(100 * kMs, 100, FrameShape{3, 1, 0}).compute_us, 12000u);
  EXPECT_EQ(p.finish(200 * kMs, 100, FrameShape{3, 0, 0}).compute_us, 6000u);
}

}  // namespace
}  // namespace baton
