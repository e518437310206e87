// ForwardBackend over the stage ring, for a generation running on its own thread: each
// forward hops onto the kj event-loop thread once (Executor::executeSync), waits there
// for the pipeline to be ready, sends the frame to stage 0 and waits for the last stage's
// answer: the sampled token (it samples with the request's parameters, where the logits
// are), or logits when asked for them.
//
// Work the session has for the event loop between steps (its callbacks: a token for the
// client) rides along with the next hop instead of crossing on its own: one crossing per
// token. defer_to_loop() queues it; take_undelivered() hands over what is still queued
// when the generation ends (the session delivers it with its outcome).
//
// Failover: the backend keeps the session's token history. When a step fails because a
// node went away, it has the cluster re-plan over the nodes left, replays the history
// onto the new pipeline (rebuilding the KV caches) and sends the step again: the
// generation pauses but does not fail, and its tokens are the same.
#pragma once

#include <kj/async.h>

#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "model/generation.h"
#include "node/coordinator/cluster.h"

namespace baton {

struct PipelineStats {
  int64_t steps = 0;
  std::vector<StageTimingRecord> totals;  // per stage, summed over steps
  std::vector<StageTimingRecord> last;    // the latest step's
  uint64_t wall_us = 0;                   // round trips as the coordinator saw them
  // Decode steps only (one token per frame, or a speculative frame's last token and
  // drafts): what "per token" figures are made of.
  int64_t decode_steps = 0;
  int64_t decode_tokens = 0;  // tokens they returned (more than steps with speculation)
  std::vector<StageTimingRecord> decode_totals;
  uint64_t decode_wall_us = 0;
  // The first decode steps as they travelled (stamps on this machine's steady clock).
  static constexpr size_t kTracedSteps = 16;
  struct StepTrace {
    uint64_t sent_ns = 0, received_ns = 0;
    std::vector<StageTimingRecord> stages;
  };
  std::vector<StepTrace> trace;
  int64_t tokens_sent = 0;        // token ids sent into the ring (prompt and decode, not replays)
  int recoveries = 0;             // pipelines lost and rebuilt during the session
  int64_t replayed_tokens = 0;    // history re-sent to rebuild KV caches
};

// Per-token figures of one stage over the decode steps. Transfer is the stage's own
// decoding of incoming frames plus an equal share of what the round trip spent outside
// the stages' compute (the clocks of the stages are not synchronised, so a hop cannot be
// timed on its own; per-token activations are small, so a hop costs mostly latency).
struct StagePerToken {
  uint32_t stage = 0;
  double compute_ms = 0;
  double transfer_ms = 0;
  double wire_bytes = 0;
};
std::vector<StagePerToken> per_token_figures(const PipelineStats& stats);

class PipelineBackend final : public ForwardBackend {
 public:
  PipelineBackend(const kj::Executor& executor, Cluster& cluster, uint64_t session, int64_t context);
  ~PipelineBackend() override;  // frees the session's KV cache on every stage

  std::vector<float> forward(std::span<const int32_t> tokens, int64_t pos0) override;  // full logits
  void prefill(std::span<const int32_t> tokens, int64_t pos0) override;
  SampleResult forward_and_sample(std::span<const int32_t> tokens, int64_t pos0, std::span<const int32_t> history,
                                  const SamplingRequest& request) override;
  VerifyResult forward_and_verify(std::span<const int32_t> tokens, int64_t pos0, std::span<const int32_t> history,
                                  const SamplingRequest& request) override;
  std::vector<float> forward_embedding_sum(std::span<const int32_t> tokens, int64_t pos0) override;
  void truncate(int64_t n_positions) override;  // the next frame's pos0 tells the stages
  // By the rule the stages' caches follow (model/sliding_window.h), from the positions
  // this session's frames filled.
  int64_t reusable_prefix(int64_t n) const override;
  int64_t context_capacity() const override { return context_; }

  void set_batch_group(uint32_t g) { batch_group_ = g; }
  // Runs `work` on the event loop just before the next hop (in order).
  void defer_to_loop(std::function<void()> work) { deferred_.push_back(std::move(work)); }
  std::vector<std::function<void()>> take_undelivered() { return std::exchange(deferred_, {}); }
  const PipelineStats& stats() const { return stats_; }
  // Figures start again (the session's KV and history stay: the next request reuses them).
  void reset_stats() { stats_ = {}; }
  // The destructor leaves the stages' KV alone (the coordinator is shutting down).
  void keep_session_on_destroy() { drop_on_destroy_ = false; }

 private:
  static constexpr int kMaxRecoveries = 3;  // per step; then the failure is the session's
  // One step, recovering from lost nodes (re-plan, replay, resend).
  StepResult run_step(std::span<const int32_t> tokens, int64_t pos0, uint32_t top_k,
                      const std::optional<SamplingRequest>& sampling, uint32_t verify_rows = 0, bool embed = false);
  // One frame, once the pipeline is ready. With `on_epoch` set, the frame is sent only on
  // that pipeline; otherwise on the session's (or on any, for its first frame). `result`
  // is empty when the pipeline was not that one (nothing was sent).
  struct Attempt {
    uint64_t epoch = 0;  // the pipeline's, once it was ready
    std::optional<StepResult> result;
  };
  // A failure throws; `ready_epoch_` then names the pipeline it was sent on.
  Attempt attempt(const std::vector<int32_t>& ids, int64_t pos0, uint32_t top_k,
                  const std::optional<SamplingRequest>& sampling, std::optional<uint64_t> on_epoch,
                  uint32_t verify_rows = 0, bool embed = false);
  void replay(int64_t n_positions, uint64_t epoch);
  // executeSync, delivering the deferred work first.
  template <typename Func>
  auto on_loop(Func&& func);
  void record(const StepResult& r, bool decode, uint64_t wall_us);

  const kj::Executor& executor_;
  Cluster& cluster_;
  uint64_t session_;
  int64_t context_;
  uint64_t step_ = 0;
  uint32_t batch_group_ = 0;
  std::vector<int32_t> history_;     // token at every position sent so far
  int64_t kv_high_ = 0;              // most positions the stages' caches held since emptied
  std::optional<uint64_t> kv_epoch_; // the pipeline epoch this session's KV caches are on
  uint64_t ready_epoch_ = 0;         // the pipeline the last attempt found (set on the loop)
  PipelineStats stats_;
  bool drop_on_destroy_ = true;
  std::vector<std::function<void()>> deferred_;  // for the event loop, before the next hop
};

}  // namespace baton
