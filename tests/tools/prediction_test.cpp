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
  const TokenWork none{};       // no prompt measurement: decoding alone decides
  const Pacing p = pace_cluster(spec(), w, none, 50, 0, 0);
  ASSERT_EQ(p.effective_gflops.size(), 2u);
  EXPECT_DOUBLE_EQ(p.effective_gflops[0], 60);
  EXPECT_DOUBLE_EQ(p.effective_gflops[1], 80);
  EXPECT_DOUBLE_EQ(p.scale, 80.0 / 50 * 1.15);  // b, 15% slower than this machine
  EXPECT_DOUBLE_EQ(pace_cluster(spec(), w, none, 500, 0, 0).scale, 1);  // a fast host runs in real time
  EXPECT_DOUBLE_EQ(pace_cluster(spec(), w, none, 50, 0, 3).scale, 3);   // asked for: taken as given
}

TEST(SimulatePrediction, PacingAlsoLeavesRoomForPrompts) {
  // A prompt frame of 40 FLOPs per byte is compute-bound everywhere: b computes it at its
  // full 300 GFLOP/s, which this machine (150 on prompts) must still beat by 15%.
  const TokenWork token{2e9, 1e9}, prompt{40e9, 1e9};
  const Pacing p = pace_cluster(spec(), token, prompt, 50, 150, 0);
  EXPECT_DOUBLE_EQ(p.scale, 300.0 / 150 * 1.15);
  EXPECT_DOUBLE_EQ(p.host_prompt_gflops, 150);
  // A fast prompt path leaves decoding to decide.
  EXPECT_DOUBLE_EQ(pace_cluster(spec(), token, prompt, 50, 1000, 0).scale, 80.0 / 50 * 1.15);
}

// One device of 1 GFLOP/s and 1 GB/s (1 MFLOP and 1 MB per ms) on a link of no latency
// and unlimited bandwidth, holding model(): 4 layers of 1e6 weights (2 MFLOP per row
// each, 1 MB), a head of 2 * 4096 * 256 FLOPs and 4 MB, 976.5625 embedding bytes per row,
// attention 4 * 8 * 32 = 1024 FLOPs per position per layer, KV 2 * 2 * 32 f16 = 256
// bytes per position per layer.
ClusterSpec solo() {
  ClusterSpec c;
  SimDevice d;
  d.profile = {"solo", "pc", 4096, 1, 1, 0, 1e9};
  c.devices = {d};
  return c;
}

// A frame's ms on solo by the formula written out: rows n from position p, logits on
// `logits` rows; compute-bound in every case below (checked).
double solo_frame_ms(int n, double p, int logits) {
  const double flops = n * 8e6 + 1024.0 * 4 * (n * p + n * (n - 1) / 2.0) + logits * 2.0 * 4096 * 256;
  const double bytes = 4e6 + (logits > 0 ? 4e6 : 0) + 256.0 * 4 * (p + n - 1) + n * 976.5625;
  EXPECT_GT(flops, bytes);
  return flops / 1e6;
}

TEST(SimulatePrediction, TimeToFirstTokenSendsThePromptInChunksOneAfterAnother) {
  const PlanRequest r = plan_request(solo(), model(), 256, 1, 1.0625);
  const std::vector<StageRange> split{{0, 0, 4}};
  const double hops = 2 * r.hop_software_ms;  // into the stage, back to the coordinator
  // One frame of 10 rows.
  EXPECT_NEAR(predict_ttft_ms(r, split, 10, 0, 64), solo_frame_ms(10, 0, 1) + hops, 1e-3);
  // Chunks of 4: 4 + 4 + 2 rows, each waiting for the previous one's answer.
  EXPECT_NEAR(predict_ttft_ms(r, split, 10, 0, 4),
              solo_frame_ms(4, 0, 1) + solo_frame_ms(4, 4, 1) + solo_frame_ms(2, 8, 1) + 3 * hops, 1e-3);
  // 6 tokens cached: 4 rows from position 6. All cached: the last token is still sent.
  EXPECT_NEAR(predict_ttft_ms(r, split, 10, 6, 64), solo_frame_ms(4, 6, 1) + hops, 1e-3);
  EXPECT_NEAR(predict_ttft_ms(r, split, 10, 10, 64), solo_frame_ms(1, 9, 1) + hops, 1e-3);
}

TEST(SimulatePrediction, SpeculativeDecodeCountsVerificationsAsFramesOfTheirRows) {
  const PlanRequest r = plan_request(solo(), model(), 256, 1, 1.0625);
  const std::vector<StageRange> split{{0, 0, 4}};
  const double hops = 2 * r.hop_software_ms;
  const double step_ms = 10;  // what the plan charges a one-row step
  // No verifications: every token one step.
  EXPECT_NEAR(predict_decode_tokens_per_s(r, split, step_ms, 20, {10, 0, 0, 0}), 100, 1e-9);
  // 10 tokens: 2 verifications of 3 drafts (frames of 4 rows, logits on each) that gave
  // 4 accepted drafts + 2 tokens, and 4 one-row steps.
  const double ms = 2 * (solo_frame_ms(4, 20, 4) + hops) + 4 * step_ms;
  EXPECT_NEAR(predict_decode_tokens_per_s(r, split, step_ms, 20, {10, 2, 6, 4}), 10 * 1000.0 / ms, 1e-4);  // the link's bytes add nanoseconds
  // 2.5 drafts per verification: halfway between frames of 3 and 4 rows.
  const double half = 2 * (0.5 * (solo_frame_ms(3, 20, 3) + hops) + 0.5 * (solo_frame_ms(4, 20, 4) + hops)) + 4 * step_ms;
  EXPECT_NEAR(predict_decode_tokens_per_s(r, split, step_ms, 20, {10, 2, 5, 4}), 10 * 1000.0 / half, 1e-4);
  // A draft model on the coordinator: 0.5 ms for each of the 6 drafts, 3 ms to read the prompt.
  EXPECT_NEAR(predict_decode_tokens_per_s(r, split, step_ms, 20, {10, 2, 6, 4}, {0.5, 3}),
              10 * 1000.0 / (ms + 6 * 0.5 + 3), 1e-4);
  // Without verifications nothing was drafted: the draft model costs nothing.
  EXPECT_NEAR(predict_decode_tokens_per_s(r, split, step_ms, 20, {10, 0, 0, 0}, {0.5, 3}), 100, 1e-9);
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
