// A process's resident memory (Linux /proc/<pid>/status), for heartbeats and reports.
#pragma once

#include <cstdint>

namespace baton {

struct ProcessMemory {
  uint64_t rss_bytes = 0;   // VmRSS: resident now
  uint64_t peak_bytes = 0;  // VmHWM: the high-water mark
};

// This process (pid 0) or another one. Zeros where the kernel does not say (not Linux,
// /proc not mounted, the process gone).
ProcessMemory read_process_memory(int pid = 0);

}  // namespace baton
