// A node serves one coordinator at a time: the lease on scripted connections and times.
#include <gtest/gtest.h>

#include "node/stage/coordinator_lease.h"

namespace baton {
namespace {

using namespace std::chrono_literals;
using Clock = CoordinatorLease::Clock;

TEST(CoordinatorLease, FirstClaimWinsAndTheSecondIsToldWho) {
  CoordinatorLease lease(10s);
  const auto t0 = Clock::time_point{} + 100s;
  EXPECT_EQ(lease.claim(1, "10.0.0.1:4000", t0), "");
  EXPECT_TRUE(lease.held_by(1));
  EXPECT_EQ(lease.other_holder(1, t0 + 1s), "") << "the holder is not refused by itself";
  const std::string refusal = lease.claim(2, "10.0.0.9:5000", t0 + 2s);
  EXPECT_NE(refusal.find("10.0.0.1:4000"), std::string::npos) << refusal;
  EXPECT_FALSE(lease.held_by(2));
  EXPECT_EQ(lease.other_holder(2, t0 + 2s), refusal);
  EXPECT_EQ(lease.claim(1, "10.0.0.1:4000", t0 + 3s), "") << "claiming again is fine";
}

TEST(CoordinatorLease, ABrokenConnectionFreesTheNode) {
  CoordinatorLease lease(10s);
  const auto t0 = Clock::time_point{} + 100s;
  ASSERT_EQ(lease.claim(1, "a:1", t0), "");
  lease.release(2);  // not the holder: nothing changes
  EXPECT_NE(lease.claim(2, "b:2", t0 + 1s), "");
  lease.release(1);
  EXPECT_EQ(lease.claim(2, "b:2", t0 + 1s), "");
  EXPECT_TRUE(lease.held_by(2));
  EXPECT_FALSE(lease.last_takeover()) << "the first left: no takeover to report";
}

TEST(CoordinatorLease, PingsKeepTheLeaseSilenceLosesIt) {
  CoordinatorLease lease(10s);
  const auto t0 = Clock::time_point{} + 100s;
  ASSERT_EQ(lease.claim(1, "a:1", t0), "");
  for (int s = 2; s <= 30; s += 2) lease.heard(1, t0 + std::chrono::seconds(s));
  EXPECT_NE(lease.claim(2, "b:2", t0 + 35s), "") << "heard 5 s ago: still there";
  lease.heard(2, t0 + 36s);  // a non-holder's calls do not extend anything
  EXPECT_EQ(lease.other_holder(2, t0 + 40s + 1ms), "") << "silent for more than 10 s: gone";
  EXPECT_EQ(lease.claim(2, "b:2", t0 + 41s), "");
  ASSERT_TRUE(lease.last_takeover());
  EXPECT_NE(lease.last_takeover()->find("a:1"), std::string::npos);
  EXPECT_NE(lease.claim(1, "a:1", t0 + 42s), "") << "the old holder woke up: it is now the one refused";
}

TEST(CoordinatorLease, ALongCallIsNotSilence) {
  CoordinatorLease lease(10s);
  const auto t0 = Clock::time_point{} + 100s;
  ASSERT_EQ(lease.claim(1, "a:1", t0), "");
  lease.call_started(1, t0);
  EXPECT_NE(lease.claim(2, "b:2", t0 + 300s), "") << "a 5-minute shard transfer is still the holder's";
  lease.call_ended(1, t0 + 301s);
  EXPECT_NE(lease.claim(2, "b:2", t0 + 305s), "");
  EXPECT_EQ(lease.claim(2, "b:2", t0 + 312s), "");
}

}  // namespace
}  // namespace baton
