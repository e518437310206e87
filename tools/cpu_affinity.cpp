#include "tools/cpu_affinity.h"

#include <fmt/format.h>
#include <sched.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace baton::cli {

void pin_to_cpus(const std::vector<unsigned>& cpus) {
  if (cpus.empty()) return;
  const unsigned available = std::thread::hardware_concurrency();
  cpu_set_t set;
  CPU_ZERO(&set);
  for (unsigned c : cpus) {
    if (c >= CPU_SETSIZE || (available > 0 && c >= available)) {
      throw std::invalid_argument(fmt::format("--cpus: CPU {} does not exist (this machine has {}: 0..{})", c, available,
                                              available > 0 ? available - 1 : 0));
    }
    CPU_SET(c, &set);
  }
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    throw std::runtime_error(fmt::format("--cpus: cannot pin to those CPUs: {}", std::strerror(errno)));
  }
}

}  // namespace baton::cli
