#include <gtest/gtest.h>

#include "transport/handshake_guard.h"

namespace baton {
namespace {

using V = HandshakeGuard::Verdict;
using std::chrono::seconds;

TEST(HandshakeGuard, FailedGuessesDrainTheSourcesBucketAndItRefills) {
  HandshakeLimits limits;
  limits.attempts_burst = 3;
  limits.attempts_per_second = 0.5;
  HandshakeGuard g(limits);
  const auto t0 = HandshakeGuard::Clock::time_point{} + seconds(1000);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(g.admit("10.0.0.9", t0).verdict, V::admit);
    g.finished("10.0.0.9", /*spent_a_guess=*/true, t0);
  }
  const auto refused = g.admit("10.0.0.9", t0);
  EXPECT_EQ(refused.verdict, V::too_many_failures);
  EXPECT_NEAR(refused.retry_after_s, 2.0, 1e-9);
  EXPECT_EQ(g.admit("10.0.0.10", t0).verdict, V::admit) << "other sources are not affected";
  EXPECT_EQ(g.admit("10.0.0.9", t0 + seconds(1)).verdict, V::too_many_failures);
  EXPECT_EQ(g.admit("10.0.0.9", t0 + seconds(2)).verdict, V::admit) << "one attempt per 2 s after the burst";
}

TEST(HandshakeGuard, SuccessesAndGuesslessFailuresCostNothing) {
  HandshakeLimits limits;
  limits.attempts_burst = 2;
  HandshakeGuard g(limits);
  const auto t0 = HandshakeGuard::Clock::time_point{} + seconds(1000);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(g.admit("10.0.0.1", t0).verdict, V::admit) << i;
    g.finished("10.0.0.1", /*spent_a_guess=*/false, t0);
  }
  EXPECT_EQ(g.pending(), 0u);
}

TEST(HandshakeGuard, ParallelAttemptsAreChargedUpFront) {
  // A source cannot open many handshakes at once to spend guesses before any failure is
  // counted: each pending one already holds an attempt.
  HandshakeLimits limits;
  limits.attempts_burst = 4;
  limits.pending_per_source = 100;
  HandshakeGuard g(limits);
  const auto t0 = HandshakeGuard::Clock::time_point{} + seconds(1000);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(g.admit("10.0.0.2", t0).verdict, V::admit);
  EXPECT_EQ(g.admit("10.0.0.2", t0).verdict, V::too_many_failures);
}

TEST(HandshakeGuard, PendingCapsPerSourceAndTotal) {
  HandshakeLimits limits;
  limits.pending_per_source = 2;
  limits.pending_total = 3;
  HandshakeGuard g(limits);
  const auto t0 = HandshakeGuard::Clock::time_point{} + seconds(1000);
  EXPECT_EQ(g.admit("a", t0).verdict, V::admit);
  EXPECT_EQ(g.admit("a", t0).verdict, V::admit);
  EXPECT_EQ(g.admit("a", t0).verdict, V::too_many_pending);
  EXPECT_EQ(g.admit("b", t0).verdict, V::admit);
  EXPECT_EQ(g.admit("c", t0).verdict, V::admit_evicting_oldest) << "beyond the total, the oldest makes room";
  g.finished("a", false, t0);  // the evicted one ends
  EXPECT_EQ(g.pending(), 3u);
  g.finished("a", false, t0);
  g.finished("b", false, t0);
  g.finished("c", false, t0);
  EXPECT_EQ(g.pending(), 0u);
}

TEST(HandshakeGuard, TheOldestSilentHandshakeIsEvictedBeforeAnyThatHasSpoken) {
  EXPECT_EQ(handshake_to_evict({false, false, true}), 0u) << "all silent but one: the oldest silent";
  EXPECT_EQ(handshake_to_evict({true, true, false, false}), 2u) << "the older ones have spoken";
  EXPECT_EQ(handshake_to_evict({true, false}), 1u);
  EXPECT_EQ(handshake_to_evict({true, true, true}), 0u) << "all have spoken: the oldest of all";
  EXPECT_EQ(handshake_to_evict({false}), 0u);
}

TEST(HandshakeGuard, TheSourceTableStaysBounded) {
  HandshakeLimits limits;
  limits.tracked_sources = 100;
  HandshakeGuard g(limits);
  auto t = HandshakeGuard::Clock::time_point{} + seconds(1000);
  for (int i = 0; i < 10000; ++i) {
    const std::string src = "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256);
    const auto a = g.admit(src, t);
    if (a.verdict == V::admit || a.verdict == V::admit_evicting_oldest) g.finished(src, true, t);
    ASSERT_LE(g.tracked_sources(), 100u);
  }
  // Once the penalised sources have refilled, newcomers are welcome again.
  t += seconds(3600);
  EXPECT_EQ(g.admit("192.168.0.1", t).verdict, V::admit);
}

}  // namespace
}  // namespace baton
