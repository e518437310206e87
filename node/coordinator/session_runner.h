// Runs generations over the pipeline, each on its own thread, reporting tokens and the end
// through callbacks that are executed on the kj event-loop thread. Shared by the RPC
// service (baton submit) and the HTTP API.
//
// Admission: every stage reserved KV memory for `max_active` sessions (the plan's KV
// budget), so at most that many run at once; later requests wait in a FIFO queue of
// `max_queued`, and past that start() refuses with QueueFull (HTTP 429).
#pragma once

#include <kj/async.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/generation.h"
#include "node/coordinator/cluster.h"
#include "node/coordinator/pipeline_backend.h"

namespace baton {

class Tokenizer;
class ServiceMetrics;

struct SessionOutcome {
  GenerationResult result;
  std::vector<int32_t> ids;  // generated token ids
  PipelineStats stats;
  double ttft_ms = 0;              // from admission to the first token
  double queued_ms = 0;            // waiting for a free KV slot
  double decode_tokens_per_s = 0;  // after the first token
  double kv_cache_mib = 0;         // this session's KV cache summed over the stages
  std::string error;               // non-empty when the generation failed
};

struct SessionCallbacks {
  // Both run on the event-loop thread (safe to touch capnp objects there).
  std::function<void(int32_t id, const std::string& text)> on_token;
  std::function<void(const SessionOutcome&)> on_done;
};

struct AdmissionLimits {
  int max_active = 4;   // sessions generating at once (the stages' KV slots)
  int max_queued = 16;  // waiting for a slot; beyond this requests are refused
};

// start() refused: the queue is full. retry_after_s is an estimate for Retry-After.
class QueueFull : public std::runtime_error {
 public:
  QueueFull(const std::string& what, int retry_after_s) : std::runtime_error(what), retry_after_s(retry_after_s) {}
  int retry_after_s;
};

class SessionRunner {
 public:
  SessionRunner(const kj::Executor& executor, Cluster& cluster, const Tokenizer& tokenizer, AdmissionLimits limits,
                ServiceMetrics* metrics = nullptr);
  ~SessionRunner();  // cancels and waits for running sessions

  // Starts (or queues) a generation thread; returns a cancel flag (set it to stop the
  // generation, or to leave the queue). Throws QueueFull when the queue is full.
  std::shared_ptr<std::atomic<bool>> start(std::vector<int32_t> input, GenerationParams params,
                                           SessionCallbacks callbacks);
  int active() const { return active_.load(); }  // generating
  int queued() const;                            // waiting for a slot
  int busy() const { return busy_.load(); }      // generating or queued
  const AdmissionLimits& limits() const { return limits_; }
  // Sessions that may generate at once now: the limit, or fewer if the plan reserved KV
  // for fewer (the nodes' memory could not hold more).
  int max_active() const;

 private:
  // Blocks until this ticket is at the head of the queue and a slot is free (its index),
  // or the session was cancelled while waiting (nullopt).
  std::optional<int> wait_for_slot(uint64_t ticket, const std::atomic<bool>& cancel);
  void release_slot(int slot, double session_seconds);
  void run_session(uint64_t session, uint64_t ticket, std::shared_ptr<std::atomic<bool>> cancel,
                   std::vector<int32_t> input, GenerationParams params, SessionCallbacks cb);

  const kj::Executor& executor_;
  Cluster& cluster_;
  const Tokenizer& tokenizer_;
  AdmissionLimits limits_;
  ServiceMetrics* metrics_;
  std::atomic<uint64_t> next_session_{1};
  std::atomic<int> active_{0};
  std::atomic<int> busy_{0};

  mutable std::mutex mutex_;
  std::condition_variable slot_changed_;
  std::deque<uint64_t> waiting_;  // tickets in arrival order
  // Which of the max_active slots are taken. A session's slot picks its batch group
  // (slot mod stages), so concurrent sessions spread evenly over the groups.
  std::vector<bool> slot_taken_;
  uint64_t next_ticket_ = 1;
  double mean_session_s_ = 5;     // smoothed, for Retry-After
  std::vector<std::shared_ptr<std::atomic<bool>>> cancels_;
};

}  // namespace baton
