// Runs one generation on its own thread over the pipeline, reporting tokens and the end
// through callbacks that are executed on the kj event-loop thread. Shared by the RPC
// service (baton submit) and the HTTP API.
#pragma once

#include <kj/async.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/generation.h"
#include "node/cluster.h"
#include "node/pipeline_backend.h"

namespace baton {

class Tokenizer;

struct SessionOutcome {
  GenerationResult result;
  std::vector<int32_t> ids;  // generated token ids
  PipelineStats stats;
  double ttft_ms = 0;
  double decode_tokens_per_s = 0;
  std::string error;  // non-empty when the generation failed
};

struct SessionCallbacks {
  // Both run on the event-loop thread (safe to touch capnp objects there).
  std::function<void(int32_t id, const std::string& text)> on_token;
  std::function<void(const SessionOutcome&)> on_done;
};

class SessionRunner {
 public:
  SessionRunner(const kj::Executor& executor, Cluster& cluster, const Tokenizer& tokenizer)
      : executor_(executor), cluster_(cluster), tokenizer_(tokenizer) {}
  ~SessionRunner();  // cancels and waits for running sessions

  // Starts a generation thread; returns a cancel flag (set it to stop the generation).
  std::shared_ptr<std::atomic<bool>> start(std::vector<int32_t> input, GenerationParams params,
                                           SessionCallbacks callbacks);
  int active() const { return active_.load(); }

 private:
  const kj::Executor& executor_;
  Cluster& cluster_;
  const Tokenizer& tokenizer_;
  std::atomic<uint64_t> next_session_{1};
  std::atomic<int> active_{0};
  std::vector<std::shared_ptr<std::atomic<bool>>> cancels_;
};

}  // namespace baton
