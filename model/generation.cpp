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

std::vector<float> Generator::feed(std::span<const int32_t> tokens, int32_t chunk) {
  std::vector<float> logits;
  for (size_t i = 0; i < tokens.size(); i += static_cast<size_t>(chunk)) {
    const size_t n = std::min(static_cast<size_t>(chunk), tokens.size() - i);
    logits = backend_.forward(tokens.subspan(i, n), static_cast<int64_t>(history_.size()));
    history_.insert(history_.end(), tokens.begin() + static_cast<std::ptrdiff_t>(i),
                    tokens.begin() + static_cast<std::ptrdiff_t>(i + n));
  }
  return logits;
}

GenerationResult Generator::generate(const std::vector<int32_t>& input, const GenerationParams& params,
                                     const GenerationCallbacks& cb, const std::atomic<bool>* cancel) {
  if (input.empty()) throw std::invalid_argument("generation needs at least one input token");
  if (params.max_tokens < 0) throw std::invalid_argument("max_tokens must be >= 0");
  if (params.prefill_chunk <= 0) throw std::invalid_argument("prefill_chunk must be > 0");
  validate(params.sampling);
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
  std::vector<float> logits = feed(std::span(input).subspan(shared), params.prefill_chunk);
  if (cb.on_prefill_done) cb.on_prefill_done();

  Sampler sampler(params.sampling);
  StopStringFilter stops(params.stop);
  TokenStreamDecoder decoder(tokenizer_);
  result.finish = FinishReason::Length;
  for (int32_t produced = 0; produced < params.max_tokens; ++produced) {
    if (cancel && cancel->load()) {
      result.finish = FinishReason::Cancelled;
      break;
    }
    const int32_t id = sampler.sample(logits, history_);
    if (tokenizer_.is_end_of_generation(id)) {
      result.finish = FinishReason::Stop;
      break;
    }
    ++result.completion_tokens;
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
    logits = feed(std::span<const int32_t>(one, 1), 1);
  }
  const std::string tail = stops.stopped() ? std::string() : stops.push(decoder.flush()) + stops.flush();
  if (!tail.empty()) {
    result.text += tail;
    if (cb.on_token) cb.on_token(-1, tail);
  }
  return result;
}

}  // namespace baton
