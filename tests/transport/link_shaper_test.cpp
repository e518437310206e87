// Link shaping for simulated clusters: the delays are what the model
// says, jitter is bounded and seeded, and frames never overtake each other.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "transport/link_shaper.h"

namespace baton {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(LinkShaper, UnshapedLinkDeliversImmediately) {
  LinkShaper s({}, 1);
  EXPECT_FALSE(s.params().shaped());
  EXPECT_EQ(s.arrival_ns(5 * kMs, 1 << 20), 5 * kMs);
  EXPECT_EQ(s.arrival_ns(7 * kMs, 100), 7 * kMs);
}

TEST(LinkShaper, LatencyPlusSerialisation) {
  // 8 Mbit/s: 1000 bytes take 1 ms on the wire; then 4 ms in flight.
  LinkShaper s({4.0, 0.0, 8.0}, 1);
  EXPECT_EQ(s.serialisation_ns(1000), 1 * kMs);
  EXPECT_EQ(s.arrival_ns(0, 1000), 5 * kMs);
  // Much later: the link is idle again, same delay.
  EXPECT_EQ(s.arrival_ns(100 * kMs, 1000), 105 * kMs);
}

TEST(LinkShaper, BackToBackFramesQueueBehindEachOther) {
  LinkShaper s({1.0, 0.0, 8.0}, 1);
  // Three 1000-byte frames ready at once: they leave at 1, 2 and 3 ms.
  EXPECT_EQ(s.arrival_ns(0, 1000), 2 * kMs);
  EXPECT_EQ(s.arrival_ns(0, 1000), 3 * kMs);
  EXPECT_EQ(s.arrival_ns(0, 1000), 4 * kMs);
}

TEST(LinkShaper, JitterIsBoundedAndKeepsTheMean) {
  LinkShaper s({10.0, 2.0, 0.0}, 42);
  double sum = 0;
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    // Frames far apart, so FIFO never holds one back: the delay is latency + jitter.
    const int64_t ready = static_cast<int64_t>(i) * 1000 * kMs;
    const int64_t d = s.arrival_ns(ready, 100) - ready;
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    sum += static_cast<double>(d);
  }
  EXPECT_GE(lo, 8 * kMs);
  EXPECT_LE(hi, 12 * kMs);
  EXPECT_LT(hi - lo, 4 * kMs + 1);
  EXPECT_GT(hi - lo, 3 * kMs);  // it does vary
  EXPECT_NEAR(sum / n / kMs, 10.0, 0.1);
}

TEST(LinkShaper, SameSeedSameDelaysOtherSeedOthers) {
  LinkShaper a({5.0, 4.0, 0.0}, 7), b({5.0, 4.0, 0.0}, 7), c({5.0, 4.0, 0.0}, 8);
  bool differs = false;
  for (int i = 0; i < 50; ++i) {
    const int64_t t = static_cast<int64_t>(i) * 100 * kMs;
    const int64_t x = a.arrival_ns(t, 10);
    EXPECT_EQ(x, b.arrival_ns(t, 10));
    differs = differs || x != c.arrival_ns(t, 10);
  }
  EXPECT_TRUE(differs);
}

TEST(LinkShaper, FramesNeverOvertake) {
  // Jitter as large as the latency and frames 0.1 ms apart: without FIFO, later frames
  // would often arrive first.
  LinkShaper s({3.0, 3.0, 0.0}, 3);
  int64_t previous = INT64_MIN;
  for (int i = 0; i < 2000; ++i) {
    const int64_t ready = static_cast<int64_t>(i) * kMs / 10;
    const int64_t arrival = s.arrival_ns(ready, 64);
    EXPECT_GE(arrival, ready);
    EXPECT_GE(arrival, previous) << "frame " << i << " overtook frame " << i - 1;
    previous = arrival;
  }
}

TEST(LinkShaper, ValidatesParams) {
  EXPECT_EQ(validate_link_params({2.0, 1.0, 100.0}), "");
  EXPECT_EQ(validate_link_params({}), "");
  EXPECT_NE(validate_link_params({2.0, 3.0, 0.0}).find("jitter 3 ms is larger than the latency 2 ms"), std::string::npos);
  EXPECT_NE(validate_link_params({-1.0, 0.0, 0.0}).find("latency"), std::string::npos);
  EXPECT_NE(validate_link_params({1.0, 0.0, -5.0}).find("bandwidth"), std::string::npos);
}

}  // namespace
}  // namespace baton
