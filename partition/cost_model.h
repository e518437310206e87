// The one cost model every strategy and every prediction uses: bytes a stage holds,
// time a stage takes for one decoded token, and time of a network hop. Internal to
// partition/; callers see its results through evaluate_split.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "model/frame_cost.h"
#include "partition/plan.h"

namespace baton {

struct StageTime {
  double compute_ms = 0;
  double memory_ms = 0;
  double ms() const { return compute_ms > memory_ms ? compute_ms : memory_ms; }
};

class CostModel {
 public:
  // The request must be valid (validate_request). Keeps a reference to it.
  explicit CostModel(const PlanRequest& request);

  int n_layers() const { return n_layers_; }
  size_t n_devices() const { return request_.devices.size(); }
  int64_t ctx() const { return ctx_; }
  // Decode is predicted at the middle of the context: the average over a generation
  // that fills it (attention and KV reads grow linearly with the position).
  double position() const { return position_; }

  double cap_bytes(size_t device) const { return caps_[device]; }
  double total_cap_bytes() const;

  // Weights held by a stage covering [first, last): layers, embedding when first == 0,
  // head when last == n_layers (the tied embedding counted once when both).
  double weight_bytes(int first, int last) const;
  double kv_bytes(int first, int last) const;
  double held_bytes(int first, int last) const { return weight_bytes(first, last) + kv_bytes(first, last); }
  bool fits(size_t device, int first, int last) const;

  // One decoded token (a row at position(), logits on the last stage).
  StageTime stage_time(size_t device, int first, int last) const;
  // Any frame: a prompt chunk, a speculative verification.
  StageTime frame_time(size_t device, int first, int last, const FrameShape& frame) const;
  StageWork stage_work(int first, int last) const;
  double stage_ms(size_t device, int first, int last) const { return stage_time(device, first, last).ms(); }

  // Hops; nullopt stands for the coordinator.
  double hop_ms(std::optional<size_t> from, std::optional<size_t> to, double bytes) const;
  double first_hop_ms(size_t device) const { return hop_ms(std::nullopt, device, request_.request_bytes); }
  double middle_hop_ms(size_t from, size_t to) const { return hop_ms(from, to, frame_bytes_); }
  double return_hop_ms(size_t device) const { return hop_ms(device, std::nullopt, request_.reply_bytes); }

  // Memory a whole-model plan needs at this context on `stages` devices (the tied head
  // needs its own copy of the embedding once the model is split).
  double total_need_bytes(size_t stages) const;

  // Largest layer index n in [first, n_layers - 1] such that the device holds [first, n)
  // without the head (n == first: no layers); the furthest a stage can reach.
  int furthest_reach(size_t device, int first) const;

 private:
  const PlanRequest& request_;
  int n_layers_;
  int64_t ctx_;
  double position_;
  double kv_per_token_layer_;
  double attention_flops_per_position_;
  double frame_bytes_;
  std::vector<double> caps_;
  std::vector<double> prefix_bytes_;  // prefix_bytes_[i] = bytes of layers [0, i)
  std::vector<double> prefix_flops_;
  std::vector<double> prefix_kv_rows_;  // KV positions held by layers [0, i)
};

// A request identical to `request` but reserving KV for `ctx` tokens.
PlanRequest with_context(const PlanRequest& request, int64_t ctx);

// Largest context in [1, upper] for which `fits_at(ctx)` holds, assuming it is monotone
// (true up to some context, false beyond); 0 when even one token does not fit.
template <typename FitsAt>
int64_t largest_fitting_context(int64_t upper, FitsAt fits_at) {
  if (upper < 1 || !fits_at(int64_t{1})) return 0;
  int64_t good = 1, bad = upper + 1;
  while (bad - good > 1) {
    const int64_t mid = good + (bad - good) / 2;
    if (fits_at(mid)) good = mid; else bad = mid;
  }
  return good;
}

inline constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace baton
