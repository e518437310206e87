// GET /v1/cluster is written by cluster_status_json and read back by tools with
// cluster_status_from_json: the pair must agree field by field.
#include <gtest/gtest.h>

#include "node/coordinator/cluster_status.h"

namespace baton {
namespace {

ClusterStatus sample_status() {
  ClusterStatus s;
  s.model_id = "baton-kjv-5m";
  s.layers = 6;
  s.strategy = "memory";
  s.wire = "int8+zstd";
  s.plan.feasible = true;
  s.plan.tokens_per_s = 42.5;
  PlanStage a;
  a.device_id = "phone";
  a.first = 0;
  a.last = 2;
  a.holds_embed = true;
  a.total_bytes = 3 * 1024.0 * 1024.0;
  a.stage_ms = 1.25;
  a.link_ms = 0.5;
  PlanStage b = a;
  b.device_id = "pc";
  b.first = 2;
  b.last = 6;
  b.holds_embed = false;
  b.holds_head = true;
  s.plan.stages = {a, b};
  NodeStatus n;
  n.id = "phone";
  n.address = "10.0.0.2:7100";
  n.kind = "phone";
  n.memory_mib = 6144;
  n.compute_gflops = 30;
  n.bandwidth_gbs = 25;
  n.rtt_ms = 3.5;
  n.online = n.joined = n.in_plan = true;
  n.used_mib = 12;
  n.sessions = 2;
  Telemetry t;
  t.sequence = 9;
  t.rss_mib = 80;
  t.compute_us = 1500;
  n.telemetry = t;
  n.heartbeat_age_ms = 400;
  s.nodes = {n};
  s.sessions_active = 1;
  s.sessions_queued = 2;
  s.sessions_max = 4;
  RequestFigures r;
  r.prompt_tokens = 5;
  r.completion_tokens = 7;
  r.tokens_per_s = 33;
  r.ttft_ms = 20;
  r.stages = {{0, "phone", 1.5, 0.25, 40}, {1, "pc", 2.5, 0.5, 8}};
  PipelineStats::StepTrace step;
  step.sent_ns = 1'000'000'000;
  step.received_ns = 1'004'000'000;
  StageTimingRecord rec;
  rec.stage = 1;
  rec.received_ns = 1'001'000'000;
  rec.sent_ns = 1'003'000'000;
  rec.compute_us = 2000;
  step.stages = {rec};
  r.trace = {step};
  s.last = r;
  return s;
}

TEST(ClusterStatus, ReaderGetsBackWhatTheWriterWrote) {
  const ClusterStatus s = sample_status();
  const ClusterStatus back = cluster_status_from_json(cluster_status_json(s));
  EXPECT_EQ(back.model_id, s.model_id);
  EXPECT_EQ(back.layers, 6);
  EXPECT_EQ(back.wire, "int8+zstd");
  EXPECT_DOUBLE_EQ(back.plan.tokens_per_s, 42.5);
  ASSERT_EQ(back.plan.stages.size(), 2u);
  EXPECT_EQ(back.plan.stages[1].device_id, "pc");
  EXPECT_EQ(back.plan.stages[1].first, 2);
  EXPECT_EQ(back.plan.stages[1].last, 6);
  EXPECT_TRUE(back.plan.stages[1].holds_head);
  EXPECT_TRUE(back.plan.stages[0].holds_embed);
  EXPECT_DOUBLE_EQ(back.plan.stages[0].total_bytes, 3 * 1024.0 * 1024.0);
  ASSERT_EQ(back.nodes.size(), 1u);
  EXPECT_EQ(back.nodes[0].address, "10.0.0.2:7100");
  EXPECT_EQ(back.nodes[0].used_mib, std::optional<uint64_t>(12));
  EXPECT_EQ(back.nodes[0].rtt_ms, std::optional<double>(3.5));
  ASSERT_TRUE(back.nodes[0].telemetry);
  EXPECT_EQ(back.nodes[0].telemetry->compute_us, 1500u);
  EXPECT_EQ(back.sessions_queued, 2);
  ASSERT_TRUE(back.last);
  ASSERT_EQ(back.last->stages.size(), 2u);
  EXPECT_DOUBLE_EQ(back.last->stages[0].wire_bytes_per_token, 40);
  ASSERT_EQ(back.last->trace.size(), 1u);
  // Stamps come back relative to the first step's departure.
  EXPECT_EQ(back.last->trace[0].sent_ns, 0u);
  EXPECT_EQ(back.last->trace[0].received_ns, 4'000'000u);
  ASSERT_EQ(back.last->trace[0].stages.size(), 1u);
  EXPECT_EQ(back.last->trace[0].stages[0].received_ns, 1'000'000u);
  EXPECT_EQ(back.last->trace[0].stages[0].compute_us, 2000u);
}

TEST(ClusterStatus, ReaderNamesTheFieldOfTheWrongType) {
  nlohmann::json j = cluster_status_json(sample_status());
  j["plan"][0]["first"] = "zero";
  try {
    cluster_status_from_json(j);
    FAIL() << "a string where a layer index belongs must be refused";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("plan[].first"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cluster_status_from_json(nlohmann::json::array()), std::invalid_argument);
}

}  // namespace
}  // namespace baton
