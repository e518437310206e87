#include "node/pipeline_backend.h"

#include <spdlog/spdlog.h>

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
  StepResult r = executor_.executeSync(
      [this, step, pos0, ids = std::move(ids)]() mutable { return cluster_.step(session_, step, pos0, std::move(ids), top_k_); });
  ++stats_.steps;
  if (stats_.totals.size() < r.timings.size()) stats_.totals.resize(r.timings.size());
  for (size_t i = 0; i < r.timings.size(); ++i) {
    auto& t = stats_.totals[i];
    t.stage = r.timings[i].stage;
    t.compute_us += r.timings[i].compute_us;
    t.decode_us += r.timings[i].decode_us;
    t.raw_bytes += r.timings[i].raw_bytes;
    t.wire_bytes += r.timings[i].wire_bytes;
  }
  stats_.last = r.timings;
  return std::move(r.logits);
}

void PipelineBackend::truncate(int64_t) {}

}  // namespace baton
