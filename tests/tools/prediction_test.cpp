// Predictions for simulated clusters: the work of a token comes from the planner's cost
// model, a device's effective speed is its roofline, and a split is timed at the
// workload's position while its memory stays that of the real context.
#include <gtest/gtest.h>

#include "tools/simulate/prediction.h"

namespace baton::sim {
namespace {

ModelCostProfile model() {
  UniformModelShape s;
  s.n_layers = 4;
  s.layer_weight_bytes = 1'000'000;
  s.layer_weight_elements = 1'000'000;
  s.embed_bytes = 4'000'000;
  s.head_bytes = 4'000'000;
  s.dim = 256;
  s.n_heads = 8;
  s.n_kv_heads = 2;
  s.head_dim = 32;
  s.vocab_size = 4096;
  s.ctx_train = 256;
  return make_uniform_cost_profile(s);
}

ClusterSpec spec() {
  ClusterSpec c;
  SimDevice a, b;
  a.profile = {"a", "phone", 3072, 60, 30, 4, 300};
  b.profile = {"b", "pc", 4096, 300, 40, 0.2, 940};
  c.devices = {a, b};
  return c;
}

TEST(SimulatePrediction, TokenWorkGrowsWithPosition) {
  const TokenWork early = token_work(model(), 1);
  const TokenWork late = token_work(model(), 200);
  EXPECT_GT(early.flops, 2.0 * 4 * 1'000'000);  // 2 per weight, plus the head
  EXPECT_GT(late.flops, early.flops);            // attention over more positions
  EXPECT_GT(late.bytes, early.bytes);            // more KV read
}

TEST(SimulatePrediction, EffectiveSpeedIsTheRoofline) {
  const TokenWork w{2e9, 1e9};  // 2 FLOPs per byte
  EXPECT_DOUBLE_EQ(effective_gflops({"x", "pc", 1, 100, 100, 0, 1}, w), 100);  // compute-bound
  EXPECT_DOUBLE_EQ(effective_gflops({"x", "pc", 1, 100, 10, 0, 1}, w), 20);    // bandwidth-bound: 10 GB/s * 2
}

TEST(SimulatePrediction, PacingSlowsTheRunUntilTheFastestDeviceCanBePaced) {
  const TokenWork w{2e9, 1e9};  // a: 60 GFLOP/s but 30 GB/s -> 60; b: 300 GFLOP/s, 40 GB/s -> 80
  const Pacing p = pace_cluster(spec(), w, 50, 0);
  ASSERT_EQ(p.effective_gflops.size(), 2u);
  EXPECT_DOUBLE_EQ(p.effective_gflops[0], 60);
  EXPECT_DOUBLE_EQ(p.effective_gflops[1], 80);
  EXPECT_DOUBLE_EQ(p.scale, 80.0 / 50 * 1.15);  // b, 15% slower than this machine
  EXPECT_DOUBLE_EQ(pace_cluster(spec(), w, 500, 0).scale, 1);  // a fast host runs in real time
  EXPECT_DOUBLE_EQ(pace_cluster(spec(), w, 50, 3).scale, 3);   // asked for: taken as given
}

TEST(SimulatePrediction, CoordinatorOnThisMachineCostsNoLatency) {
  const PlanRequest r = plan_request(spec(), model(), 256, 2, 34.0 / 32);
  EXPECT_EQ(r.ctx, 512);
  EXPECT_DOUBLE_EQ(r.coordinator.latency_ms, 0);
  const Plan p = predict_split(r, {{0, 0, 2}, {1, 2, 4}}, Strategy::Memory, 20);
  ASSERT_TRUE(p.feasible) << p.reason;
  ASSERT_EQ(p.stages.size(), 2u);
  // Hop into a: a's 4 ms; a -> b: 4 + 0.2 ms; back: b's 0.2 ms (plus bytes / bandwidth and
  // each hop's software cost).
  const double sw = r.hop_software_ms;
  EXPECT_NEAR(p.stages[0].link_ms, 4.0 + sw, 0.01);
  EXPECT_NEAR(p.stages[1].link_ms, 4.2 + sw, 0.01);
  EXPECT_NEAR(p.return_link_ms, 0.2 + sw, 0.01);
  EXPECT_NEAR(p.tokens_per_s, 1000.0 / p.ms_per_token, 1e-9);
}

TEST(SimulatePrediction, TimedAtThePositionSizedAtTheContext) {
  const PlanRequest r = plan_request(spec(), model(), 256, 1, 1.0625);
  const Plan early = predict_split(r, {{0, 0, 2}, {1, 2, 4}}, Strategy::Memory, 2);
  const Plan mid = evaluate_split(r, {{0, 0, 2}, {1, 2, 4}}, Strategy::Memory);  // at ctx / 2
  ASSERT_TRUE(early.feasible && mid.feasible);
  EXPECT_LT(early.stages[0].stage_ms, mid.stages[0].stage_ms);
  EXPECT_DOUBLE_EQ(early.stages[0].kv_bytes, mid.stages[0].kv_bytes);
  EXPECT_DOUBLE_EQ(early.stages[0].total_bytes, mid.stages[0].total_bytes);
}

TEST(SimulatePrediction, TooLittleMemoryIsInfeasibleWithTheReason) {
  ClusterSpec s = spec();
  s.devices[0].profile.memory_mib = 1;
  const PlanRequest r = plan_request(s, model(), 256, 1, 1.0625);
  const Plan p = predict_split(r, {{0, 0, 2}, {1, 2, 4}}, Strategy::Memory, 10);
  EXPECT_FALSE(p.feasible);
  EXPECT_TRUE(p.stages.empty());
  EXPECT_EQ(p.rejected.size(), 2u);
  EXPECT_NE(p.reason.find("device 'a' needs"), std::string::npos) << p.reason;
}

}  // namespace
}  // namespace baton::sim
