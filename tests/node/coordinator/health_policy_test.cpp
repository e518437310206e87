// When a node steps back for heat or battery and comes back: the policy on scripted readings.
#include <gtest/gtest.h>

#include "node/coordinator/health_policy.h"

namespace baton {
namespace {

using Action = HealthPolicy::Action;

HealthReading at(double celsius) {
  HealthReading r;
  r.temperature_c = celsius;
  return r;
}
HealthReading battery(int percent, bool charging) {
  HealthReading r;
  r.battery_percent = percent;
  r.charging = charging;
  return r;
}

TEST(HealthPolicy, HotNodeStepsBackAndReturnsOnlyOnceCool) {
  HealthPolicy p;
  EXPECT_FALSE(p.update("phone", at(60)));
  auto d = p.update("phone", at(83));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::plan_out);
  EXPECT_NE(d->reason.find("83.0 °C"), std::string::npos) << d->reason;
  EXPECT_TRUE(p.benched("phone"));
  EXPECT_FALSE(p.update("phone", at(84))) << "one decision, not one per heartbeat";
  EXPECT_FALSE(p.update("phone", at(75))) << "below hot but above cool: hysteresis keeps it out";
  d = p.update("phone", at(69));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::plan_back_in);
  EXPECT_FALSE(p.benched("phone"));
}

TEST(HealthPolicy, CriticalHeatActsAtOnce) {
  HealthPolicy p;
  auto d = p.update("tablet", at(95));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::plan_out_now);
  EXPECT_NE(d->reason.find("critical"), std::string::npos);
  EXPECT_FALSE(p.update("tablet", at(97)));
  EXPECT_EQ(p.benched_nodes().at("tablet"), "97.0 °C (critical at 92 °C)");
}

TEST(HealthPolicy, BatteryLowUnlessCharging) {
  HealthPolicy p;
  EXPECT_FALSE(p.update("phone", battery(15, true))) << "low but charging: fine";
  auto d = p.update("phone", battery(15, false));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::plan_out);
  EXPECT_NE(d->reason.find("battery 15 %"), std::string::npos) << d->reason;
  EXPECT_FALSE(p.update("phone", battery(25, false))) << "not yet back to 30 %";
  d = p.update("phone", battery(25, true));
  ASSERT_TRUE(d) << "plugged in: back";
  EXPECT_EQ(d->action, Action::plan_back_in);
  d = p.update("phone", battery(5, false));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::plan_out_now);
}

TEST(HealthPolicy, ThrottlingCountsAsHotAndThresholdsAreSettable) {
  HealthThresholds t;
  t.hot_c = 60;
  t.cool_c = 50;
  HealthPolicy p(t);
  HealthReading r = at(45);
  r.throttled = true;
  auto d = p.update("pc", r);
  ASSERT_TRUE(d);
  EXPECT_NE(d->reason.find("throttled"), std::string::npos);
  r.throttled = false;
  EXPECT_EQ(p.update("pc", r)->action, Action::plan_back_in);
  EXPECT_EQ(p.update("pc", at(61))->action, Action::plan_out);
  EXPECT_FALSE(p.update("other", HealthReading{})) << "a desktop without sensors is always fine";
}

}  // namespace
}  // namespace baton
