// The process's open-file limit: a listener holds one descriptor per connection, and
// the default soft limit (often 1024) is far below what the system allows.
#pragma once

#include <cstdint>

namespace baton {

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit in force
// afterwards (unchanged if raising failed).
uint64_t raise_open_file_limit();

}  // namespace baton
