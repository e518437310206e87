// Membership changes from discovery are acted on only once they hold still, and re-plans
// are spaced out: a flapping or briefly announced peer never reloads the nodes.
#include <gtest/gtest.h>

#include "node/coordinator/membership.h"

namespace baton {
namespace {

using namespace std::chrono_literals;
using Clock = MembershipDebounce::Clock;

const std::vector<PeerCandidate> kPlanned = {{"10.0.0.1:7000", true}};
const std::vector<PeerCandidate> kWithNew = {{"10.0.0.1:7000", true}, {"10.0.0.9:7000", false}};

TEST(MembershipDebounce, AChangeIsActedOnOnceItHasSettled) {
  MembershipDebounce d(3s, 30s);
  const Clock::time_point t0{};
  EXPECT_FALSE(d.observe(kPlanned, kPlanned, t0));
  EXPECT_FALSE(d.observe(kWithNew, kPlanned, t0 + 1s));  // first seen
  EXPECT_FALSE(d.observe(kWithNew, kPlanned, t0 + 3s));  // 2 s: not yet
  const auto go = d.observe(kWithNew, kPlanned, t0 + 4s);
  ASSERT_TRUE(go);
  EXPECT_EQ(*go, kWithNew);
}

TEST(MembershipDebounce, AFlappingPeerNeverTriggersARePlan) {
  MembershipDebounce d(3s, 30s);
  Clock::time_point t{};
  for (int i = 0; i < 100; ++i) {  // announced for 2 s, gone for 1 s, over and over
    EXPECT_FALSE(d.observe(kWithNew, kPlanned, t += 1s));
    EXPECT_FALSE(d.observe(kWithNew, kPlanned, t += 1s));
    EXPECT_FALSE(d.observe(kPlanned, kPlanned, t += 1s));
  }
}

TEST(MembershipDebounce, RePlansAreSpacedOut) {
  MembershipDebounce d(1s, 30s);
  const Clock::time_point t0{};
  d.replanned(t0);
  EXPECT_FALSE(d.observe(kWithNew, kPlanned, t0 + 1s));
  EXPECT_FALSE(d.observe(kWithNew, kPlanned, t0 + 5s));   // settled, but the last re-plan was 5 s ago
  EXPECT_FALSE(d.observe(kWithNew, kPlanned, t0 + 29s));
  EXPECT_TRUE(d.observe(kWithNew, kPlanned, t0 + 31s));
  // An empty view (discovery lost everything) is no plan to switch to.
  EXPECT_FALSE(d.observe({}, kPlanned, t0 + 100s));
  EXPECT_FALSE(d.observe({}, kPlanned, t0 + 200s));
}

}  // namespace
}  // namespace baton
