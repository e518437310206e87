// Measures this machine's memory read bandwidth (bytes/s), the ceiling a
// bandwidth-bound decode can reach: the denominator of the roofline ratio.
#pragma once

#include <cstddef>

namespace baton {
class ThreadPool;
}

namespace baton::cli {

// Best of `repeats` passes summing a buffer of `bytes` (well above cache size) split across the pool.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes = 512ull << 20, int repeats = 5);

// Peak resident set size of this process in bytes.
size_t peak_rss_bytes();

}  // namespace baton::cli
