// ThreadPool: every index exactly once, chunk shapes, reuse, nesting, errors.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tensor/thread_pool.h"

namespace baton {
namespace {

void check_cover(ThreadPool& pool, size_t n, size_t grain) {
  std::vector<std::atomic<int>> hits(n);
  std::atomic<bool> bad_chunk{false};
  pool.parallel_for(n, grain, [&](size_t b, size_t e) {
    const size_t g = grain == 0 ? 1 : grain;
    if (b >= e || e > n || b % g != 0 || (e != n && (e - b) % g != 0)) bad_chunk = true;
    for (size_t i = b; i < e; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
  });
  EXPECT_FALSE(bad_chunk) << "n=" << n << " grain=" << grain;
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " grain=" << grain << " index " << i;
}

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (unsigned threads : {1u, 2u, 3u, 5u}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (size_t n : {0ul, 1ul, 2ul, 3ul, 7ul, 31ul, 64ul, 100ul, 1000ul, 4097ul, 100003ul}) {
      for (size_t grain : {0ul, 1ul, 2ul, 3ul, 4ul, 7ul, 64ul, 1000ul, 200000ul}) check_cover(pool, n, grain);
    }
  }
}

TEST(ThreadPool, DefaultSizeIsHardwareConcurrency) {
  ThreadPool pool;
  EXPECT_GE(pool.size(), 1u);
  check_cover(pool, 1000, 3);
}

TEST(ThreadPool, ManySmallJobsInARow) {
  // The decode pattern: hundreds of tiny jobs back to back must neither lose nor repeat work.
  ThreadPool pool(3);
  std::atomic<long> total{0};
  for (int job = 0; job < 5000; ++job) {
    const size_t n = 1 + job % 37;
    pool.parallel_for(n, 1, [&](size_t b, size_t e) { total.fetch_add(static_cast<long>(e - b)); });
  }
  long expected = 0;
  for (int job = 0; job < 5000; ++job) expected += 1 + job % 37;
  EXPECT_EQ(total.load(), expected);
}

TEST(ThreadPool, JobsAfterIdlePeriodsStillRun) {
  // Workers go to sleep after spinning; a job posted then must wake them.
  ThreadPool pool(3);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    check_cover(pool, 999, 1);
  }
}

TEST(ThreadPool, UsesMoreThanOneThreadForLargeJobs) {
  ThreadPool pool(2);
  std::atomic<int> other{0};
  const auto caller = std::this_thread::get_id();
  // Keep chunks busy long enough that the worker (spinning or woken) claims some.
  for (int attempt = 0; attempt < 200 && other.load() == 0; ++attempt) {
    pool.parallel_for(64, 1, [&](size_t, size_t) {
      if (std::this_thread::get_id() != caller) other.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    });
  }
  EXPECT_GT(other.load(), 0);
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(40 * 50);
  pool.parallel_for(40, 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      pool.parallel_for(50, 7, [&](size_t b2, size_t e2) {
        for (size_t j = b2; j < e2; ++j) hits[i * 50 + j].fetch_add(1);
      });
    }
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPool, ExceptionsReachTheCallerAndThePoolStaysUsable) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.parallel_for(100, 1,
                                 [&](size_t b, size_t e) {
                                   if (b <= 57 && 57 < e) throw std::runtime_error("boom");
                                 }),
               std::runtime_error);
  check_cover(pool, 1000, 5);
}

TEST(ThreadPool, ConcurrentSubmittersAreSerialised) {
  ThreadPool pool(3);
  std::atomic<long> total{0};
  auto submit = [&] {
    for (int i = 0; i < 500; ++i) {
      pool.parallel_for(100, 3, [&](size_t b, size_t e) { total.fetch_add(static_cast<long>(e - b)); });
    }
  };
  std::thread a(submit), b(submit);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 2L * 500 * 100);
}

}  // namespace
// park() is only a hint: jobs after it (and jobs racing with it) still run every index
// exactly once and wake the sleeping workers.
TEST(ThreadPool, ParkThenMoreJobsStillCoverEveryIndex) {
  ThreadPool pool(3);
  for (int round = 0; round < 200; ++round) {
    if (round % 3 == 0) pool.park();
    std::vector<std::atomic<int>> hits(997);
    pool.parallel_for(hits.size(), 7, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "round " << round;
  }
}

}  // namespace baton
