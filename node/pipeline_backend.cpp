#include "node/pipeline_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace baton {

uint32_t logits_needed(const SamplerParams& p) {
  if (p.repeat_penalty != 1.0f) return 0;  // penalised tokens may sit outside any top-k
  if (p.temperature <= 0) return 1;
  if (p.top_k > 0) return static_cast<uint32_t>(p.top_k);
  return 0;
}

PipelineBackend::PipelineBackend(const kj::Executor& executor, Cluster& cluster, uint64_t session, int64_t context)
    : executor_(executor), cluster_(cluster), session_(session), context_(context) {}

PipelineBackend::~PipelineBackend() {
  try {
    executor_.executeSync([this] { return cluster_.drop_session(session_); });
  } catch (const std::exception& e) {
    spdlog::debug("dropping session {}: {}", session_, e.what());
  } catch (const kj::Exception& e) {
    spdlog::debug("dropping session {}: {}", session_, e.getDescription().cStr());
  }
}

std::vector<float> PipelineBackend::forward(std::span<const int32_t> tokens, int64_t pos0) {
  std::vector<int32_t> ids(tokens.begin(), tokens.end());
  const uint64_t step = ++step_;
  const bool decode = ids.size() == 1;
  const auto started = std::chrono::steady_clock::now();
  StepResult r = executor_.executeSync(
      [this, step, pos0, ids = std::move(ids)]() mutable { return cluster_.step(session_, step, pos0, std::move(ids), top_k_, batch_group_); });
  const auto wall = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count());
  auto accumulate = [&r](std::vector<StageTimingRecord>& totals) {
    if (totals.size() < r.timings.size()) totals.resize(r.timings.size());
    for (size_t i = 0; i < r.timings.size(); ++i) {
      auto& t = totals[i];
      t.stage = r.timings[i].stage;
      t.compute_us += r.timings[i].compute_us;
      t.decode_us += r.timings[i].decode_us;
      t.raw_bytes += r.timings[i].raw_bytes;
      t.wire_bytes += r.timings[i].wire_bytes;
    }
  };
  ++stats_.steps;
  stats_.wall_us += wall;
  accumulate(stats_.totals);
  if (decode) {
    ++stats_.decode_steps;
    stats_.decode_wall_us += wall;
    accumulate(stats_.decode_totals);
  }
  stats_.last = r.timings;
  return std::move(r.logits);
}

void PipelineBackend::truncate(int64_t) {}

std::vector<StagePerToken> per_token_figures(const PipelineStats& stats) {
  std::vector<StagePerToken> out;
  if (stats.decode_steps == 0) return out;
  const double steps = static_cast<double>(stats.decode_steps);
  double staged_us = 0;
  for (const auto& t : stats.decode_totals) staged_us += static_cast<double>(t.compute_us + t.decode_us);
  const double outside_us = std::max(0.0, static_cast<double>(stats.decode_wall_us) - staged_us);
  const double share = 1.0 / static_cast<double>(stats.decode_totals.size());
  for (const auto& t : stats.decode_totals) {
    StagePerToken s;
    s.stage = t.stage;
    s.compute_ms = static_cast<double>(t.compute_us) / steps / 1000.0;
    s.transfer_ms = (static_cast<double>(t.decode_us) + outside_us * share) / steps / 1000.0;
    s.wire_bytes = static_cast<double>(t.wire_bytes) / steps;
    out.push_back(s);
  }
  return out;
}

}  // namespace baton
