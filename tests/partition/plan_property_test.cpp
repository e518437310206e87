// Properties every plan must have, over hundreds of random models and device sets
// (fixed seeds): contiguous ranges covering every layer once, every cap respected,
// `memory` counts within one layer of the exact proportion, `latency` never predicted
// slower than `memory`, infeasible requests explained, never answered with a bad plan.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>

#include "plan_reference.h"

namespace baton {
namespace {

using test::RandomCaseOptions;
using test::random_request;
using test::reference_cap;
using test::reference_held;
using test::reference_ms_per_token;
using test::split_of;

int case_count(int normal) {
  // BATON_LONG_TESTS=1 multiplies the cases for soak runs.
  const char* env = std::getenv("BATON_LONG_TESTS");
  return env && std::string(env) == "1" ? normal * 50 : normal;
}

std::string describe(const PlanRequest& r) {
  std::string s = "layers=" + std::to_string(r.model.n_layers) + " ctx=" + std::to_string(r.ctx) + " devices=[";
  for (const auto& d : r.devices) s += d.id + ":" + std::to_string(d.memory_mib) + "MiB ";
  return s + "]";
}

// Structural and memory checks of a feasible plan, recomputed from the request.
void expect_valid_feasible_plan(const PlanRequest& r, const Plan& p) {
  ASSERT_TRUE(p.feasible) << p.reason;
  EXPECT_TRUE(p.reason.empty());
  ASSERT_FALSE(p.stages.empty());
  std::set<size_t> used;
  std::vector<int> owner(r.model.n_layers, 0);
  int next = 0;
  for (size_t s = 0; s < p.stages.size(); ++s) {
    const PlanStage& st = p.stages[s];
    ASSERT_LT(st.device_index, r.devices.size());
    EXPECT_EQ(st.device_id, r.devices[st.device_index].id);
    EXPECT_TRUE(used.insert(st.device_index).second) << "device used twice";
    EXPECT_EQ(st.first, next) << "ranges must be contiguous";
    EXPECT_LT(st.first, st.last) << "stages hold at least one layer";
    for (int l = st.first; l < st.last && l < r.model.n_layers; ++l) ++owner[l];
    next = st.last;
    EXPECT_EQ(st.holds_embed, s == 0);
    EXPECT_EQ(st.holds_head, s + 1 == p.stages.size());
    const double held = reference_held(r, st.first, st.last);
    const double cap = reference_cap(r, st.device_index);
    EXPECT_LE(held, cap * (1 + 1e-12)) << "stage " << s << " exceeds its device's memory";
    EXPECT_NEAR(st.total_bytes, held, held * 1e-12 + 1e-6);
    EXPECT_NEAR(st.cap_bytes, cap, cap * 1e-12 + 1e-6);
  }
  EXPECT_EQ(next, r.model.n_layers);
  for (int l = 0; l < r.model.n_layers; ++l) EXPECT_EQ(owner[l], 1) << "layer " << l << " covered " << owner[l] << "x";
  const double expected_ms = reference_ms_per_token(r, split_of(p.stages));
  EXPECT_NEAR(p.ms_per_token, expected_ms, expected_ms * 1e-9);
  EXPECT_NEAR(p.tokens_per_s, 1000.0 / expected_ms, 1000.0 / expected_ms * 1e-9);
}

void expect_explained_infeasible(const Plan& p) {
  EXPECT_FALSE(p.feasible);
  EXPECT_TRUE(p.stages.empty()) << "an infeasible plan must not carry stages";
  EXPECT_FALSE(p.reason.empty());
  EXPECT_TRUE(p.max_fitting_ctx.has_value()) << p.reason;
}

// Memory strategy: the device's layer count is within one layer of L * cap / sum(caps).
void expect_proportional(const PlanRequest& r, const std::vector<PlanStage>& stages) {
  double total_cap = 0;
  for (size_t d = 0; d < r.devices.size(); ++d) total_cap += reference_cap(r, d);
  std::map<size_t, int> counts;
  int next = 0;
  for (const PlanStage& st : stages) {
    counts[st.device_index] = st.layers();
    EXPECT_EQ(st.first, next);
    next = st.last;
  }
  EXPECT_EQ(next, r.model.n_layers);
  // Stages follow the given device order.
  for (size_t s = 1; s < stages.size(); ++s) EXPECT_LT(stages[s - 1].device_index, stages[s].device_index);
  for (size_t d = 0; d < r.devices.size(); ++d) {
    const double exact = r.model.n_layers * reference_cap(r, d) / total_cap;
    const int count = counts.count(d) ? counts[d] : 0;
    EXPECT_LE(std::abs(count - exact), 1.0 + 1e-9) << "device " << d << " got " << count << ", exact " << exact;
  }
}

TEST(PartitionPlanProperties, RandomRequestsBothStrategies) {
  std::mt19937_64 rng(20240601);
  int feasible_memory = 0, feasible_latency = 0, latency_strictly_better = 0;
  const int cases = case_count(400);
  for (int c = 0; c < cases; ++c) {
    const PlanRequest r = random_request(rng);
    SCOPED_TRACE("case " + std::to_string(c) + ": " + describe(r));
    ASSERT_EQ(validate_request(r), "");
    const Plan memory = plan_memory(r);
    const Plan latency = plan_latency(r);
    EXPECT_EQ(memory.strategy, Strategy::Memory);
    EXPECT_EQ(latency.strategy, Strategy::Latency);
    if (memory.feasible) {
      ++feasible_memory;
      expect_valid_feasible_plan(r, memory);
      expect_proportional(r, memory.stages);
    } else {
      expect_explained_infeasible(memory);
      if (!memory.rejected.empty()) expect_proportional(r, memory.rejected);
    }
    if (latency.feasible) {
      ++feasible_latency;
      expect_valid_feasible_plan(r, latency);
    } else {
      expect_explained_infeasible(latency);
    }
    if (memory.feasible) {
      ASSERT_TRUE(latency.feasible) << "latency must find a plan whenever memory does";
      EXPECT_LE(latency.ms_per_token, memory.ms_per_token * (1 + 1e-12));
      if (latency.ms_per_token < memory.ms_per_token * (1 - 1e-6)) ++latency_strictly_better;
    }
  }
  // The generator must exercise both outcomes, or the properties above prove little.
  EXPECT_GT(feasible_memory, cases / 10);
  EXPECT_GT(cases - feasible_latency, cases / 20);
  EXPECT_GT(latency_strictly_better, cases / 10);
  EXPECT_GE(feasible_latency, feasible_memory);
}

TEST(PartitionPlanProperties, SuggestedContextFitsAndIsTheLargest) {
  std::mt19937_64 rng(77);
  RandomCaseOptions o;
  o.max_devices = 6;
  o.min_memory_ratio = 0.3;
  o.max_memory_ratio = 1.6;
  int checked = 0, none_fits = 0;
  for (int c = 0; c < case_count(200); ++c) {
    const PlanRequest r = random_request(rng, o);
    SCOPED_TRACE("case " + std::to_string(c) + ": " + describe(r));
    for (Strategy strategy : {Strategy::Memory, Strategy::Latency}) {
      const Plan p = make_plan(r, strategy);
      if (p.feasible) continue;
      ASSERT_TRUE(p.max_fitting_ctx.has_value()) << p.reason;
      const int64_t suggestion = *p.max_fitting_ctx;
      EXPECT_LT(suggestion, r.ctx);
      if (suggestion == 0) {
        ++none_fits;
        EXPECT_NE(p.reason.find("no context would fit"), std::string::npos) << p.reason;
        PlanRequest one = r;
        one.ctx = 1;
        EXPECT_FALSE(make_plan(one, strategy).feasible);
        continue;
      }
      ++checked;
      EXPECT_NE(p.reason.find(std::to_string(suggestion)), std::string::npos) << p.reason;
      PlanRequest smaller = r;
      smaller.ctx = suggestion;
      const Plan fitted = make_plan(smaller, strategy);
      expect_valid_feasible_plan(smaller, fitted);
      PlanRequest one_more = r;
      one_more.ctx = suggestion + 1;
      EXPECT_FALSE(make_plan(one_more, strategy).feasible) << "the suggestion should be the largest context";
    }
  }
  EXPECT_GT(checked, 20);
  EXPECT_GT(none_fits, 5);
}

TEST(PartitionPlanProperties, ManyDevicesUseTheHeuristicSafely) {
  std::mt19937_64 rng(4242);
  RandomCaseOptions o;
  o.min_devices = 8;
  o.max_devices = 12;
  o.max_layers = 32;
  for (int c = 0; c < case_count(30); ++c) {
    const PlanRequest r = random_request(rng, o);
    SCOPED_TRACE("case " + std::to_string(c) + ": " + describe(r));
    const Plan memory = plan_memory(r);
    const Plan in_order = plan_latency_in_order(r);
    const Plan latency = plan_latency(r);
    if (latency.feasible) expect_valid_feasible_plan(r, latency); else expect_explained_infeasible(latency);
    if (in_order.feasible) {
      expect_valid_feasible_plan(r, in_order);
      ASSERT_TRUE(latency.feasible);
      EXPECT_LE(latency.ms_per_token, in_order.ms_per_token * (1 + 1e-12));
    }
    if (memory.feasible) {
      ASSERT_TRUE(in_order.feasible) << "the in-order optimum includes the memory split";
      EXPECT_LE(in_order.ms_per_token, memory.ms_per_token * (1 + 1e-12));
    }
  }
}

TEST(PartitionApportion, SumsToTotalAndStaysWithinOneOfExact) {
  std::mt19937_64 rng(99);
  for (int c = 0; c < 2000; ++c) {
    const int total = std::uniform_int_distribution<int>(0, 200)(rng);
    const int n = std::uniform_int_distribution<int>(1, 12)(rng);
    std::vector<double> weights;
    for (int i = 0; i < n; ++i) {
      // Some zero weights and some exact ties, the cases rounding gets wrong.
      const int kind = std::uniform_int_distribution<int>(0, 3)(rng);
      weights.push_back(kind == 0 ? 0.0 : kind == 1 ? 1.0 : std::uniform_real_distribution<double>(0, 100)(rng));
    }
    weights[0] += 0.5;  // not all zero
    double sum = 0;
    for (double w : weights) sum += w;
    const std::vector<int> counts = apportion(total, weights);
    ASSERT_EQ(counts.size(), weights.size());
    int assigned = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      const double exact = total * weights[i] / sum;
      EXPECT_GE(counts[i], 0);
      EXPECT_LT(std::abs(counts[i] - exact), 1.0) << "weight " << weights[i] << " exact " << exact;
      if (weights[i] == 0) {
        EXPECT_EQ(counts[i], 0);
      }
      assigned += counts[i];
    }
    EXPECT_EQ(assigned, total);
  }
}

TEST(PartitionApportion, HandComputedExamples) {
  EXPECT_EQ(apportion(10, {1, 1, 1}), (std::vector<int>{4, 3, 3}));  // tie: earlier device first
  EXPECT_EQ(apportion(32, {3072, 8192, 16384}), (std::vector<int>{4, 9, 19}));  // 3.59, 9.48, 18.96
  EXPECT_EQ(apportion(7, {0, 2, 5}), (std::vector<int>{0, 2, 5}));
  EXPECT_EQ(apportion(1, {1, 3}), (std::vector<int>{0, 1}));
}

}  // namespace
}  // namespace baton
