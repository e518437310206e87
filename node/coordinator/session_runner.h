// Runs generations over the pipeline, each on its own thread, reporting tokens and the end
// through callbacks that are executed on the kj event-loop thread. Shared by the RPC
// service (baton submit) and the HTTP API.
//
// Admission: every stage reserved KV memory for `max_active` sessions (the plan's KV
// budget), so at most that many run at once; later requests wait in a FIFO queue of
// `max_queued`, and past that start() refuses with QueueFull (HTTP 429).
//
// Prompt cache: each of those KV slots keeps its conversation's KV on the stages after
// the request ends (PromptCache decides which slot a request takes); a request sharing
// a prefix with a slot's (a system prompt, the earlier turns of a chat) sends only the
// tokens after it.
#pragma once

#include <kj/async.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <thread>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "model/draft_model.h"
#include "model/generation.h"
#include "node/coordinator/cluster.h"
#include "node/coordinator/pipeline_backend.h"
#include "node/coordinator/prompt_cache.h"

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
  std::vector<float> embedding;    // GenerationParams::embed_only: the input's embedding
  std::string error;               // non-empty when the generation failed
};

struct SessionCallbacks {
  // Both run on the event-loop thread (safe to touch capnp objects there).
  std::function<void(int32_t id, const std::string& text)> on_token;
  // Before on_token, for each sampled token, when the request asked for logprobs.
  std::function<void(const SampledToken&)> on_sampled;
  std::function<void(const SessionOutcome&)> on_done;
};

struct AdmissionLimits {
  int max_active = 4;   // sessions generating at once (the stages' KV slots)
  int max_queued = 16;  // waiting for a slot; beyond this requests are refused
};

// What try_start() decided. Refusal is a value, not an exception: the HTTP API answers
// 429 (Full) or 503 (Closed), the RPC front door an error naming the limits.
enum class Admission { Admitted, Queued, Full, Closed };

struct StartResult {
  Admission admission = Admission::Full;
  // Set it to stop the generation (or leave the queue); null when refused.
  std::shared_ptr<std::atomic<bool>> cancel;
  std::string refusal;    // for people, when refused
  int retry_after_s = 0;  // an estimate for Retry-After, when Full
  bool started() const { return cancel != nullptr; }
};

class SessionRunner {
 public:
  // `executor` is the event loop's; the runner keeps its own reference to it.
  SessionRunner(const kj::Executor& executor, Cluster& cluster, const Tokenizer& tokenizer, AdmissionLimits limits,
                ServiceMetrics* metrics = nullptr);
  // Cancels and joins every session thread. Sessions reach the event loop through the
  // executor, so on the loop's own thread call shutdown() first, which keeps the loop
  // running while they end.
  ~SessionRunner();

  // Speculative decoding with a draft model (the coordinator's --draft): requests whose
  // speculation asks for it draft with `draft` (same vocabulary, checked by the caller),
  // one KV cache per slot. Set before the first request; the model outlives the runner.
  void set_draft_model(const Model* draft) { draft_model_ = draft; }

  // Starts (or queues) a generation on a thread this runner owns and joins.
  StartResult try_start(std::vector<int32_t> input, GenerationParams params, SessionCallbacks callbacks);

  // On the event-loop thread: refuses new sessions, cancels the running and queued ones
  // and runs the loop until every session thread has ended (their callbacks delivered),
  // then joins them. Steps still in flight after `grace` are failed through
  // `abort_in_flight` (e.g. a node that stopped answering), so shutdown is bounded.
  void shutdown(kj::WaitScope& wait_scope, kj::Timer& timer, kj::Duration grace,
                const std::function<void()>& abort_in_flight);
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
  std::optional<int> wait_for_slot(uint64_t ticket, const std::atomic<bool>& cancel, const std::vector<int32_t>& input);
  void release_slot(int slot, double session_seconds, std::vector<int32_t> cached);
  void run_session(uint64_t session, uint64_t ticket, std::shared_ptr<std::atomic<bool>> cancel,
                   std::vector<int32_t> input, GenerationParams params, SessionCallbacks cb);

  void reap_finished_locked();  // joins threads whose session ended
  void join_all();

  kj::Own<const kj::Executor> executor_;
  Cluster& cluster_;
  const Tokenizer& tokenizer_;
  AdmissionLimits limits_;
  ServiceMetrics* metrics_;
  const Model* draft_model_ = nullptr;
  std::atomic<uint64_t> next_session_{1};
  std::atomic<int> active_{0};
  std::atomic<int> busy_{0};

  mutable std::mutex mutex_;
  std::condition_variable slot_changed_;
  std::deque<uint64_t> waiting_;  // tickets in arrival order
  // Which of the max_active slots are taken and what their caches hold. A session's slot
  // picks its batch group (slot mod stages), so concurrent sessions spread evenly over
  // the groups.
  PromptCache cache_;
  // Per slot, the pipeline session that owns its KV on the stages and the generator that
  // knows what it holds; touched only by the request holding the slot.
  struct Slot {
    std::unique_ptr<PipelineBackend> backend;
    std::unique_ptr<Generator> generator;
    std::unique_ptr<ModelDrafter> drafter;  // with a draft model: its KV for this slot's text
  };
  std::vector<Slot> slots_;
  uint64_t next_ticket_ = 1;
  double mean_session_s_ = 5;     // smoothed, for Retry-After
  std::vector<std::shared_ptr<std::atomic<bool>>> cancels_;
  bool closed_ = false;  // shutting down: no new sessions
  // One thread per session, owned here; `finished` is set as its last act.
  struct Worker {
    std::thread thread;
    std::atomic<bool> finished{false};
  };
  std::list<Worker> workers_;
};

}  // namespace baton
