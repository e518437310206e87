// How many concurrent sessions the coordinator serves: as many as every stage can hold
// KV caches for, at most --max-sessions.
#include <gtest/gtest.h>

#include "model/cost_profile.h"
#include "model/model.h"
#include "partition/session_plan.h"

namespace baton {
namespace {

PlanRequest two_devices(int64_t memory_mib) {
  auto model = Model::open(std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf", ModelOpenOptions{});
  PlanRequest req;
  req.model = cost_profile_from_gguf(model->file());
  for (const char* id : {"a", "b"}) {
    DeviceProfile d;
    d.id = id;
    d.kind = "pc";
    d.memory_mib = memory_mib;
    d.compute_gflops = 50;
    d.memory_bandwidth_gbs = 20;
    d.link_latency_ms = 1;
    d.link_bandwidth_mbps = 1000;
    req.devices.push_back(d);
  }
  req.kv_dtype = DType::F16;
  return req;
}

TEST(SessionPlan, ServesAsManySessionsAsTheKvMemoryHolds) {
  const int64_t context = 16384;  // 16 MiB of f16 KV per session for this model
  const PlanRequest req = two_devices(48);
  const SessionPlan sp = plan_for_sessions(req, context, 8, Strategy::Memory);
  ASSERT_TRUE(sp.plan.feasible) << sp.plan.reason;
  EXPECT_GT(sp.sessions, 1u);
  EXPECT_LT(sp.sessions, 8u);
  EXPECT_EQ(sp.plan.ctx, context * sp.sessions);
  PlanRequest one_more = req;
  one_more.ctx = context * (sp.sessions + 1);
  EXPECT_FALSE(make_plan(one_more, Strategy::Memory).feasible) << "one more session must not fit";
}

TEST(SessionPlan, AllRequestedSessionsWhenTheyFit) {
  const SessionPlan sp = plan_for_sessions(two_devices(4096), 2048, 4, Strategy::Memory);
  ASSERT_TRUE(sp.plan.feasible);
  EXPECT_EQ(sp.sessions, 4u);
}

TEST(SessionPlan, NotEvenOneSessionGivesThePlannersReason) {
  const SessionPlan sp = plan_for_sessions(two_devices(1), 2048, 4, Strategy::Memory);
  EXPECT_FALSE(sp.plan.feasible);
  EXPECT_EQ(sp.sessions, 1u);
  EXPECT_FALSE(sp.plan.reason.empty());
}

TEST(SessionPlan, ClusterRequestCarriesWhatTheCoordinatorPlansWith) {
  const PlanRequest base = two_devices(4096);
  const PlanRequest req = cluster_plan_request(base.model, base.devices, DType::Q8_0, 2.0);
  EXPECT_EQ(req.devices.size(), 2u);
  EXPECT_EQ(req.devices[1].id, "b");
  EXPECT_EQ(req.kv_dtype, DType::Q8_0);
  EXPECT_EQ(req.wire_bytes_per_element, 2.0);
  EXPECT_EQ(req.model.n_layers, base.model.n_layers);
}

}  // namespace
}  // namespace baton
