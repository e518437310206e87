// Pinning this process (and the threads it starts afterwards) to some CPUs: several nodes
// on one machine then stop migrating onto each other's cores, as separate devices would.
#pragma once

#include <vector>

namespace baton::cli {

// Throws std::invalid_argument naming a CPU this machine does not have.
void pin_to_cpus(const std::vector<unsigned>& cpus);

}  // namespace baton::cli
