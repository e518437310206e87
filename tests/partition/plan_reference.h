// Test helpers for the planner: random requests from fixed seeds, and an independent,
// deliberately plain re-statement of the cost model (straight from the design text, no
// prefix sums, no shared code) to check the library's predictions against.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "partition/plan.h"

namespace baton::test {

inline constexpr double kMiBytes = 1024.0 * 1024.0;

inline double reference_kv_bytes_per_element(DType t) {
  switch (t) {
    case DType::F32: return 4.0;
    case DType::F16: return 2.0;
    case DType::Q8_0: return 34.0 / 32.0;
    default: return -1;
  }
}

inline double reference_kv_per_token_layer(const PlanRequest& r) {
  return 2.0 * r.model.n_kv_heads * r.model.head_dim * reference_kv_bytes_per_element(r.kv_dtype);
}

inline double reference_cap(const PlanRequest& r, size_t device) {
  const double cap = static_cast<double>(r.devices[device].memory_mib) * kMiBytes * (1.0 - r.margin.fraction) -
                     r.margin.mib * kMiBytes;
  return cap > 0 ? cap : 0;
}

inline double reference_held(const PlanRequest& r, int first, int last) {
  const ModelCostProfile& m = r.model;
  double bytes = 0;
  for (int i = first; i < last; ++i) bytes += static_cast<double>(m.layer_weight_bytes[i]);
  if (first == 0) bytes += static_cast<double>(m.embed_bytes);
  if (last == m.n_layers) bytes += static_cast<double>(m.head_bytes);
  if (first == 0 && last == m.n_layers) bytes -= static_cast<double>(m.tied_shared_bytes);
  bytes += reference_kv_per_token_layer(r) * static_cast<double>(r.ctx) * (last - first);
  return bytes;
}

inline bool reference_fits(const PlanRequest& r, const StageRange& s) {
  return reference_held(r, s.first, s.last) <= reference_cap(r, s.device_index);
}

inline double reference_stage_ms(const PlanRequest& r, const StageRange& s) {
  const ModelCostProfile& m = r.model;
  const DeviceProfile& d = r.devices[s.device_index];
  const double position = static_cast<double>(r.ctx) / 2.0;
  double flops = 0, bytes = 0;
  for (int i = s.first; i < s.last; ++i) {
    flops += m.layer_flops[i] + 4.0 * m.n_heads * m.head_dim * position;
    bytes += static_cast<double>(m.layer_weight_bytes[i]) + reference_kv_per_token_layer(r) * position;
  }
  if (s.first == 0) bytes += static_cast<double>(m.embed_bytes) / m.vocab_size;
  if (s.last == m.n_layers) {
    flops += m.head_flops;
    bytes += static_cast<double>(m.head_bytes);
  }
  const double compute_ms = flops / (d.compute_gflops * 1e9) * 1e3;
  const double memory_ms = bytes / (d.memory_bandwidth_gbs * 1e9) * 1e3;
  return std::max(compute_ms, memory_ms);
}

// Endpoint -1 is the coordinator.
inline double reference_hop_ms(const PlanRequest& r, int from, int to, double bytes) {
  auto latency = [&](int e) { return e < 0 ? r.coordinator.latency_ms : r.devices[e].link_latency_ms; };
  auto mbps = [&](int e) { return e < 0 ? r.coordinator.bandwidth_mbps : r.devices[e].link_bandwidth_mbps; };
  const double bits_per_ms = std::min(mbps(from), mbps(to)) * 1e6 / 1e3;
  return latency(from) + latency(to) + bytes * 8.0 / bits_per_ms + r.hop_software_ms;
}

inline double reference_ms_per_token(const PlanRequest& r, const std::vector<StageRange>& split) {
  const double frame = r.frame_header_bytes + r.model.dim * r.wire_bytes_per_element;
  double total = reference_hop_ms(r, -1, static_cast<int>(split.front().device_index), r.request_bytes);
  for (size_t s = 0; s < split.size(); ++s) {
    if (s > 0) {
      total += reference_hop_ms(r, static_cast<int>(split[s - 1].device_index),
                                static_cast<int>(split[s].device_index), frame);
    }
    total += reference_stage_ms(r, split[s]);
  }
  return total + reference_hop_ms(r, static_cast<int>(split.back().device_index), -1, r.reply_bytes);
}

inline std::vector<StageRange> split_of(const std::vector<PlanStage>& stages) {
  std::vector<StageRange> split;
  for (const PlanStage& s : stages) split.push_back({s.device_index, s.first, s.last});
  return split;
}

struct RandomCaseOptions {
  int min_layers = 1, max_layers = 40;
  int min_devices = 1, max_devices = 8;
  // Total device memory relative to the model's weights + KV: below 1 is always short.
  double min_memory_ratio = 0.6, max_memory_ratio = 3.0;
  int64_t max_ctx = 16384;
};

// A random model and device set. Layer sizes vary per layer (mixed quantisation), the
// embedding and head may be large or tied, devices differ by orders of magnitude.
inline PlanRequest random_request(std::mt19937_64& rng, const RandomCaseOptions& o = {}) {
  auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  auto integer = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  PlanRequest r;
  ModelCostProfile& m = r.model;
  m.n_layers = static_cast<int>(integer(o.min_layers, o.max_layers));
  m.n_heads = static_cast<int>(integer(1, 16)) * 2;
  m.n_kv_heads = m.n_heads / (integer(0, 1) ? 2 : 1);
  m.head_dim = static_cast<int>(integer(2, 8)) * 16;
  m.dim = m.n_heads * m.head_dim;
  m.vocab_size = static_cast<int>(integer(1000, 150000));
  const double base_layer = uniform(1, 300) * kMiBytes;
  for (int i = 0; i < m.n_layers; ++i) {
    const double bytes = base_layer * uniform(0.5, 1.5);
    m.layer_weight_bytes.push_back(static_cast<uint64_t>(bytes));
    m.layer_flops.push_back(2.0 * bytes * uniform(1.0, 4.0));  // 1-4 elements per stored byte
  }
  m.embed_bytes = static_cast<uint64_t>(base_layer * uniform(0, 3));
  const bool tied = integer(0, 3) == 0;
  const uint64_t norm_bytes = static_cast<uint64_t>(m.dim) * 4;
  m.head_bytes = tied ? m.embed_bytes + norm_bytes : static_cast<uint64_t>(base_layer * uniform(0, 3)) + norm_bytes;
  m.tied_shared_bytes = tied ? m.embed_bytes : 0;
  m.head_flops = 2.0 * m.vocab_size * m.dim;

  const int dtype_pick = static_cast<int>(integer(0, 2));
  r.kv_dtype = dtype_pick == 0 ? DType::F16 : dtype_pick == 1 ? DType::Q8_0 : DType::F32;
  r.ctx = integer(1, o.max_ctx);
  r.margin.fraction = integer(0, 1) ? uniform(0, 0.2) : 0.0;
  r.margin.mib = integer(0, 1) ? uniform(0, 64) : 0.0;

  const int n = static_cast<int>(integer(o.min_devices, o.max_devices));
  double need = reference_held(r, 0, m.n_layers);
  std::vector<double> weights;
  for (int i = 0; i < n; ++i) weights.push_back(uniform(0.05, 1.0));
  double weight_sum = 0;
  for (double w : weights) weight_sum += w;
  const double total_mib = need / kMiBytes * uniform(o.min_memory_ratio, o.max_memory_ratio);
  static const char* kinds[] = {"phone", "tablet", "laptop", "pc", "sbc", "server", "other"};
  for (int i = 0; i < n; ++i) {
    DeviceProfile d;
    d.id = "dev" + std::to_string(i);
    d.kind = kinds[integer(0, 6)];
    d.memory_mib = std::max<int64_t>(1, static_cast<int64_t>(total_mib * weights[i] / weight_sum) +
                                            static_cast<int64_t>(r.margin.mib));
    d.compute_gflops = std::exp(uniform(std::log(2.0), std::log(2000.0)));
    d.memory_bandwidth_gbs = std::exp(uniform(std::log(2.0), std::log(400.0)));
    d.link_latency_ms = uniform(0, 10);
    d.link_bandwidth_mbps = std::exp(uniform(std::log(20.0), std::log(10000.0)));
    r.devices.push_back(d);
  }
  return r;
}

}  // namespace baton::test
