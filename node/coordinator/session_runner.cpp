#include "node/coordinator/session_runner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

#include "model/kv_cache.h"
#include "model/tokenizer.h"
#include "node/coordinator/metrics.h"

namespace baton {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

SessionRunner::SessionRunner(const kj::Executor& executor, Cluster& cluster, const Tokenizer& tokenizer,
                             AdmissionLimits limits, ServiceMetrics* metrics)
    : executor_(executor.addRef()),
      cluster_(cluster),
      tokenizer_(tokenizer),
      limits_(limits),
      metrics_(metrics),
      cache_(static_cast<size_t>(std::max(limits.max_active, 0)),
             [windows = cluster.model().hparams().sliding_windows(), context = cluster.config().context](
                 size_t shared, size_t held) {
               return static_cast<size_t>(windows.reusable_prefix(context, static_cast<int64_t>(held),
                                                                  static_cast<int64_t>(shared)));
             }) {
  if (limits_.max_active < 1) throw std::invalid_argument("max_active must be at least 1");
  if (limits_.max_queued < 0) throw std::invalid_argument("max_queued must not be negative");
  slots_.resize(static_cast<size_t>(limits_.max_active));
}

SessionRunner::~SessionRunner() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    for (auto& c : cancels_) c->store(true);
  }
  slot_changed_.notify_all();
  join_all();
  // The cached sessions die with the cluster (this runs on the event-loop thread, which
  // cannot wait for itself to drop them).
  for (auto& slot : slots_) {
    if (slot.backend) slot.backend->keep_session_on_destroy();
  }
}

void SessionRunner::shutdown(kj::WaitScope& wait_scope, kj::Timer& timer, kj::Duration grace,
                             const std::function<void()>& abort_in_flight) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    for (auto& c : cancels_) c->store(true);
  }
  slot_changed_.notify_all();
  const kj::TimePoint deadline = timer.now() + grace;
  bool aborted = false;
  // Sessions end at their next token (cancel flag); their last callbacks need the loop.
  while (busy_.load() > 0) {
    if (!aborted && timer.now() >= deadline) {
      spdlog::warn("{} session(s) still waiting for the pipeline after shutdown began: failing their steps",
                   busy_.load());
      abort_in_flight();
      aborted = true;
    }
    timer.afterDelay(5 * kj::MILLISECONDS).wait(wait_scope);
  }
  join_all();
}

void SessionRunner::reap_finished_locked() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->finished.load()) {
      it->thread.join();  // past its last statement: returns at once
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void SessionRunner::join_all() {
  std::list<Worker> all;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    all.splice(all.end(), workers_);
  }
  for (Worker& w : all) {
    if (w.thread.joinable()) w.thread.join();
  }
}

int SessionRunner::max_active() const {
  const int slots = static_cast<int>(cluster_.session_slots());
  return slots > 0 ? std::min(slots, limits_.max_active) : limits_.max_active;
}

int SessionRunner::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(waiting_.size());
}

StartResult SessionRunner::try_start(std::vector<int32_t> input, GenerationParams params, SessionCallbacks cb) {
  StartResult result;
  std::lock_guard<std::mutex> lock(mutex_);
  reap_finished_locked();
  if (closed_) {
    result.admission = Admission::Closed;
    result.refusal = "the coordinator is shutting down";
    return result;
  }
  const int in_flight = active_.load() + static_cast<int>(waiting_.size());
  if (in_flight >= max_active() + limits_.max_queued) {
    // Roughly when the queue will have moved by one session per free slot.
    const double waves = static_cast<double>(waiting_.size() + 1) / max_active();
    result.admission = Admission::Full;
    result.retry_after_s = std::max(1, static_cast<int>(std::ceil(waves * mean_session_s_)));
    result.refusal = fmt::format("the coordinator is busy: {} sessions generating and {} queued (the limits); "
                                 "retry in about {} s",
                                 active_.load(), waiting_.size(), result.retry_after_s);
    if (metrics_) metrics_->record_rejected();
    return result;
  }
  result.admission = in_flight < max_active() ? Admission::Admitted : Admission::Queued;
  result.cancel = std::make_shared<std::atomic<bool>>(false);
  // Forget finished sessions' flags (only this list still holds them).
  std::erase_if(cancels_, [](const auto& c) { return c.use_count() == 1; });
  cancels_.push_back(result.cancel);
  const uint64_t ticket = next_ticket_++;
  waiting_.push_back(ticket);
  ++busy_;
  const uint64_t session = next_session_.fetch_add(1);
  Worker& worker = workers_.emplace_back();
  worker.thread = std::thread([this, &worker, session, ticket, cancel = result.cancel, input = std::move(input),
                               params = std::move(params), cb = std::move(cb)]() mutable {
    run_session(session, ticket, std::move(cancel), std::move(input), std::move(params), std::move(cb));
    worker.finished.store(true);
  });
  return result;
}

std::optional<int> SessionRunner::wait_for_slot(uint64_t ticket, const std::atomic<bool>& cancel,
                                                const std::vector<int32_t>& input) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (cancel.load()) {
      std::erase(waiting_, ticket);
      slot_changed_.notify_all();  // the next ticket may now be at the head
      return std::nullopt;
    }
    if (!waiting_.empty() && waiting_.front() == ticket && active_.load() < max_active()) {
      // One is free: fewer than max_active are active. Only the first max_active slots
      // hold caches, so the stages never hold more sessions than they reserved for.
      const std::optional<size_t> slot = cache_.choose(input, static_cast<size_t>(max_active()));
      if (slot) {
        waiting_.pop_front();
        ++active_;
        cache_.take(*slot);
        slot_changed_.notify_all();
        return static_cast<int>(*slot);
      }
    }
    // Cancellation is a flag, not a notification: look again now and then.
    slot_changed_.wait_for(lock, std::chrono::milliseconds(50));
  }
}

void SessionRunner::release_slot(int slot, double session_seconds, std::vector<int32_t> cached) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached.empty()) {
      cache_.forget(static_cast<size_t>(slot));
    } else {
      cache_.release(static_cast<size_t>(slot), std::move(cached));
    }
    --active_;
    mean_session_s_ = 0.8 * mean_session_s_ + 0.2 * session_seconds;
  }
  slot_changed_.notify_all();
}

void SessionRunner::run_session(uint64_t session, uint64_t ticket, std::shared_ptr<std::atomic<bool>> cancel,
                                std::vector<int32_t> input, GenerationParams params, SessionCallbacks cb) {
  SessionOutcome out;
  const auto arrived = Clock::now();
  std::vector<std::string> stage_devices;
  // Callbacks that had no hop to ride along with yet: delivered with the outcome.
  std::vector<std::function<void()>> undelivered;
  const std::optional<int> slot = wait_for_slot(ticket, *cancel, input);
  if (!slot) {
    out.result.finish = FinishReason::Cancelled;
  } else {
    const auto admitted = Clock::now();
    out.queued_ms = ms_between(arrived, admitted);
    try {
      // The plan may change between sessions (membership); read it on the loop thread.
      executor_->executeSync([&] {
        for (const auto& s : cluster_.plan().stages) stage_devices.push_back(s.device_id);
      });
      Slot& s = slots_[static_cast<size_t>(*slot)];
      if (!s.backend) {
        s.backend = std::make_unique<PipelineBackend>(*executor_, cluster_, session, cluster_.config().context);
        // The steady clock times each forward: the draft length weighs rows against the round trip.
        s.generator = std::make_unique<Generator>(*s.backend, tokenizer_, [] {
          return std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch()).count();
        });
      }
      if (draft_model_ && params.speculation.enabled && params.speculation.use_draft_model) {
        if (!s.drafter) s.drafter = std::make_unique<ModelDrafter>(*draft_model_, cluster_.config().context);
        params.drafter = [d = s.drafter.get()](std::span<const int32_t> context, int32_t k, const SamplingRequest& r) {
          return d->propose(context, k, r);
        };
      }
      PipelineBackend& backend = *s.backend;
      backend.reset_stats();
      backend.set_batch_group(static_cast<uint32_t>(*slot) % static_cast<uint32_t>(std::max<size_t>(1, stage_devices.size())));
      Generator& gen = *s.generator;
      std::optional<Clock::time_point> first, last;
      int tokens_seen = 0;
      GenerationCallbacks gcb;
      gcb.on_token = [&](int32_t id, const std::string& text) {
        last = Clock::now();
        if (!first) first = last;
        ++tokens_seen;
        if (id >= 0) out.ids.push_back(id);
        if (cb.on_token) backend.defer_to_loop([&cb, id, text] { cb.on_token(id, text); });
      };
      if (cb.on_sampled) {
        gcb.on_sampled = [&](const SampledToken& t) { backend.defer_to_loop([&cb, t] { cb.on_sampled(t); }); };
      }
      if (params.embed_only) {
        out.embedding = gen.embed(input, params.prefill_chunk, cancel.get());
        out.result.prompt_tokens = static_cast<int32_t>(input.size());
        if (out.embedding.empty()) out.result.finish = FinishReason::Cancelled;
      } else {
        out.result = gen.generate(input, params, gcb, cancel.get());
      }
      undelivered = backend.take_undelivered();
      if (first) {
        out.ttft_ms = ms_between(admitted, *first);
        // Between the first and the last token the client saw (a final end-of-text step
        // produces no token and is not counted).
        const double secs = std::chrono::duration<double>(*last - *first).count();
        if (tokens_seen > 1 && secs > 0) out.decode_tokens_per_s = (tokens_seen - 1) / secs;
      }
      out.stats = backend.stats();
      const HyperParams& hp = cluster_.model().hparams();
      const int64_t positions = out.result.prompt_tokens + out.result.completion_tokens;
      out.kv_cache_mib = static_cast<double>(KVCache::bytes_for(cluster_.config().kv_dtype, LayerRange{0, hp.n_layers},
                                                                positions, hp.kv_dim(), hp.sliding_windows())) /
                         (1024.0 * 1024.0);
    } catch (const std::exception& e) {
      out.error = e.what();
      spdlog::warn("session {} failed: {}", session, out.error);
      if (Slot& s = slots_[static_cast<size_t>(*slot)]; s.backend) undelivered = s.backend->take_undelivered();
    }
    // The slot keeps what its stages now hold for the next request. A failed request's
    // caches are dropped (a new pipeline session starts clean), and so are a cancelled
    // one's: a client that went away leaves nothing behind on the stages.
    Slot& s = slots_[static_cast<size_t>(*slot)];
    std::vector<int32_t> cached;
    if (out.error.empty() && out.result.finish != FinishReason::Cancelled && s.generator) {
      cached = s.generator->history();
    } else {
      s.generator.reset();
      s.backend.reset();
    }
    release_slot(*slot, std::chrono::duration<double>(Clock::now() - admitted).count(), std::move(cached));
  }
  if (metrics_) metrics_->record(out, stage_devices);
  try {
    executor_->executeSync([&] {
      for (auto& work : undelivered) work();
      if (cb.on_done) cb.on_done(out);
    });
  } catch (const std::exception& e) {
    spdlog::debug("session {} ended after the event loop: {}", session, e.what());
  }
  --busy_;
}

}  // namespace baton
