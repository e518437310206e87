#include "node/session_runner.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <thread>

#include "model/tokenizer.h"

namespace baton {

SessionRunner::~SessionRunner() {
  for (auto& c : cancels_) c->store(true);
  // Generation threads finish their current step through the executor; they are
  // detached, so only wait (bounded) for the count to drop.
  for (int i = 0; i < 500 && active_.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

std::shared_ptr<std::atomic<bool>> SessionRunner::start(std::vector<int32_t> input, GenerationParams params,
                                                        SessionCallbacks cb) {
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  // Forget finished sessions' flags (only this list still holds them).
  std::erase_if(cancels_, [](const auto& c) { return c.use_count() == 1; });
  cancels_.push_back(cancel);
  const uint64_t session = next_session_.fetch_add(1);
  ++active_;
  std::thread([this, session, cancel, input = std::move(input), params = std::move(params), cb = std::move(cb)] {
    using clock = std::chrono::steady_clock;
    SessionOutcome out;
    try {
      PipelineBackend backend(executor_, cluster_, session, cluster_.config().context);
      backend.set_top_k(logits_needed(params.sampling));
      Generator gen(backend, tokenizer_);
      const auto start = clock::now();
      std::optional<clock::time_point> first;
      GenerationCallbacks gcb;
      gcb.on_token = [&](int32_t id, const std::string& text) {
        if (!first) first = clock::now();
        if (id >= 0) out.ids.push_back(id);
        if (cb.on_token) executor_.executeSync([&] { cb.on_token(id, text); });
      };
      out.result = gen.generate(input, params, gcb, cancel.get());
      const auto end = clock::now();
      if (first) {
        out.ttft_ms = std::chrono::duration<double, std::milli>(*first - start).count();
        const double secs = std::chrono::duration<double>(end - *first).count();
        if (out.result.completion_tokens > 1 && secs > 0) out.decode_tokens_per_s = (out.result.completion_tokens - 1) / secs;
      }
      out.stats = backend.stats();
    } catch (const std::exception& e) {
      out.error = e.what();
      spdlog::warn("session {} failed: {}", session, out.error);
    }
    try {
      if (cb.on_done) executor_.executeSync([&] { cb.on_done(out); });
    } catch (const std::exception& e) {
      spdlog::debug("session {} ended after the event loop: {}", session, e.what());
    }
    --active_;
  }).detach();
  return cancel;
}

}  // namespace baton
