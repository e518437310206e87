// This process's resident memory (Linux /proc/self/status), for heartbeats and reports.
#pragma once

#include <cstdint>

namespace baton {

struct ProcessMemory {
  uint64_t rss_bytes = 0;   // VmRSS: resident now
  uint64_t peak_bytes = 0;  // VmHWM: the high-water mark
};

// Zeros where the kernel does not say (not Linux, /proc not mounted).
ProcessMemory read_process_memory();

}  // namespace baton
