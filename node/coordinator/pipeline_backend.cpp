#include "node/coordinator/pipeline_backend.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace baton {

PipelineBackend::PipelineBackend(const kj::Executor& executor, Cluster& cluster, uint64_t session, int64_t context)
    : executor_(executor), cluster_(cluster), session_(session), context_(context) {}

PipelineBackend::~PipelineBackend() {
  if (!drop_on_destroy_) return;
  try {
    executor_.executeSync([this] { return cluster_.drop_session(session_); });
  } catch (const std::exception& e) {
    spdlog::debug("dropping session {}: {}", session_, e.what());
  } catch (const kj::Exception& e) {
    spdlog::debug("dropping session {}: {}", session_, e.getDescription().cStr());
  }
}

template <typename Func>
auto PipelineBackend::on_loop(Func&& func) {
  return executor_.executeSync([this, deferred = std::exchange(deferred_, {}), &func]() mutable {
    for (auto& work : deferred) {
      try {
        work();
      } catch (const std::exception& e) {
        spdlog::warn("session {}: a callback failed: {}", session_, e.what());
      }
    }
    return func();
  });
}

PipelineBackend::Attempt PipelineBackend::attempt(const std::vector<int32_t>& ids, int64_t pos0, uint32_t top_k,
                                                  const std::optional<SamplingRequest>& sampling,
                                                  std::optional<uint64_t> on_epoch, uint32_t verify_rows,
                                                  bool embed) {
  const uint64_t step = ++step_;
  const std::optional<uint64_t> required = on_epoch ? on_epoch : kv_epoch_;
  Attempt out;
  // The lambdas run on the event loop while this thread waits in executeSync: they may
  // write to `out` and `ready_epoch_`.
  on_loop([&]() -> kj::Promise<void> {
    return cluster_.ready_epoch().then([&, step](uint64_t epoch) -> kj::Promise<void> {
      ready_epoch_ = epoch;
      out.epoch = epoch;
      // A pipeline other than the one holding this session's KV caches would compute
      // without them: send nothing, the session replays first.
      if (required && *required != epoch) return kj::READY_NOW;
      return cluster_.send_step(session_, step, pos0, ids, top_k, batch_group_, sampling, verify_rows, embed)
          .then([&, pos0, n = static_cast<int64_t>(ids.size())](StepResult r) {
            out.result = std::move(r);
            // As the stages' KVCache::set_size counts: a frame at 0 empties them first.
            kv_high_ = std::max(pos0 == 0 ? 0 : kv_high_, pos0 + n);
          });
    });
  });
  return out;
}

void PipelineBackend::replay(int64_t n_positions, uint64_t epoch) {
  const size_t chunk = std::max<size_t>(1, cluster_.config().prefill_chunk);
  for (int64_t pos = 0; pos < n_positions;) {
    const auto n = static_cast<int64_t>(std::min<size_t>(chunk, static_cast<size_t>(n_positions - pos)));
    const std::vector<int32_t> ids(history_.begin() + pos, history_.begin() + pos + n);
    // Only the KV caches matter; the tokens were used before.
    if (!attempt(ids, pos, 1, std::nullopt, epoch).result) {
      kj::throwFatalException(KJ_EXCEPTION(DISCONNECTED, "the pipeline was re-planned during the replay"));
    }
    pos += n;
  }
  stats_.replayed_tokens += n_positions;
}

std::vector<float> PipelineBackend::forward(std::span<const int32_t> tokens, int64_t pos0) {
  return run_step(tokens, pos0, 0, std::nullopt).logits;
}

void PipelineBackend::prefill(std::span<const int32_t> tokens, int64_t pos0) {
  run_step(tokens, pos0, 1, std::nullopt);  // nothing needed back: the smallest answer
}

SampleResult PipelineBackend::forward_and_sample(std::span<const int32_t> tokens, int64_t pos0,
                                                 std::span<const int32_t>, const SamplingRequest& request) {
  // The last stage keeps the sequence for the penalties itself (Frame.rowTokens).
  StepResult r = run_step(tokens, pos0, 0, request);
  if (r.sampled.size() != 1) {
    throw std::runtime_error(fmt::format("the last stage returned {} tokens for one step", r.sampled.size()));
  }
  return {std::move(r.sampled.front()), r.rng_draws};
}

std::vector<float> PipelineBackend::forward_embedding_sum(std::span<const int32_t> tokens, int64_t pos0) {
  StepResult r = run_step(tokens, pos0, 1, std::nullopt, 0, /*embed=*/true);
  const auto dim = static_cast<size_t>(cluster_.model().hparams().dim);
  if (r.embedding_sum.size() != dim) {
    throw std::runtime_error(fmt::format("the last stage returned an embedding of {} values, not {}",
                                         r.embedding_sum.size(), dim));
  }
  return std::move(r.embedding_sum);
}

VerifyResult PipelineBackend::forward_and_verify(std::span<const int32_t> tokens, int64_t pos0,
                                                std::span<const int32_t>, const SamplingRequest& request) {
  // The last stage keeps the sequence (Frame.rowTokens) and verifies the drafts there.
  const auto rows = static_cast<uint32_t>(tokens.size());
  StepResult r = run_step(tokens, pos0, 0, request, rows);
  if (r.sampled.empty() || r.sampled.size() > rows) {
    throw std::runtime_error(fmt::format("the last stage returned {} tokens for {} verified rows", r.sampled.size(), rows));
  }
  // Each returned token but the last must be the draft it accepted.
  for (size_t i = 0; i + 1 < r.sampled.size(); ++i) {
    if (r.sampled[i].id != tokens[i + 1]) {
      throw std::runtime_error("the last stage accepted a token that was not the draft");
    }
  }
  return {std::move(r.sampled), r.rng_draws};
}

StepResult PipelineBackend::run_step(std::span<const int32_t> tokens, int64_t pos0, uint32_t top_k,
                                     const std::optional<SamplingRequest>& sampling, uint32_t verify_rows, bool embed) {
  // The session's history, for replaying it onto a new pipeline after a node is lost.
  history_.resize(static_cast<size_t>(pos0));
  history_.insert(history_.end(), tokens.begin(), tokens.end());
  const std::vector<int32_t> ids(tokens.begin(), tokens.end());
  const bool decode = ids.size() == 1 || verify_rows > 1;
  stats_.tokens_sent += static_cast<int64_t>(ids.size());
  for (int attempt_no = 0;; ++attempt_no) {
    try {
      auto started = std::chrono::steady_clock::now();
      Attempt a = attempt(ids, pos0, top_k, sampling, std::nullopt, verify_rows, embed);
      if (!a.result) {
        // The pipeline was rebuilt (another session's step found a node gone): this
        // session's KV caches are not on it.
        spdlog::warn("session {}: replaying {} token(s) onto the new pipeline", session_, pos0);
        replay(pos0, a.epoch);
        kv_epoch_ = a.epoch;
        // Figures per stage only make sense for one plan: keep the new one's.
        stats_.totals.clear();
        stats_.decode_totals.clear();
        stats_.decode_steps = 0;
        stats_.decode_tokens = 0;
        stats_.decode_wall_us = 0;
        stats_.trace.clear();
        started = std::chrono::steady_clock::now();  // the step's own round trip, not the replay's
        a = attempt(ids, pos0, top_k, sampling, std::nullopt, verify_rows, embed);
        if (!a.result) {  // rebuilt again meanwhile: counts as a recovery
          kj::throwFatalException(KJ_EXCEPTION(DISCONNECTED, "the pipeline was re-planned again during the replay"));
        }
      }
      kv_epoch_ = a.epoch;
      record(*a.result, decode,
             static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count()));
      return std::move(*a.result);
    } catch (const kj::Exception& e) {
      if (!Cluster::is_node_failure(e) || attempt_no >= kMaxRecoveries) throw;
      ++stats_.recoveries;
      const std::string why = e.getDescription().cStr();
      const uint64_t failed = ready_epoch_;
      on_loop([this, failed, why] { return cluster_.recover(failed, why); });
    }
  }
}

void PipelineBackend::record(const StepResult& r, bool decode, uint64_t wall_us) {
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
  stats_.wall_us += wall_us;
  accumulate(stats_.totals);
  if (decode) {
    ++stats_.decode_steps;
    stats_.decode_tokens += static_cast<int64_t>(std::max<size_t>(1, r.sampled.size()));
    stats_.decode_wall_us += wall_us;
    accumulate(stats_.decode_totals);
    if (stats_.trace.size() < PipelineStats::kTracedSteps) stats_.trace.push_back({r.sent_ns, r.received_ns, r.timings});
  }
  stats_.last = r.timings;
}

void PipelineBackend::truncate(int64_t) {}

int64_t PipelineBackend::reusable_prefix(int64_t n) const {
  const HyperParams& hp = cluster_.model().hparams();
  return hp.sliding_windows().reusable_prefix(context_, kv_high_, std::min<int64_t>(n, kv_high_));
}

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
