#include "model/generation.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "model/stop_strings.h"
#include "model/tokenizer.h"

namespace baton {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
  }
  return "unknown";
}

Generator::Generator(ForwardBackend& backend, const Tokenizer& tokenizer)
    : backend_(backend), tokenizer_(tokenizer) {}

void Generator::clear() {
  history_.clear();
  backend_.truncate(0);
}

SampleResult ForwardBackend::forward_and_sample(std::span<const int32_t> tokens, int64_t pos0,
                                                std::span<const int32_t> history, const SamplingRequest& request) {
  std::vector<float> logits = forward(tokens, pos0);
  return sample_next(logits, history, request);
}

SampleResult Generator::feed_and_sample(std::span<const int32_t> tokens, int32_t chunk, const SamplingRequest& request) {
  for (size_t i = 0;; i += static_cast<size_t>(chunk)) {
    const size_t n = std::min(static_cast<size_t>(chunk), tokens.size() - i);
    const auto part = tokens.subspan(i, n);
    const auto pos0 = static_cast<int64_t>(history_.size());
    history_.insert(history_.end(), part.begin(), part.end());  // the sampler's penalties see them
    try {
      if (i + n == tokens.size()) return backend_.forward_and_sample(part, pos0, history_, request);
      backend_.prefill(part, pos0);
    } catch (...) {
      history_.resize(static_cast<size_t>(pos0));  // history_ mirrors what the backend cached
      throw;
    }
  }
}

GenerationResult Generator::generate(const std::vector<int32_t>& input, const GenerationParams& params,
                                     const GenerationCallbacks& cb, const std::atomic<bool>* cancel) {
  if (input.empty()) throw std::invalid_argument("generation needs at least one input token");
  if (params.max_tokens < 0) throw std::invalid_argument("max_tokens must be >= 0");
  if (params.prefill_chunk <= 0) throw std::invalid_argument("prefill_chunk must be > 0");
  validate(params.sampling);
  if (params.logprobs.top > kMaxTopLogprobs) throw std::invalid_argument(fmt::format("top_logprobs must be at most {}", kMaxTopLogprobs));
  const int64_t capacity = backend_.context_capacity();
  if (static_cast<int64_t>(input.size()) > capacity) {
    throw std::length_error(fmt::format("the prompt has {} tokens but the context holds {}", input.size(), capacity));
  }

  // Reuse the cached prefix; always recompute at least the last input token so that we
  // have its logits.
  size_t shared = 0;
  while (shared < history_.size() && shared < input.size() && history_[shared] == input[shared]) ++shared;
  shared = std::min(shared, input.size() - 1);
  history_.resize(shared);
  backend_.truncate(static_cast<int64_t>(shared));

  GenerationResult result;
  result.prompt_tokens = static_cast<int32_t>(input.size());
  result.reused_tokens = static_cast<int32_t>(shared);
  SamplingRequest request{params.sampling, params.logprobs, 0};
  SampleResult next = feed_and_sample(std::span(input).subspan(shared), params.prefill_chunk, request);
  if (cb.on_prefill_done) cb.on_prefill_done();

  StopStringFilter stops(params.stop);
  TokenStreamDecoder decoder(tokenizer_);
  result.finish = FinishReason::Length;
  for (int32_t produced = 0; produced < params.max_tokens; ++produced) {
    if (cancel && cancel->load()) {
      result.finish = FinishReason::Cancelled;
      break;
    }
    const int32_t id = next.token.id;
    request.rng_draws = result.rng_draws = next.rng_draws;
    if (tokenizer_.is_end_of_generation(id)) {
      result.finish = FinishReason::Stop;
      break;
    }
    ++result.completion_tokens;
    if (params.logprobs.any()) {
      if (cb.on_sampled) cb.on_sampled(next.token);
      result.sampled.push_back(std::move(next.token));
    }
    const std::string text = stops.push(decoder.push(id));
    result.text += text;
    if (cb.on_token) cb.on_token(id, text);
    // history_ mirrors the backend's cache exactly, so a token that is not fed (stop,
    // limit, full context) is not recorded; the next turn's prefix match recomputes it.
    if (stops.stopped()) {
      result.finish = FinishReason::Stop;
      break;
    }
    if (produced + 1 == params.max_tokens) break;
    if (static_cast<int64_t>(history_.size()) >= capacity) break;  // context full: length
    const int32_t one[1] = {id};
    next = feed_and_sample(std::span<const int32_t>(one, 1), 1, request);
  }
  const std::string tail = stops.stopped() ? std::string() : stops.push(decoder.flush()) + stops.flush();
  if (!tail.empty()) {
    result.text += tail;
    if (cb.on_token) cb.on_token(-1, tail);
  }
  return result;
}

}  // namespace baton
