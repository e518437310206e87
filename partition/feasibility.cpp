#include "partition/feasibility.h"

#include <cstdint>

namespace baton {

bool fits_in_order(const CostModel& cost, const std::vector<size_t>& order) {
  int reach = 0;
  for (size_t device : order) {
    // This device could close the model: its range [reach, n_layers) plus the head.
    if (cost.fits(device, reach, cost.n_layers())) return true;
    reach = cost.furthest_reach(device, reach);
  }
  return false;
}

std::optional<std::vector<size_t>> find_fitting_order(const CostModel& cost) {
  const size_t n = cost.n_devices();
  if (n > kSubsetSearchLimit) return std::nullopt;
  const int n_layers = cost.n_layers();
  const uint32_t full = (uint32_t{1} << n) - 1;
  // reach[S]: furthest layer prefix the devices in S can cover in their best order
  // (without the head); last[S]: the device that comes last in that order.
  std::vector<int> reach(size_t{1} << n, 0);
  std::vector<int8_t> last(size_t{1} << n, -1);
  std::optional<std::pair<uint32_t, size_t>> closing;  // (covering set, closing device)
  for (uint32_t set = 0; set <= full && !closing; ++set) {
    for (size_t e = 0; e < n && set != 0; ++e) {
      const uint32_t bit = uint32_t{1} << e;
      if (!(set & bit)) continue;
      const int r = cost.furthest_reach(e, reach[set ^ bit]);
      if (last[set] < 0 || r > reach[set]) {
        reach[set] = r;
        last[set] = static_cast<int8_t>(e);
      }
    }
    for (size_t e = 0; e < n; ++e) {
      if (!(set & (uint32_t{1} << e)) && cost.fits(e, reach[set], n_layers)) {
        closing = std::make_pair(set, e);
        break;
      }
    }
  }
  if (!closing) return std::nullopt;
  std::vector<size_t> order;
  for (uint32_t set = closing->first; set != 0; set ^= uint32_t{1} << last[set]) {
    order.insert(order.begin(), static_cast<size_t>(last[set]));
  }
  order.push_back(closing->second);
  // Devices that play no part go last; they will take no layers.
  uint32_t used = closing->first | (uint32_t{1} << closing->second);
  for (size_t e = 0; e < n; ++e) {
    if (!(used & (uint32_t{1} << e))) order.push_back(e);
  }
  return order;
}

}  // namespace baton
