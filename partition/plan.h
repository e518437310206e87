// Which device runs which layers: contiguous layer ranges over an ordered set of devices,
// with predicted memory and time per decoded token. Pure functions: no I/O, no clocks.
//
// Strategies
//   memory  (default) layer counts proportional to each device's cap (usable memory
//           after the safety margin), in the given device order; the embedding and head
//           count against the first and last stage but do not change the counts.
//   latency minimum of the predicted time per decoded token over contiguous splits
//           (devices may get no layers) and device orders, under memory caps. Exact over
//           all orders up to kExhaustiveOrderLimit devices; beyond, exact per order from a
//           few start orders (given, by compute, memory, bandwidth, latency, and, up to
//           kSubsetSearchLimit devices, an order a subset search found to fit) improved
//           by pairwise swaps. Never slower than `memory` on the same request.
// Both are scored by the same cost model (evaluate_split), so predictions are comparable.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "model/cost_profile.h"
#include "partition/device_profile.h"
#include "tensor/dtype.h"

namespace baton {

enum class Strategy { Memory, Latency };
std::string_view strategy_name(Strategy strategy);
std::optional<Strategy> parse_strategy(std::string_view name);

// Memory kept free on every device for activations, scratch buffers and the runtime:
// cap = memory_mib * (1 - fraction) - mib.
struct SafetyMargin {
  double fraction = 0.05;
  double mib = 0;
};

// The coordinator's own network attachment (hops coordinator -> first stage and
// last stage -> coordinator cross it). Default: a wired machine on the LAN.
struct CoordinatorLink {
  double latency_ms = 0.5;
  double bandwidth_mbps = 1000;
};

struct PlanRequest {
  ModelCostProfile model;
  std::vector<DeviceProfile> devices;  // in the chosen order (memory keeps it)
  int64_t ctx = 4096;                  // tokens of KV cache reserved on every stage
  // Sessions those tokens are for (ctx / sessions each): a sliding-window layer keeps at
  // most its window's rows per session (model/sliding_window.h), whatever ctx is.
  uint32_t sessions = 1;
  DType kv_dtype = DType::F16;
  SafetyMargin margin;
  // Activation frames between stages: one row of `dim` elements. 1.0625 bytes per
  // element is INT8 with one f16 scale per block of 32 (34 bytes per 32 elements).
  double wire_bytes_per_element = 1.0625;
  double frame_header_bytes = 64;
  // What every hop costs besides the links: serialising, system calls, waking the receiving
  // process. `baton bench --nodes 2` measures 0.08-0.13 ms per hop on loopback.
  double hop_software_ms = 0.1;
  double request_bytes = 68;        // coordinator -> first stage: the token id
  double reply_bytes = 64 + 40 * 8; // last stage -> coordinator: top-k (id, logit) pairs
  CoordinatorLink coordinator;
};

inline constexpr size_t kExhaustiveOrderLimit = 7;
inline constexpr size_t kMaxPlanDevices = 64;
inline constexpr int64_t kMaxPlanContext = int64_t{1} << 30;

struct PlanStage {
  size_t device_index = 0;  // into PlanRequest::devices
  std::string device_id;
  std::string kind;
  int first = 0;  // layers [first, last)
  int last = 0;
  bool holds_embed = false;
  bool holds_head = false;
  double weight_bytes = 0;  // layers + embedding/head held by this stage
  double kv_bytes = 0;      // KV reserve for the requested context
  double total_bytes = 0;   // weight_bytes + kv_bytes
  double cap_bytes = 0;     // usable memory after the safety margin
  double compute_ms = 0;    // FLOPs / compute_gflops
  double memory_ms = 0;     // bytes read per token / memory bandwidth
  double link_ms = 0;       // the hop that brings this stage its input
  double stage_ms = 0;      // max(compute_ms, memory_ms): the roofline bound
  double memory_share = 0;  // this device's share of all devices' usable memory
  bool fits = false;        // total_bytes <= cap_bytes
  int layers() const { return last - first; }
  bool compute_bound() const { return compute_ms >= memory_ms; }
};

struct Plan {
  Strategy strategy = Strategy::Memory;
  bool feasible = false;
  std::string reason;               // why not, when infeasible (empty otherwise)
  std::vector<PlanStage> stages;    // empty unless feasible: never hand out a plan that does not fit
  std::vector<PlanStage> rejected;  // the split that was tried, when one was (explains the reason)
  double return_link_ms = 0;        // last stage -> coordinator
  double ms_per_token = 0;          // sum of stage_ms and every link_ms, incl. the return hop
  double tokens_per_s = 0;
  int64_t ctx = 0;
  double predicted_position = 0;    // decoded token position the times are predicted at
  double total_need_bytes = 0;      // weights (+ head copy when split) + KV for ctx
  double total_cap_bytes = 0;       // sum of all devices' caps
  // When infeasible: the largest context (< ctx) this strategy could fit, 0 if none.
  std::optional<int64_t> max_fitting_ctx;
};

// No split of the model fits the devices (well-formed input: `baton plan`, a coordinator
// that gave up waiting, `baton simulate` exit with status 2 for it).
class NoPlanError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One stage of a candidate split.
struct StageRange {
  size_t device_index = 0;
  int first = 0;
  int last = 0;
};

// Empty if the request is well formed, else what is wrong.
std::string validate_request(const PlanRequest& request);

// Scores a split with the shared cost model. `feasible` is true when the ranges are
// contiguous, non-empty, cover [0, n_layers) in order, use each device at most once and
// every stage fits its cap. Stages are returned even when they do not fit (this is the
// scoring primitive; plan_* never return such a plan as feasible).
Plan evaluate_split(const PlanRequest& request, const std::vector<StageRange>& split, Strategy label);

Plan plan_memory(const PlanRequest& request);
Plan plan_latency(const PlanRequest& request);
// Exact latency optimum for the given device order only (devices may get no layers).
Plan plan_latency_in_order(const PlanRequest& request);
Plan make_plan(const PlanRequest& request, Strategy strategy);

// Largest-remainder apportionment of `total` items by `weights` (non-negative, not all
// zero): sums to total, each count is floor or ceil of total * w / sum(w).
std::vector<int> apportion(int total, const std::vector<double>& weights);

}  // namespace baton
