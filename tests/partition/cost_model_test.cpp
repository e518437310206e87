// The planner's predictions on a small case worked out by hand (numbers in the comments),
// and the wording of its explanations.
#include <gtest/gtest.h>

#include "partition/plan.h"

namespace baton {
namespace {

// 4 layers of 1e8 bytes / 1e8 weights, embedding 5e7 bytes, head 8e7 bytes,
// 8 heads of 64 (2 KV heads): KV f16 = 2 * 2 * 64 * 2 = 512 bytes per token per layer.
ModelCostProfile hand_model() {
  ModelCostProfile m;
  m.n_layers = 4;
  m.layer_weight_bytes.assign(4, 100'000'000);
  m.layer_flops.assign(4, 2e8);
  m.embed_bytes = 50'000'000;
  m.head_bytes = 80'000'000;
  m.head_flops = 2.0 * 1000 * 1024;
  m.dim = 1024;
  m.n_heads = 8;
  m.n_kv_heads = 2;
  m.head_dim = 64;
  m.vocab_size = 1000;
  return m;
}

PlanRequest hand_request() {
  PlanRequest r;
  r.model = hand_model();
  r.ctx = 1000;  // predicted at position 500
  r.kv_dtype = DType::F16;
  r.margin = {0.0, 0.0};
  r.coordinator = {0.5, 1000};
  r.hop_software_ms = 0;  // the hand figures below are links only; see HopSoftwareCost...
  r.devices.push_back({"A", "pc", 4096, 100, 10, 2, 100});
  r.devices.push_back({"B", "laptop", 1024, 50, 20, 1, 1000});
  return r;
}

TEST(PartitionCostModel, HopSoftwareCostIsAddedToEveryHopIncludingTheReturn) {
  PlanRequest r = hand_request();
  const Plan links_only = plan_memory(r);
  r.hop_software_ms = 0.25;
  const Plan with_software = plan_memory(r);
  ASSERT_TRUE(links_only.feasible && with_software.feasible);
  ASSERT_EQ(with_software.stages.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(with_software.stages[i].link_ms, links_only.stages[i].link_ms + 0.25, 1e-9);
  }
  EXPECT_NEAR(with_software.return_link_ms, links_only.return_link_ms + 0.25, 1e-9);
  EXPECT_NEAR(with_software.ms_per_token, links_only.ms_per_token + 3 * 0.25, 1e-9);  // 3 hops
}

TEST(PartitionCostModel, MemoryStrategyHandComputed) {
  const Plan p = plan_memory(hand_request());
  ASSERT_TRUE(p.feasible) << p.reason;
  // Caps 4096 : 1024 MiB -> 3.2 and 0.8 layers -> 3 and 1 by largest remainder.
  ASSERT_EQ(p.stages.size(), 2u);
  const PlanStage& a = p.stages[0];
  const PlanStage& b = p.stages[1];
  EXPECT_EQ(a.device_id, "A");
  EXPECT_EQ(a.first, 0);
  EXPECT_EQ(a.last, 3);
  EXPECT_EQ(b.first, 3);
  EXPECT_EQ(b.last, 4);
  EXPECT_TRUE(a.holds_embed && !a.holds_head);
  EXPECT_TRUE(b.holds_head && !b.holds_embed);
  // A holds 3e8 + 5e7 weights and 512 * 1000 * 3 KV bytes.
  EXPECT_DOUBLE_EQ(a.weight_bytes, 350'000'000.0);
  EXPECT_DOUBLE_EQ(a.kv_bytes, 1'536'000.0);
  EXPECT_DOUBLE_EQ(b.weight_bytes, 180'000'000.0);
  EXPECT_DOUBLE_EQ(a.memory_share, 0.8);
  // A: flops 6e8 + 3 * 2048 * 500 = 603072000 -> 6.03072 ms at 100 GFLOP/s;
  //    bytes 3e8 + 3 * 512 * 500 + 5e7 / 1000 = 300818000 -> 30.0818 ms at 10 GB/s.
  EXPECT_NEAR(a.compute_ms, 6.03072, 1e-9);
  EXPECT_NEAR(a.memory_ms, 30.0818, 1e-9);
  EXPECT_NEAR(a.stage_ms, 30.0818, 1e-9);
  EXPECT_FALSE(a.compute_bound());
  // B: flops 2e8 + 1024000 + 2048000 -> 4.06144 ms; bytes 1e8 + 256000 + 8e7 -> 9.0128 ms.
  EXPECT_NEAR(b.compute_ms, 4.06144, 1e-9);
  EXPECT_NEAR(b.memory_ms, 9.0128, 1e-9);
  // Hops: coordinator->A 0.5 + 2 + 68*8 bits / 100 Mbit/s = 2.50544 ms;
  // A->B 2 + 1 + (64 + 1024 * 1.0625) * 8 / 100 Mbit/s = 3.09216 ms;
  // B->coordinator 1 + 0.5 + 384 * 8 / 1000 Mbit/s = 1.503072 ms.
  EXPECT_NEAR(a.link_ms, 2.50544, 1e-9);
  EXPECT_NEAR(b.link_ms, 3.09216, 1e-9);
  EXPECT_NEAR(p.return_link_ms, 1.503072, 1e-9);
  EXPECT_NEAR(p.ms_per_token, 46.195272, 1e-9);
  EXPECT_NEAR(p.tokens_per_s, 1000.0 / 46.195272, 1e-9);
  EXPECT_DOUBLE_EQ(p.predicted_position, 500.0);
}

TEST(PartitionCostModel, LatencyStrategyPrefersTheFasterDeviceAlone) {
  const Plan p = plan_latency(hand_request());
  ASSERT_TRUE(p.feasible) << p.reason;
  // B alone: flops 8e8 + 4096000 + 2048000 -> 16.12288 ms; bytes 4e8 + 1024000 + 50000 + 8e7
  // -> 24.0537 ms; hops 1.500544 + 1.503072: 27.057316 ms in total.
  ASSERT_EQ(p.stages.size(), 1u);
  EXPECT_EQ(p.stages[0].device_id, "B");
  EXPECT_TRUE(p.stages[0].holds_embed && p.stages[0].holds_head);
  EXPECT_NEAR(p.ms_per_token, 27.057316, 1e-9);
}

TEST(PartitionCostModel, TiedEmbeddingCountedOnceOnOneDeviceTwiceWhenSplit) {
  PlanRequest r = hand_request();
  r.model.head_bytes = 50'000'000 + 4096;  // token_embd copy + output_norm
  r.model.tied_shared_bytes = 50'000'000;
  const Plan one = evaluate_split(r, {{1, 0, 4}}, Strategy::Latency);
  ASSERT_TRUE(one.feasible) << one.reason;
  EXPECT_DOUBLE_EQ(one.stages[0].weight_bytes, 4e8 + 5e7 + 4096);
  const Plan two = evaluate_split(r, {{0, 0, 2}, {1, 2, 4}}, Strategy::Latency);
  ASSERT_TRUE(two.feasible) << two.reason;
  EXPECT_DOUBLE_EQ(two.stages[0].weight_bytes, 2e8 + 5e7);
  EXPECT_DOUBLE_EQ(two.stages[1].weight_bytes, 2e8 + 5e7 + 4096);
}

// Gemma 3 4B's attention shape (34 layers, every sixth global, window 1024, 4 KV heads of
// 256: 4096 f16 bytes per position per layer) at a 32k context: a sliding layer reserves
// its window's rows (model/sliding_window.h), a global one the context. Without the
// windows the same request reserves the context everywhere.
TEST(PartitionCostModel, SlidingWindowLayersReserveTheirRowsNotTheContext) {
  PlanRequest r = hand_request();
  ModelCostProfile& m = r.model;
  m.n_layers = 34;
  m.layer_weight_bytes.assign(34, 1000);
  m.layer_flops.assign(34, 2000);
  m.n_heads = 8;
  m.n_kv_heads = 4;
  m.head_dim = 256;
  m.sliding.window = 1024;
  for (int il = 0; il < 34; ++il) m.sliding.sliding.push_back(il % 6 != 5);
  r.ctx = 32768;
  r.devices[0].memory_mib = 1 << 20;
  r.devices[1].memory_mib = 1 << 20;
  const double per_position = 4096;
  const double rows = 1024 - 1 + kSlidingRollback + kSlidingHeadroom;
  const Plan one = evaluate_split(r, {{0, 0, 34}}, Strategy::Memory);
  EXPECT_DOUBLE_EQ(one.stages[0].kv_bytes, per_position * (5 * 32768.0 + 29 * rows));
  // Split after layer 17: layers 0-16 hold globals 5 and 11; 17-33 hold 17, 23 and 29.
  const Plan two = evaluate_split(r, {{0, 0, 17}, {1, 17, 34}}, Strategy::Memory);
  EXPECT_DOUBLE_EQ(two.stages[0].kv_bytes, per_position * (2 * 32768.0 + 15 * rows));
  EXPECT_DOUBLE_EQ(two.stages[1].kv_bytes, per_position * (3 * 32768.0 + 14 * rows));
  // Two sessions (plan_for_sessions folds them into ctx): each keeps its own rows.
  r.ctx = 2 * 32768;
  r.sessions = 2;
  EXPECT_DOUBLE_EQ(evaluate_split(r, {{0, 0, 34}}, Strategy::Memory).stages[0].kv_bytes,
                   2 * per_position * (5 * 32768.0 + 29 * rows));
  m.sliding = {};
  EXPECT_DOUBLE_EQ(evaluate_split(r, {{0, 0, 34}}, Strategy::Memory).stages[0].kv_bytes, 2 * per_position * 34 * 32768.0);
}

TEST(PartitionCostModel, KvDtypeAndMarginChangeTheReserve) {
  PlanRequest r = hand_request();
  r.kv_dtype = DType::Q8_0;  // 2 * 2 * 64 * 34 / 32 = 272 bytes per token per layer
  EXPECT_DOUBLE_EQ(evaluate_split(r, {{0, 0, 4}}, Strategy::Memory).stages[0].kv_bytes, 272.0 * 1000 * 4);
  r.kv_dtype = DType::F32;
  EXPECT_DOUBLE_EQ(evaluate_split(r, {{0, 0, 4}}, Strategy::Memory).stages[0].kv_bytes, 1024.0 * 1000 * 4);
  r.margin = {0.25, 24};
  EXPECT_DOUBLE_EQ(evaluate_split(r, {{1, 0, 4}}, Strategy::Memory).stages[0].cap_bytes, (768.0 - 24) * 1024 * 1024);
}

TEST(PartitionCostModel, MalformedSplitsAreRejectedWithAReason) {
  const PlanRequest r = hand_request();
  EXPECT_NE(evaluate_split(r, {}, Strategy::Memory).reason.find("no stages"), std::string::npos);
  EXPECT_NE(evaluate_split(r, {{0, 0, 2}, {1, 3, 4}}, Strategy::Memory).reason.find("starts at layer 3"), std::string::npos);
  EXPECT_NE(evaluate_split(r, {{0, 0, 2}, {0, 2, 4}}, Strategy::Memory).reason.find("two stages"), std::string::npos);
  EXPECT_NE(evaluate_split(r, {{0, 0, 3}}, Strategy::Memory).reason.find("ends at layer 3"), std::string::npos);
  EXPECT_NE(evaluate_split(r, {{5, 0, 4}}, Strategy::Memory).reason.find("device #5"), std::string::npos);
  for (const auto& split : std::vector<std::vector<StageRange>>{{}, {{0, 0, 2}, {1, 3, 4}}, {{0, 1, 4}}}) {
    const Plan p = evaluate_split(r, split, Strategy::Memory);
    EXPECT_FALSE(p.feasible);
    EXPECT_TRUE(p.stages.empty());
  }
}

TEST(PartitionCostModel, InvalidRequestsAreExplainedNotPlanned) {
  auto expect_invalid = [](const PlanRequest& r, const std::string& needle) {
    for (Strategy s : {Strategy::Memory, Strategy::Latency}) {
      const Plan p = make_plan(r, s);
      EXPECT_FALSE(p.feasible);
      EXPECT_TRUE(p.stages.empty());
      EXPECT_NE(p.reason.find(needle), std::string::npos) << p.reason;
    }
  };
  PlanRequest r = hand_request();
  r.devices.clear();
  expect_invalid(r, "no devices");
  r = hand_request();
  r.devices[1].id = "A";
  expect_invalid(r, "appears twice");
  r = hand_request();
  r.devices[0].memory_mib = -5;
  expect_invalid(r, "field 'memory_mib'");
  r = hand_request();
  r.ctx = 0;
  expect_invalid(r, "context 0");
  r = hand_request();
  r.kv_dtype = DType::Q4_K;
  expect_invalid(r, "not supported");
  r = hand_request();
  r.model.layer_flops.pop_back();
  expect_invalid(r, "layer_flops");
  r = hand_request();
  r.margin.fraction = 1.0;
  expect_invalid(r, "margin");
}

TEST(PartitionCostModel, MemoryShortfallNamesDevicesAndTotals) {
  PlanRequest r = hand_request();
  r.devices[0].memory_mib = 300;  // split 3 : 1; A needs 351536000 B = 335.25 MiB
  r.devices[1].memory_mib = 100;  // B needs 180512000 B = 172.15 MiB
  const Plan p = plan_memory(r);
  ASSERT_FALSE(p.feasible);
  EXPECT_TRUE(p.stages.empty());
  ASSERT_EQ(p.rejected.size(), 2u);
  EXPECT_NE(p.reason.find("device 'A'"), std::string::npos) << p.reason;
  EXPECT_NE(p.reason.find("short by 35.3 MiB"), std::string::npos) << p.reason;
  EXPECT_NE(p.reason.find("device 'B'"), std::string::npos) << p.reason;
  EXPECT_NE(p.reason.find("short by 72.1 MiB"), std::string::npos) << p.reason;
  // 532048000 B = 507.4 MiB needed in total against 400 MiB.
  EXPECT_NE(p.reason.find("507.4 MiB"), std::string::npos) << p.reason;
  EXPECT_NE(p.reason.find("short by 107.4 MiB"), std::string::npos) << p.reason;
  EXPECT_NE(p.reason.find("no context would fit"), std::string::npos) << p.reason;
  EXPECT_EQ(p.max_fitting_ctx, 0);
}

TEST(PartitionCostModel, MemoryShortfallSuggestsTheLargestContext) {
  PlanRequest r = hand_request();
  r.devices[0].memory_mib = 334;  // 350224384 bytes each: split 2 : 2
  r.devices[1].memory_mib = 334;
  r.ctx = 90'000;  // A needs 250e6 + 92.16e6 bytes and fits; B does not
  // B holds 2e8 + 8e7 bytes of weights and 1024 bytes of KV per token:
  // (350224384 - 280000000) / 1024 = 68578.5 -> 68578 tokens.
  const Plan p = plan_memory(r);
  ASSERT_FALSE(p.feasible);
  EXPECT_EQ(p.max_fitting_ctx, 68578);
  EXPECT_NE(p.reason.find("at most 68578 tokens"), std::string::npos) << p.reason;
  EXPECT_NE(p.reason.find("device 'B'"), std::string::npos) << p.reason;
  EXPECT_EQ(p.reason.find("device 'A'"), std::string::npos) << p.reason;
}

// A stage that needs exactly its cap fits; one byte more does not. Every figure is an
// integer below 2^53, so the doubles hold them exactly and the boundary is the comparison.
TEST(PartitionCostModel, StageNeedingExactlyItsCapFitsOneByteMoreDoesNot) {
  constexpr double kCapB = 1024.0 * 1024 * 1024;  // B: 1024 MiB, no margin
  // B holds layer 3 (1e8 bytes), the head and 512 * 1000 bytes of KV.
  PlanRequest exact = hand_request();
  exact.model.head_bytes = static_cast<uint64_t>(kCapB) - 100'000'000 - 512'000;
  PlanRequest over = exact;
  over.model.head_bytes += 1;

  const Plan at_cap = evaluate_split(exact, {{0, 0, 3}, {1, 3, 4}}, Strategy::Memory);
  ASSERT_EQ(at_cap.stages.size(), 2u);
  EXPECT_DOUBLE_EQ(at_cap.stages[1].total_bytes, kCapB);
  EXPECT_DOUBLE_EQ(at_cap.stages[1].cap_bytes, kCapB);
  EXPECT_TRUE(at_cap.stages[1].fits);
  EXPECT_TRUE(at_cap.feasible) << at_cap.reason;
  const Plan one_more = evaluate_split(over, {{0, 0, 3}, {1, 3, 4}}, Strategy::Memory);
  EXPECT_FALSE(one_more.feasible);
  ASSERT_EQ(one_more.rejected.size(), 2u);
  EXPECT_TRUE(one_more.rejected[0].fits);
  EXPECT_FALSE(one_more.rejected[1].fits);
  EXPECT_DOUBLE_EQ(one_more.rejected[1].total_bytes, kCapB + 1);

  // The strategies decide with the same comparison: the memory split is 3 : 1 as above.
  EXPECT_TRUE(plan_memory(exact).feasible) << plan_memory(exact).reason;
  EXPECT_FALSE(plan_memory(over).feasible);
  // One device alone: the latency search has no other place for the head.
  PlanRequest alone = exact;
  alone.devices.erase(alone.devices.begin());
  // Alone, B holds every layer and the embedding too: 4e8 + 5e7 + head + 4 * 512000.
  alone.model.head_bytes = static_cast<uint64_t>(kCapB) - 450'000'000 - 2'048'000;
  EXPECT_TRUE(plan_latency(alone).feasible) << plan_latency(alone).reason;
  EXPECT_TRUE(plan_memory(alone).feasible) << plan_memory(alone).reason;
  alone.model.head_bytes += 1;
  EXPECT_FALSE(plan_latency(alone).feasible);
  EXPECT_FALSE(plan_memory(alone).feasible);
}

// The largest context is the one whose KV reserve lands exactly on the cap.
TEST(PartitionCostModel, LargestContextIsTheOneThatFillsTheCapExactly) {
  PlanRequest r = hand_request();
  r.devices.erase(r.devices.begin());  // B alone: 1024 MiB
  // B holds 4e8 + 5e7 + 8e7 bytes of weights and 4 * 512 = 2048 bytes of KV per token;
  // leave room for exactly 70000 tokens.
  r.model.head_bytes = static_cast<uint64_t>(1024.0 * 1024 * 1024) - 450'000'000 - 2048 * 70'000;
  r.ctx = 70'001;
  const Plan p = plan_memory(r);
  ASSERT_FALSE(p.feasible);
  EXPECT_EQ(p.max_fitting_ctx, 70'000);
  r.ctx = 70'000;
  EXPECT_TRUE(plan_memory(r).feasible) << plan_memory(r).reason;
}

TEST(PartitionCostModel, StrategyNamesRoundTrip) {
  for (Strategy s : {Strategy::Memory, Strategy::Latency}) EXPECT_EQ(parse_strategy(strategy_name(s)), s);
  EXPECT_FALSE(parse_strategy("fastest").has_value());
}

}  // namespace
}  // namespace baton
