// Strategy `latency`: the split and device order with the smallest predicted time per
// decoded token, subject to every device's memory cap.
//
// Up to kExhaustiveOrderLimit devices the search is exact over every ordered subset of
// devices (an unused device is one that gets no layers): a depth-first walk over device
// sequences whose shared prefixes share one dynamic-programme row, best[m] = cheapest way
// to cover layers [0, m) with the sequence so far. Beyond that, an exact dynamic
// programme for a fixed order (devices may be skipped) is run from a few start orders
// and improved by pairwise swaps.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "partition/cost_model.h"
#include "partition/feasibility.h"
#include "partition/plan.h"

namespace baton {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Fixed-order programme runs allowed in the local search (each is O(N^2 L + N L^2)).
constexpr int kLocalSearchBudget = 1500;

struct Candidate {
  double ms = kInf;
  std::vector<StageRange> split;
  bool found() const { return ms < kInf; }
};

class ExhaustiveSearch {
 public:
  explicit ExhaustiveSearch(const CostModel& cost) : cost_(cost), layers_(cost.n_layers()) {
    frames_.reserve(cost.n_devices());
  }

  Candidate run() {
    for (size_t e = 0; e < cost_.n_devices(); ++e) {
      Frame root{e, std::vector<double>(layers_ + 1, kInf), std::vector<int>(layers_ + 1, -1)};
      const double hop = cost_.first_hop_ms(e);
      bool any = false;
      for (int n = 1; n <= layers_ && cost_.fits(e, 0, n); ++n) {
        root.cost[n] = hop + cost_.stage_ms(e, 0, n);
        root.from[n] = 0;
        any = true;
      }
      if (!any) continue;
      frames_.push_back(std::move(root));
      descend(uint32_t{1} << e);
      frames_.pop_back();
    }
    return best_;
  }

 private:
  struct Frame {
    size_t device;
    std::vector<double> cost;  // cost[m]: covering [0, m) with the frames so far, this one last
    std::vector<int> from;     // where this frame's stage starts for that cost
  };

  void descend(uint32_t used) {
    const size_t depth = frames_.size() - 1;
    {
      const Frame& top = frames_[depth];
      if (top.cost[layers_] < kInf) {
        const double total = top.cost[layers_] + cost_.return_hop_ms(top.device);
        if (total < best_.ms) record(total);
      }
      // Every extension only adds time: give up on this prefix when it cannot win.
      double lower = kInf;
      for (int m = 1; m < layers_; ++m) lower = std::min(lower, frames_[depth].cost[m]);
      if (!(lower < best_.ms)) return;
    }
    for (size_t e = 0; e < cost_.n_devices(); ++e) {
      if (used & (uint32_t{1} << e)) continue;
      Frame next{e, std::vector<double>(layers_ + 1, kInf), std::vector<int>(layers_ + 1, -1)};
      const Frame& top = frames_[depth];
      const double hop = cost_.middle_hop_ms(top.device, e);
      bool any = false;
      for (int m = 1; m < layers_; ++m) {
        if (!(top.cost[m] + hop < best_.ms)) continue;
        const double entry = top.cost[m] + hop;
        for (int n = m + 1; n <= layers_ && cost_.fits(e, m, n); ++n) {
          const double c = entry + cost_.stage_ms(e, m, n);
          if (c < next.cost[n]) {
            next.cost[n] = c;
            next.from[n] = m;
            any = true;
          }
        }
      }
      if (!any) continue;
      frames_.push_back(std::move(next));
      descend(used | (uint32_t{1} << e));
      frames_.pop_back();
    }
  }

  void record(double total) {
    best_.ms = total;
    best_.split.clear();
    int end = layers_;
    for (size_t k = frames_.size(); k-- > 0;) {
      const int start = frames_[k].from[end];
      best_.split.insert(best_.split.begin(), StageRange{frames_[k].device, start, end});
      end = start;
    }
  }

  const CostModel& cost_;
  int layers_;
  std::vector<Frame> frames_;
  Candidate best_;
};

// Exact optimum for one device order; any device may take no layers.
Candidate best_in_order(const CostModel& cost, const std::vector<size_t>& order) {
  const int layers = cost.n_layers();
  const size_t k = order.size();
  std::vector<std::vector<double>> best(k, std::vector<double>(layers + 1, kInf));
  // parent[p][n] = (position of the previous stage or -1, start of this stage)
  std::vector<std::vector<std::pair<int, int>>> parent(k, std::vector<std::pair<int, int>>(layers + 1, {-1, 0}));
  std::vector<double> entry(layers, kInf);
  std::vector<int> entry_from(layers, -1);
  for (size_t p = 0; p < k; ++p) {
    const size_t e = order[p];
    entry[0] = cost.first_hop_ms(e);
    entry_from[0] = -1;
    for (int m = 1; m < layers; ++m) {
      entry[m] = kInf;
      for (size_t q = 0; q < p; ++q) {
        if (!(best[q][m] < kInf)) continue;
        const double c = best[q][m] + cost.middle_hop_ms(order[q], e);
        if (c < entry[m]) {
          entry[m] = c;
          entry_from[m] = static_cast<int>(q);
        }
      }
    }
    for (int m = 0; m < layers; ++m) {
      if (!(entry[m] < kInf)) continue;
      for (int n = m + 1; n <= layers && cost.fits(e, m, n); ++n) {
        const double c = entry[m] + cost.stage_ms(e, m, n);
        if (c < best[p][n]) {
          best[p][n] = c;
          parent[p][n] = {entry_from[m], m};
        }
      }
    }
  }
  Candidate result;
  int last_position = -1;
  for (size_t p = 0; p < k; ++p) {
    if (!(best[p][layers] < kInf)) continue;
    const double total = best[p][layers] + cost.return_hop_ms(order[p]);
    if (total < result.ms) {
      result.ms = total;
      last_position = static_cast<int>(p);
    }
  }
  for (int p = last_position, end = layers; p >= 0;) {
    const auto [previous, start] = parent[p][end];
    result.split.insert(result.split.begin(), StageRange{order[p], start, end});
    end = start;
    p = previous;
  }
  return result;
}

std::vector<size_t> sorted_by(const PlanRequest& request, double (*key)(const DeviceProfile&)) {
  std::vector<size_t> order(request.devices.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return key(request.devices[a]) > key(request.devices[b]); });
  return order;
}

// Start points of the local search: the given order (so the result is never worse than
// the memory strategy's split) and the devices ranked by what usually matters most.
std::vector<std::vector<size_t>> start_orders(const PlanRequest& request) {
  std::vector<size_t> given(request.devices.size());
  for (size_t i = 0; i < given.size(); ++i) given[i] = i;
  return {given,
          sorted_by(request, [](const DeviceProfile& d) { return d.compute_gflops; }),
          sorted_by(request, [](const DeviceProfile& d) { return static_cast<double>(d.memory_mib); }),
          sorted_by(request, [](const DeviceProfile& d) { return d.memory_bandwidth_gbs; }),
          sorted_by(request, [](const DeviceProfile& d) { return -d.link_latency_ms; })};
}

Candidate local_search(const CostModel& cost, const PlanRequest& request) {
  std::vector<std::vector<size_t>> starts = start_orders(request);
  if (auto fitting = find_fitting_order(cost)) starts.push_back(std::move(*fitting));
  Candidate best;
  std::vector<size_t> order;
  for (const auto& start : starts) {
    Candidate c = best_in_order(cost, start);
    if (c.ms < best.ms) {
      best = std::move(c);
      order = start;
    }
  }
  if (!best.found()) return best;
  int budget = kLocalSearchBudget;
  for (bool improved = true; improved && budget > 0;) {
    improved = false;
    for (size_t i = 0; i < order.size() && budget > 0; ++i) {
      for (size_t j = i + 1; j < order.size() && budget > 0; ++j) {
        std::swap(order[i], order[j]);
        --budget;
        Candidate c = best_in_order(cost, order);
        // A relative threshold keeps float noise from cycling between equal orders.
        if (c.ms < best.ms * (1 - 1e-12)) {
          best = std::move(c);
          improved = true;
        } else {
          std::swap(order[i], order[j]);
        }
      }
    }
  }
  return best;
}

bool any_fits(const CostModel& cost, const PlanRequest& request) {
  if (cost.n_devices() <= kSubsetSearchLimit) return find_fitting_order(cost).has_value();
  for (const auto& order : start_orders(request)) {
    if (fits_in_order(cost, order)) return true;
  }
  return false;
}

std::string infeasible_reason(const PlanRequest& request, const CostModel& cost, int64_t max_ctx) {
  double largest_cap = 0;
  for (size_t d = 0; d < cost.n_devices(); ++d) largest_cap = std::max(largest_cap, cost.cap_bytes(d));
  const int layers = cost.n_layers();
  const double need = cost.total_need_bytes(1), have = cost.total_cap_bytes();
  std::string reason = fmt::format("no split of the {} layers fits the devices' memory at context {}: ", layers,
                                   request.ctx);
  if (need > have) {
    reason += fmt::format("the model needs at least {:.1f} MiB and the devices can use {:.1f} MiB in total: short by {:.1f} MiB",
                          need / kMiB, have / kMiB, (need - have) / kMiB);
  } else {
    reason += fmt::format("the devices can use {:.1f} MiB in total (the model needs {:.1f} MiB), but the layers "
                          "do not pack into contiguous ranges that fit",
                          have / kMiB, need / kMiB);
    const double first = cost.held_bytes(0, std::min(1, layers)), last = cost.held_bytes(layers - 1, layers);
    if (first > largest_cap) {
      reason += fmt::format("; no device can hold the embedding with the first layer ({:.1f} MiB, largest device {:.1f} MiB)",
                            first / kMiB, largest_cap / kMiB);
    }
    if (last > largest_cap) {
      reason += fmt::format("; no device can hold the head with the last layer ({:.1f} MiB, largest device {:.1f} MiB)",
                            last / kMiB, largest_cap / kMiB);
    }
  }
  reason += max_ctx > 0 ? fmt::format("; a context of at most {} tokens would fit", max_ctx)
                        : std::string("; no context would fit: the weights (with one token of KV) alone are too large");
  return reason;
}

Plan infeasible(const PlanRequest& request, std::string reason) {
  Plan plan;
  plan.strategy = Strategy::Latency;
  plan.ctx = request.ctx;
  plan.reason = std::move(reason);
  return plan;
}

template <typename Search, typename FitsAt>
Plan run_latency(const PlanRequest& request, Search search, FitsAt fits_at) {
  if (std::string problem = validate_request(request); !problem.empty()) {
    return infeasible(request, "invalid request: " + problem);
  }
  const CostModel cost(request);
  Candidate best = search(cost);
  if (best.found()) return evaluate_split(request, best.split, Strategy::Latency);

  const int64_t max_ctx = largest_fitting_context(request.ctx - 1, [&](int64_t ctx) {
    const PlanRequest smaller = with_context(request, ctx);
    return fits_at(CostModel(smaller), smaller);
  });
  Plan plan = infeasible(request, infeasible_reason(request, cost, max_ctx));
  plan.max_fitting_ctx = max_ctx;
  plan.predicted_position = cost.position();
  plan.total_need_bytes = cost.total_need_bytes(1);
  plan.total_cap_bytes = cost.total_cap_bytes();
  return plan;
}

std::vector<size_t> given_order(const PlanRequest& request) {
  std::vector<size_t> order(request.devices.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  return order;
}

}  // namespace

Plan plan_latency(const PlanRequest& request) {
  return run_latency(
      request,
      [&](const CostModel& cost) {
        return cost.n_devices() <= kExhaustiveOrderLimit ? ExhaustiveSearch(cost).run() : local_search(cost, request);
      },
      [](const CostModel& cost, const PlanRequest& smaller) { return any_fits(cost, smaller); });
}

Plan plan_latency_in_order(const PlanRequest& request) {
  return run_latency(
      request, [&](const CostModel& cost) { return best_in_order(cost, given_order(request)); },
      [](const CostModel& cost, const PlanRequest& smaller) { return fits_in_order(cost, given_order(smaller)); });
}

}  // namespace baton
