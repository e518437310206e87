#include "partition/frame_timing.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "partition/cost_model.h"

namespace baton {

namespace {

// Bytes of a frame of `rows` rows on the hop into stage `s`: token ids into the first,
// activations after it.
double hop_bytes(const PlanRequest& request, size_t s, int rows) {
  if (s == 0) return request.request_bytes + 4.0 * (rows - 1);
  return request.frame_header_bytes + static_cast<double>(rows) * request.model.dim * request.wire_bytes_per_element;
}

double hop_in_ms(const CostModel& cost, const PlanRequest& request, const std::vector<StageRange>& split, size_t s,
                 int rows) {
  const std::optional<size_t> from = s == 0 ? std::nullopt : std::optional<size_t>(split[s - 1].device_index);
  return cost.hop_ms(from, split[s].device_index, hop_bytes(request, s, rows));
}

}  // namespace

double FrameTiming::total_ms() const {
  return std::accumulate(stage_ms.begin(), stage_ms.end(), 0.0) + std::accumulate(hop_in_ms.begin(), hop_in_ms.end(), 0.0) +
         return_ms;
}

FrameTiming time_frame(const PlanRequest& request, const std::vector<StageRange>& split, const FrameShape& frame) {
  const CostModel cost(request);
  FrameTiming t;
  for (size_t s = 0; s < split.size(); ++s) {
    const StageRange& r = split[s];
    FrameShape here = frame;
    if (s + 1 < split.size()) here.logits_rows = 0;
    t.stage_ms.push_back(cost.frame_time(r.device_index, r.first, r.last, here).ms());
    t.hop_in_ms.push_back(hop_in_ms(cost, request, split, s, frame.rows));
  }
  if (!split.empty()) t.return_ms = cost.return_hop_ms(split.back().device_index);
  return t;
}

double prompt_ms(const PlanRequest& request, const std::vector<StageRange>& split, int rows, double position, int chunk) {
  chunk = std::max(chunk, 1);
  double total = 0;
  for (int sent = 0; sent < rows; sent += chunk) {
    const int n = std::min(chunk, rows - sent);
    total += time_frame(request, split, FrameShape{n, 1, position + sent}).total_ms();
  }
  return total;
}

}  // namespace baton
