// The latency strategy against brute force: every device order and every composition of
// the layers (zero allowed), scored by the test's own plain cost model.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>

#include "plan_reference.h"

namespace baton {
namespace {

using test::RandomCaseOptions;
using test::random_request;
using test::reference_fits;
using test::reference_ms_per_token;
using test::split_of;

struct BruteResult {
  bool found = false;
  double ms = 0;
};

// Every way to give counts (summing to n_layers, zeros allowed) to devices in `order`.
void for_each_composition(int layers, size_t parts, const std::function<void(const std::vector<int>&)>& visit) {
  std::vector<int> counts(parts, 0);
  std::function<void(size_t, int)> rec = [&](size_t i, int left) {
    if (i + 1 == parts) {
      counts[i] = left;
      visit(counts);
      return;
    }
    for (int c = 0; c <= left; ++c) {
      counts[i] = c;
      rec(i + 1, left - c);
    }
  };
  rec(0, layers);
}

BruteResult brute_force_order(const PlanRequest& r, const std::vector<size_t>& order) {
  BruteResult best;
  for_each_composition(r.model.n_layers, order.size(), [&](const std::vector<int>& counts) {
    std::vector<StageRange> split;
    int next = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      if (counts[i] == 0) continue;
      split.push_back({order[i], next, next + counts[i]});
      next += counts[i];
    }
    for (const StageRange& s : split) {
      if (!reference_fits(r, s)) return;
    }
    const double ms = reference_ms_per_token(r, split);
    if (!best.found || ms < best.ms) best = {true, ms};
  });
  return best;
}

BruteResult brute_force_all_orders(const PlanRequest& r) {
  std::vector<size_t> order(r.devices.size());
  std::iota(order.begin(), order.end(), 0);
  BruteResult best;
  do {
    const BruteResult b = brute_force_order(r, order);
    if (b.found && (!best.found || b.ms < best.ms)) best = b;
  } while (std::next_permutation(order.begin(), order.end()));
  return best;
}

TEST(PartitionLatencyBruteForce, MatchesExhaustiveSearchOnSmallCases) {
  std::mt19937_64 rng(1234567);
  RandomCaseOptions o;
  o.max_layers = 7;
  o.max_devices = 4;
  o.min_memory_ratio = 0.8;
  o.max_memory_ratio = 2.5;
  int feasible = 0, multi_stage = 0;
  for (int c = 0; c < 300; ++c) {
    const PlanRequest r = random_request(rng, o);
    SCOPED_TRACE("case " + std::to_string(c));
    const BruteResult brute = brute_force_all_orders(r);
    const Plan plan = plan_latency(r);
    ASSERT_EQ(plan.feasible, brute.found) << plan.reason;
    if (!brute.found) continue;
    ++feasible;
    if (plan.stages.size() > 1) ++multi_stage;
    EXPECT_NEAR(plan.ms_per_token, brute.ms, brute.ms * 1e-9);
    EXPECT_NEAR(reference_ms_per_token(r, split_of(plan.stages)), brute.ms, brute.ms * 1e-9);
  }
  EXPECT_GT(feasible, 100);
  EXPECT_GT(multi_stage, 50);
}

TEST(PartitionLatencyBruteForce, FixedOrderProgrammeIsExact) {
  std::mt19937_64 rng(8675309);
  RandomCaseOptions o;
  o.max_layers = 6;
  o.min_devices = 2;
  o.max_devices = 9;  // beyond the exhaustive limit: the fixed-order programme is what larger clusters use
  int feasible = 0;
  for (int c = 0; c < 150; ++c) {
    const PlanRequest r = random_request(rng, o);
    SCOPED_TRACE("case " + std::to_string(c));
    std::vector<size_t> order(r.devices.size());
    std::iota(order.begin(), order.end(), 0);
    const BruteResult brute = brute_force_order(r, order);
    const Plan plan = plan_latency_in_order(r);
    ASSERT_EQ(plan.feasible, brute.found) << plan.reason;
    if (!brute.found) continue;
    ++feasible;
    EXPECT_NEAR(plan.ms_per_token, brute.ms, brute.ms * 1e-9);
    for (size_t s = 1; s < plan.stages.size(); ++s) {
      EXPECT_LT(plan.stages[s - 1].device_index, plan.stages[s].device_index) << "must keep the given order";
    }
  }
  EXPECT_GT(feasible, 50);
}

// Eight devices where only orders with `a` first and `b` last fit: `a` alone can hold the
// embedding with a layer, `b` alone the head with a layer, the others one layer each.
// Every start order of the heuristic fails; the subset search must find the one that fits.
TEST(PartitionLatencyBruteForce, HeuristicFindsTheOnlyFittingOrderFamily) {
  PlanRequest r;
  UniformModelShape shape;
  shape.n_layers = 8;
  shape.layer_weight_bytes = 100 * 1024 * 1024;
  shape.layer_weight_elements = 200 * 1024 * 1024;
  shape.embed_bytes = 500 * 1024 * 1024;
  shape.head_bytes = 600 * 1024 * 1024;
  shape.dim = 1024;
  shape.n_heads = 8;
  shape.n_kv_heads = 8;
  shape.head_dim = 128;
  shape.vocab_size = 32000;
  r.model = make_uniform_cost_profile(shape);
  r.ctx = 16;
  r.margin = {0.0, 0.0};
  auto device = [](std::string id, int64_t mib, double gflops, double latency) {
    return DeviceProfile{std::move(id), "other", mib, gflops, gflops / 10, latency, 1000};
  };
  // Given order: b first, a last. Sorted by compute, bandwidth or latency, the small
  // devices come first; sorted by memory, a and b come first together.
  r.devices.push_back(device("b", 720, 5, 9));
  for (int i = 0; i < 6; ++i) r.devices.push_back(device(std::string("c").append(std::to_string(i)), 110, 100 + i, 1));
  r.devices.push_back(device("a", 620, 6, 8));
  ASSERT_GT(r.devices.size(), kExhaustiveOrderLimit);

  const Plan plan = plan_latency(r);
  ASSERT_TRUE(plan.feasible) << plan.reason;
  ASSERT_EQ(plan.stages.size(), 8u);
  EXPECT_EQ(plan.stages.front().device_id, "a");
  EXPECT_EQ(plan.stages.back().device_id, "b");
  EXPECT_FALSE(plan_memory(r).feasible);
  EXPECT_FALSE(plan_latency_in_order(r).feasible);
}

}  // namespace
}  // namespace baton
