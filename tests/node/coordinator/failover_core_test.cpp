// The failover core on scripted event sequences: epochs, lost nodes, who an assembly
// tries, when a failed step starts a recovery and when it waits for one.
#include <gtest/gtest.h>

#include "node/coordinator/failover_core.h"

namespace baton {
namespace {

TEST(FailoverCore, EveryAssemblyStartsANewEpoch) {
  FailoverCore f;
  EXPECT_EQ(f.state(), PipelineState::None);
  EXPECT_EQ(f.begin(AssemblyKind::Fresh), 1u);
  EXPECT_EQ(f.state(), PipelineState::Assembling);
  f.assembled();
  EXPECT_EQ(f.state(), PipelineState::Ready);
  EXPECT_EQ(f.begin(AssemblyKind::Recovery), 2u);
  f.assembly_failed();
  EXPECT_EQ(f.state(), PipelineState::Failed);
}

TEST(FailoverCore, AFreshAssemblyNeedsItsStaticPeersAndForgivesTheLost) {
  FailoverCore f;
  f.begin(AssemblyKind::Fresh);
  f.assembled();
  EXPECT_TRUE(f.member_lost("a:1", true));
  EXPECT_TRUE(f.lost().count("a:1"));
  f.begin(AssemblyKind::Fresh);
  EXPECT_TRUE(f.lost().empty());
  EXPECT_TRUE(f.should_try("a:1"));
  EXPECT_TRUE(f.join_required(true));    // a static peer
  EXPECT_FALSE(f.join_required(false));  // a discovered one
  EXPECT_FALSE(f.join_failed("b:2")) << "outside a recovery a failed join is not a lost node";
  EXPECT_TRUE(f.lost().empty());
}

TEST(FailoverCore, ALostMemberStartsOneRecoveryThatSkipsIt) {
  FailoverCore f;
  const uint64_t e1 = f.begin(AssemblyKind::Fresh);
  f.assembled();
  EXPECT_FALSE(f.member_lost("x:9", false)) << "not a member: nothing to recover";
  ASSERT_TRUE(f.member_lost("a:1", true));
  EXPECT_TRUE(f.recovery_needed(e1));
  const uint64_t e2 = f.begin(AssemblyKind::Recovery);
  EXPECT_GT(e2, e1);
  // Steps of the old epoch fail too: they wait for this recovery instead of starting one.
  EXPECT_FALSE(f.recovery_needed(e1));
  EXPECT_FALSE(f.should_try("a:1"));
  EXPECT_TRUE(f.should_try("b:2"));
  EXPECT_FALSE(f.join_required(true)) << "in a recovery every candidate is optional";
  // Another node dies while recovering: it is lost, and no second recovery starts.
  EXPECT_FALSE(f.member_lost("b:2", true));
  EXPECT_TRUE(f.lost().count("b:2"));
  // A node that cannot join now is lost as well.
  EXPECT_TRUE(f.join_failed("c:3"));
  EXPECT_TRUE(f.everyone_lost({"a:1", "b:2", "c:3"}));
  EXPECT_FALSE(f.everyone_lost({"a:1", "d:4"}));
  f.assembled();
  EXPECT_FALSE(f.everyone_lost({"a:1", "b:2", "c:3"})) << "only a recovery can run out of nodes";
  EXPECT_TRUE(f.recovery_needed(e2));
}

TEST(FailoverCore, ARejoinTriesEveryoneAgain) {
  FailoverCore f;
  f.begin(AssemblyKind::Fresh);
  f.assembled();
  f.member_lost("a:1", true);
  f.begin(AssemblyKind::Recovery);
  f.assembled();
  EXPECT_TRUE(f.has_lost());
  f.begin(AssemblyKind::Rejoin);
  EXPECT_FALSE(f.has_lost());
  EXPECT_TRUE(f.should_try("a:1"));
  EXPECT_FALSE(f.join_required(true));
  EXPECT_TRUE(f.join_failed("a:1")) << "still silent: lost again";
  f.assembled();
  EXPECT_TRUE(f.has_lost());
}

}  // namespace
}  // namespace baton
