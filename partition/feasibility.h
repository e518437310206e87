// Does any contiguous split fit the devices' memory? Separate from the optimisers so the
// "largest context that fits" search asks exactly the question the planners answer.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "partition/cost_model.h"

namespace baton {

// Devices above this count skip the exact subset search (2^N states) and are only
// checked in the heuristic start orders.
inline constexpr size_t kSubsetSearchLimit = 16;

// True when the devices, used in this order (any of them may take no layers), can hold
// the model. Greedy: each device reaches as far as it can, which is optimal because a
// shorter prefix is always reachable when a longer one is.
bool fits_in_order(const CostModel& cost, const std::vector<size_t>& order);

// A device order (every device once) in which the model fits, searched over all orders
// with a dynamic programme over device subsets; nullopt when none fits or when there are
// more than kSubsetSearchLimit devices.
std::optional<std::vector<size_t>> find_fitting_order(const CostModel& cost);

}  // namespace baton
