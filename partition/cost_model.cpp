#include "partition/cost_model.h"

#include <algorithm>
#include <numeric>

namespace baton {

CostModel::CostModel(const PlanRequest& request)
    : request_(request),
      n_layers_(request.model.n_layers),
      ctx_(request.ctx),
      position_(static_cast<double>(request.ctx) / 2.0),
      kv_per_token_layer_(request.model.kv_bytes_per_token_per_layer(request.kv_dtype)),
      attention_flops_per_position_(request.model.attention_flops_per_position()),
      frame_bytes_(request.frame_header_bytes + request.model.dim * request.wire_bytes_per_element) {
  caps_.reserve(request.devices.size());
  for (const DeviceProfile& d : request.devices) {
    const double cap = static_cast<double>(d.memory_mib) * kMiB * (1.0 - request.margin.fraction) -
                       request.margin.mib * kMiB;
    caps_.push_back(std::max(0.0, cap));
  }
  prefix_bytes_.assign(static_cast<size_t>(n_layers_) + 1, 0.0);
  prefix_flops_.assign(static_cast<size_t>(n_layers_) + 1, 0.0);
  prefix_kv_rows_.assign(static_cast<size_t>(n_layers_) + 1, 0.0);
  const int64_t sessions = std::max<int64_t>(1, request.sessions);
  const int64_t session_ctx = std::max<int64_t>(1, ctx_ / sessions);
  for (int i = 0; i < n_layers_; ++i) {
    prefix_bytes_[i + 1] = prefix_bytes_[i] + static_cast<double>(request.model.layer_weight_bytes[i]);
    prefix_flops_[i + 1] = prefix_flops_[i] + request.model.layer_flops[i];
    // KV positions layer i holds: the context, or a sliding window's rows per session.
    const int64_t rows = request.model.sliding.slides(i) ? sessions * request.model.sliding.rows(i, session_ctx) : ctx_;
    prefix_kv_rows_[i + 1] = prefix_kv_rows_[i] + static_cast<double>(rows);
  }
}

double CostModel::total_cap_bytes() const { return std::accumulate(caps_.begin(), caps_.end(), 0.0); }

double CostModel::weight_bytes(int first, int last) const {
  const ModelCostProfile& m = request_.model;
  double bytes = prefix_bytes_[last] - prefix_bytes_[first];
  const bool embed = first == 0;
  const bool head = last == n_layers_;
  if (embed) bytes += static_cast<double>(m.embed_bytes);
  if (head) bytes += static_cast<double>(m.head_bytes);
  if (embed && head) bytes -= static_cast<double>(m.tied_shared_bytes);
  return bytes;
}

double CostModel::kv_bytes(int first, int last) const {
  return kv_per_token_layer_ * (prefix_kv_rows_[last] - prefix_kv_rows_[first]);
}

bool CostModel::fits(size_t device, int first, int last) const {
  return held_bytes(first, last) <= caps_[device];
}

StageWork CostModel::stage_work(int first, int last) const {
  const ModelCostProfile& m = request_.model;
  StageWork w;
  w.layers = last - first;
  w.layer_flops = prefix_flops_[last] - prefix_flops_[first];
  w.layer_bytes = prefix_bytes_[last] - prefix_bytes_[first];
  if (first == 0) w.embed_row_bytes = static_cast<double>(m.embed_bytes) / m.vocab_size;
  if (last == n_layers_) {
    w.head_flops = m.head_flops;
    w.head_bytes = static_cast<double>(m.head_bytes);
  }
  w.attention_flops_per_position = attention_flops_per_position_;
  w.kv_bytes_per_position = kv_per_token_layer_;
  w.window = m.sliding.window;
  for (int il = first; il < last; ++il) w.sliding_layers += m.sliding.slides(il);
  return w;
}

StageTime CostModel::frame_time(size_t device, int first, int last, const FrameShape& frame) const {
  const DeviceProfile& d = request_.devices[device];
  const FrameWork work = frame_work(stage_work(first, last), frame);
  StageTime t;
  t.compute_ms = work.flops / (d.compute_gflops * 1e6);
  t.memory_ms = work.bytes / (d.memory_bandwidth_gbs * 1e6);
  return t;
}

StageTime CostModel::stage_time(size_t device, int first, int last) const {
  // Per decoded token a stage streams its layers' weights and the cached K/V of every
  // position: one row at the predicted position, with logits on the last stage.
  return frame_time(device, first, last, FrameShape{1, 1, position_});
}

double CostModel::hop_ms(std::optional<size_t> from, std::optional<size_t> to, double bytes) const {
  // A hop crosses the sender's and the receiver's attachment to the LAN; the slower link
  // sets the transfer rate.
  auto latency = [&](std::optional<size_t> end) {
    return end ? request_.devices[*end].link_latency_ms : request_.coordinator.latency_ms;
  };
  auto bandwidth = [&](std::optional<size_t> end) {
    return end ? request_.devices[*end].link_bandwidth_mbps : request_.coordinator.bandwidth_mbps;
  };
  const double mbps = std::min(bandwidth(from), bandwidth(to));
  return latency(from) + latency(to) + bytes * 8.0 / (mbps * 1e3) + request_.hop_software_ms;
}

double CostModel::total_need_bytes(size_t stages) const {
  double need = weight_bytes(0, n_layers_) + kv_bytes(0, n_layers_);
  if (stages > 1) need += static_cast<double>(request_.model.tied_shared_bytes);
  return need;
}

int CostModel::furthest_reach(size_t device, int first) const {
  // held_bytes grows with the range, so the ranges that fit form a prefix: bisect it.
  int good = first, bad = n_layers_;  // [first, good) fits; [first, bad) does not or holds the head
  while (bad - good > 1) {
    const int mid = good + (bad - good) / 2;
    if (fits(device, first, mid)) good = mid; else bad = mid;
  }
  return good;
}

PlanRequest with_context(const PlanRequest& request, int64_t ctx) {
  PlanRequest copy = request;
  copy.ctx = ctx;
  return copy;
}

}  // namespace baton
