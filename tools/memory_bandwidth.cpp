#include "tools/memory_bandwidth.h"

#include <sys/resource.h>

namespace baton::cli {

size_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<size_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace baton::cli
