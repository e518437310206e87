#include "model/generation.h"

#include <cmath>
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "model/grammar_constraint.h"
#include "model/sliding_window.h"
#include "model/json_constraint.h"
#include "model/stop_strings.h"
#include "model/tokenizer.h"

namespace baton {

// A speculative step's rejected drafts are rolled back on every stage, so sliding-window
// layers must keep at least that many positions beyond their window.
static_assert(kSlidingRollback >= static_cast<int64_t>(kMaxDraftRows),
              "sliding-window layers must keep the positions of a step's rejected drafts");

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
  }
  return "unknown";
}

Generator::Generator(ForwardBackend& backend, const Tokenizer& tokenizer, std::function<double()> now_us)
    : backend_(backend), tokenizer_(tokenizer), now_us_(std::move(now_us)) {}

std::vector<float> mean_pooled_unit(std::vector<float> sum, int64_t rows) {
  if (rows <= 0) throw std::invalid_argument("pooling needs at least one row");
  double squares = 0;
  for (float& v : sum) {
    v /= static_cast<float>(rows);
    squares += static_cast<double>(v) * v;
  }
  if (squares > 0) {
    const auto scale = static_cast<float>(1.0 / std::sqrt(squares));
    for (float& v : sum) v *= scale;
  }
  return sum;
}

std::vector<float> Generator::embed(const std::vector<int32_t>& input, int32_t chunk, const std::atomic<bool>* cancel) {
  if (input.empty()) throw std::invalid_argument("an embedding needs at least one input token");
  if (chunk <= 0) throw std::invalid_argument("prefill_chunk must be > 0");
  if (static_cast<int64_t>(input.size()) > backend_.context_capacity()) {
    throw std::length_error(fmt::format("the input has {} tokens but the context holds {}", input.size(),
                                        backend_.context_capacity()));
  }
  history_.clear();
  backend_.truncate(0);
  std::vector<float> sum;
  for (size_t at = 0; at < input.size(); at += static_cast<size_t>(chunk)) {
    if (cancel && cancel->load()) return {};
    const auto piece = std::span(input).subspan(at, std::min(input.size() - at, static_cast<size_t>(chunk)));
    const std::vector<float> part = backend_.forward_embedding_sum(piece, static_cast<int64_t>(at));
    if (sum.empty()) sum.assign(part.size(), 0.0f);
    if (part.size() != sum.size()) throw std::runtime_error("the backend returned embeddings of different widths");
    for (size_t d = 0; d < sum.size(); ++d) sum[d] += part[d];
    history_.insert(history_.end(), piece.begin(), piece.end());
  }
  return mean_pooled_unit(std::move(sum), static_cast<int64_t>(input.size()));
}

void Generator::clear() {
  history_.clear();
  backend_.truncate(0);
}

SampleResult ForwardBackend::forward_and_sample(std::span<const int32_t> tokens, int64_t pos0,
                                                std::span<const int32_t> history, const SamplingRequest& request) {
  std::vector<float> logits = forward(tokens, pos0);
  return sample_next(logits, history, request);
}

VerifyResult ForwardBackend::forward_and_verify(std::span<const int32_t> tokens, int64_t pos0,
                                               std::span<const int32_t> history, const SamplingRequest& request) {
  std::vector<float> logits = forward_rows(tokens, pos0);
  return verify_rows(logits, logits.size() / std::max<size_t>(1, tokens.size()), history, tokens.size(), request);
}

std::vector<float> ForwardBackend::forward_rows(std::span<const int32_t>, int64_t) {
  throw std::logic_error("this backend cannot return the logits of every row (speculative decoding)");
}

Generator::Continuation Generator::feed_one(int32_t id, int32_t max_draft, const GenerationParams& params,
                                            const SamplingRequest& request, DraftLengthController* control,
                                            GenerationResult& result) {
  std::vector<int32_t> rows{id};
  SamplingRequest verify_request = request;
  if (control && max_draft > 0) {
    const int32_t k = std::min(control->next_k(), max_draft);
    if (k > 0) {
      history_.push_back(id);  // the drafter sees the whole context
      Draft draft;
      try {
        draft = params.drafter ? params.drafter(history_, k, request)
                               : Draft{prompt_lookup_draft(history_, k, params.speculation.min_ngram,
                                                           params.speculation.max_ngram), {}};
      } catch (...) {
        history_.pop_back();
        throw;
      }
      history_.pop_back();
      if (draft.tokens.size() > static_cast<size_t>(k)) draft.tokens.resize(static_cast<size_t>(k));
      if (!draft.q.empty()) {
        if (draft.q.size() < draft.tokens.size()) throw std::logic_error("a drafter gave fewer distributions than tokens");
        draft.q.resize(draft.tokens.size());
        verify_request.draft_q = std::move(draft.q);
      }
      rows.insert(rows.end(), draft.tokens.begin(), draft.tokens.end());
    }
  }
  const auto pos0 = static_cast<int64_t>(history_.size());
  const double started = now_us_ ? now_us_() : 0.0;
  Continuation next;
  history_.insert(history_.end(), rows.begin(), rows.end());  // the sampler's penalties see them
  try {
    if (rows.size() == 1) {
      SampleResult r = forward_and_sample(rows, pos0, request);
      next.tokens.push_back(std::move(r.token));
      next.rng_draws = r.rng_draws;
    } else {
      VerifyResult r = backend_.forward_and_verify(rows, pos0, history_, verify_request);
      if (r.tokens.empty() || r.tokens.size() > rows.size()) {
        throw std::runtime_error(fmt::format("verifying {} drafts gave {} tokens", rows.size() - 1, r.tokens.size()));
      }
      const auto drafted = static_cast<int32_t>(rows.size() - 1);
      ++result.verify_steps;
      result.drafted_tokens += drafted;
      result.accepted_tokens += r.accepted();
      if (control) control->record_verify(drafted, r.accepted());
      next.fed = static_cast<size_t>(r.accepted());
      next.tokens = std::move(r.tokens);
      next.rng_draws = r.rng_draws;
    }
  } catch (...) {
    history_.resize(static_cast<size_t>(pos0));
    throw;
  }
  if (control && now_us_) control->record_step_time(static_cast<int32_t>(rows.size()), now_us_() - started);
  // The cache holds every row; history_ records only what plain decoding would have fed
  // so far (the last token). Accepted drafts join it as they are emitted; the positions
  // of rejected ones are dropped by the next forward's pos0.
  history_.resize(static_cast<size_t>(pos0) + 1);
  return next;
}

SampleResult Generator::forward_and_sample(std::span<const int32_t> rows, int64_t pos0,
                                           const SamplingRequest& request) {
  if (!constraint_) return backend_.forward_and_sample(rows, pos0, history_, request);
  std::vector<float> logits = backend_.forward(rows, pos0);
  constraint_->mask(logits, tokens_left_);
  SampleResult r = sample_next(logits, history_, request);
  constraint_->accept(r.token.id);
  return r;
}

SampleResult Generator::feed_and_sample(std::span<const int32_t> tokens, int32_t chunk, const SamplingRequest& request) {
  for (size_t i = 0;; i += static_cast<size_t>(chunk)) {
    const size_t n = std::min(static_cast<size_t>(chunk), tokens.size() - i);
    const auto part = tokens.subspan(i, n);
    const auto pos0 = static_cast<int64_t>(history_.size());
    history_.insert(history_.end(), part.begin(), part.end());  // the sampler's penalties see them
    try {
      if (i + n == tokens.size()) return forward_and_sample(part, pos0, request);
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
  shared = static_cast<size_t>(backend_.reusable_prefix(static_cast<int64_t>(shared)));
  history_.resize(shared);
  backend_.truncate(static_cast<int64_t>(shared));

  GenerationResult result;
  result.prompt_tokens = static_cast<int32_t>(input.size());
  result.reused_tokens = static_cast<int32_t>(shared);
  SamplingRequest request{params.sampling, params.logprobs, 0, {}};
  constraint_.reset();
  if (params.grammar) constraint_ = std::make_unique<GrammarConstraint>(tokenizer_, params.grammar);
  else if (params.json_object) constraint_ = std::make_unique<JsonObjectConstraint>(tokenizer_);
  // What a constrained reply may still write: max_tokens, or fewer when the context fills
  // first (the loop below emits at most capacity - input + 1 tokens).
  const int64_t budget = std::min<int64_t>(params.max_tokens, capacity - static_cast<int64_t>(input.size()) + 1);
  tokens_left_ = budget;
  SampleResult next = feed_and_sample(std::span(input).subspan(shared), params.prefill_chunk, request);
  if (cb.on_prefill_done) cb.on_prefill_done();

  DraftLengthController* control = nullptr;
  if (params.speculation.enabled && !constraint_) {
    validate(params.speculation);
    const int32_t max_draft = std::min(params.speculation.max_draft, params.prefill_chunk - 1);
    if (!control_ || control_->max_draft() != max_draft) control_.emplace(max_draft);
    control = &*control_;
  }
  Continuation pending{{std::move(next.token)}, next.rng_draws, 0};
  size_t at = 0;  // the next token of `pending` to emit

  StopStringFilter stops(params.stop);
  TokenStreamDecoder decoder(tokenizer_);
  result.finish = FinishReason::Length;
  for (int32_t produced = 0; produced < params.max_tokens; ++produced) {
    if (cancel && cancel->load()) {
      result.finish = FinishReason::Cancelled;
      break;
    }
    SampledToken token = std::move(pending.tokens[at]);
    const int32_t id = token.id;
    const bool fed = at < pending.fed;  // a verified draft: its K/V are cached already
    ++at;
    if (at == pending.tokens.size()) request.rng_draws = result.rng_draws = pending.rng_draws;
    if (tokenizer_.is_end_of_generation(id)) {
      result.finish = FinishReason::Stop;
      break;
    }
    ++result.completion_tokens;
    if (params.logprobs.any()) {
      if (cb.on_sampled) cb.on_sampled(token);
      result.sampled.push_back(std::move(token));
    }
    const std::string text = stops.push(decoder.push(id));
    result.text += text;
    if (cb.on_token) cb.on_token(id, text);
    // history_ mirrors what plain decoding would have cached, so a token that is not fed
    // (stop, limit, full context) is not recorded; the next turn's prefix match
    // recomputes it.
    if (stops.stopped()) {
      result.finish = FinishReason::Stop;
      break;
    }
    if (produced + 1 == params.max_tokens) break;
    if (static_cast<int64_t>(history_.size()) >= capacity) break;  // context full: length
    if (fed) {
      history_.push_back(id);
      continue;
    }
    // Drafts worth sending: room in the context, and no more than can still be emitted
    // (the step yields up to k + 1 tokens).
    const int64_t room = capacity - static_cast<int64_t>(history_.size()) - 1;
    const int32_t max_draft = static_cast<int32_t>(std::min<int64_t>(room, params.max_tokens - produced - 2));
    tokens_left_ = budget - produced - 1;
    pending = feed_one(id, max_draft, params, request, control, result);
    at = 0;
  }
  const std::string tail = stops.stopped() ? std::string() : stops.push(decoder.flush()) + stops.flush();
  if (!tail.empty()) {
    result.text += tail;
    if (cb.on_token) cb.on_token(-1, tail);
  }
  return result;
}

}  // namespace baton
