// The decode loop, independent of where the layers run: a ForwardBackend turns new
// tokens into the next token (one process, or a pipeline of stages whose last stage
// samples), the Generator owns the token history, the sampler's state, stop conditions,
// streaming and cancel.
// No clocks here: callers time the callbacks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/grammar.h"
#include "model/token_constraint.h"
#include "model/sampler.h"
#include "model/sampling_request.h"
#include "model/speculative.h"

namespace baton {

class Tokenizer;

class ForwardBackend {
 public:
  virtual ~ForwardBackend() = default;
  // Appends `tokens` at positions [pos0, pos0 + n) and returns the logits (vocab floats)
  // of the last one. pos0 always equals the number of positions already cached.
  virtual std::vector<float> forward(std::span<const int32_t> tokens, int64_t pos0) = 0;
  // Appends `tokens` without asking for anything back (prompt chunks before the last).
  virtual void prefill(std::span<const int32_t> tokens, int64_t pos0) { forward(tokens, pos0); }
  // Appends `tokens` and samples the next token from the last one's logits. `history` is
  // the whole sequence including `tokens`. Here: forward() and sample in this process;
  // a pipeline samples on its last stage, where the logits are.
  virtual SampleResult forward_and_sample(std::span<const int32_t> tokens, int64_t pos0,
                                          std::span<const int32_t> history, const SamplingRequest& request);
  // Speculative decoding: appends `tokens` (the last sampled token, then drafts) and
  // verifies the drafts (verify_rows): the target token after each row while it equals
  // the next draft, then one more. Positions after the last accepted draft stay cached
  // until the next call's pos0 drops them. Here: forward_rows() and verify in this
  // process; a pipeline verifies on its last stage.
  virtual VerifyResult forward_and_verify(std::span<const int32_t> tokens, int64_t pos0,
                                          std::span<const int32_t> history, const SamplingRequest& request);
  // Appends `tokens` and returns the logits after each of them (tokens.size() x vocab).
  // pos0 may be below the cached positions: those after it are dropped first.
  virtual std::vector<float> forward_rows(std::span<const int32_t> tokens, int64_t pos0);
  // Embeddings: appends `tokens` and returns the sum, over their rows in order, of the
  // final norm of the hidden state (dim floats); no head, nothing sampled.
  virtual std::vector<float> forward_embedding_sum(std::span<const int32_t> tokens, int64_t pos0) = 0;
  // Forgets positions >= n_positions (prompt-cache reuse, /clear). n_positions must be
  // what reusable_prefix() allows.
  virtual void truncate(int64_t n_positions) = 0;
  // The longest prefix of at most n cached positions truncate() may keep: n, or 0 when a
  // sliding-window layer has already dropped keys the positions after it would need
  // (model/sliding_window.h). Going back at most kSlidingRollback positions always works.
  virtual int64_t reusable_prefix(int64_t n) const { return n; }
  virtual int64_t context_capacity() const = 0;
};

enum class FinishReason { Stop, Length, Cancelled };
const char* finish_reason_name(FinishReason r);

struct GenerationParams {
  int32_t max_tokens = 256;
  SamplerParams sampling;
  LogprobsRequest logprobs;       // reported per token through on_sampled and in the result
  std::vector<std::string> stop;  // stop strings (not emitted)
  int32_t prefill_chunk = 64;     // prompt rows per forward (bounds frame size)
  SpeculationParams speculation;  // draft and verify several tokens per forward
  bool embed_only = false;        // no generation: the input's embedding (Generator::embed)
  // The reply must be a JSON object (response_format json_object): tokens are masked where
  // sampling happens, which then needs the logits here (no speculation for it).
  bool json_object = false;
  // The reply must be a sentence of this grammar (response_format json_schema, a tool
  // call), masked the same way.
  std::shared_ptr<const Grammar> grammar;
  // Where drafts come from (context so far, at most k tokens, the step's sampling);
  // empty: prompt lookup. A draft that comes with its distributions is verified by the
  // speculative sampling rule (when the request samples).
  std::function<Draft(std::span<const int32_t> context, int32_t k, const SamplingRequest& request)> drafter;
};

struct GenerationResult {
  FinishReason finish = FinishReason::Stop;
  int32_t prompt_tokens = 0;      // tokens of this turn's input
  int32_t reused_tokens = 0;      // prefix already in the cache, not recomputed
  int32_t completion_tokens = 0;
  std::string text;
  std::vector<SampledToken> sampled;  // one per completion token, when logprobs were asked
  uint64_t rng_draws = 0;             // numbers the seeded generator drew
  // Speculation: forwards that verified drafts, tokens drafted and accepted in them.
  int32_t verify_steps = 0;
  int32_t drafted_tokens = 0;
  int32_t accepted_tokens = 0;
};

struct GenerationCallbacks {
  std::function<void()> on_prefill_done;                 // first token about to be sampled
  std::function<void(int32_t id, const std::string& text)> on_token;  // text may be empty
  // Before on_token, for every sampled token when logprobs were asked.
  std::function<void(const SampledToken&)> on_sampled;
};

// Mean of `rows` summed vectors, scaled to unit length (all zeros stays zeros).
std::vector<float> mean_pooled_unit(std::vector<float> sum, int64_t rows);

class Generator {
 public:
  // `now_us` (a steady clock in microseconds) times the forwards so that the draft length
  // can weigh a step's rows against its round trip; without it only acceptance counts.
  Generator(ForwardBackend& backend, const Tokenizer& tokenizer, std::function<double()> now_us = {});

  // Continues from `input`, the full token sequence of the conversation so far (e.g. the
  // rendered chat). The longest prefix shared with the cached history is reused.
  // Throws std::length_error when the input does not fit the context.
  GenerationResult generate(const std::vector<int32_t>& input, const GenerationParams& params,
                            const GenerationCallbacks& callbacks,
                            const std::atomic<bool>* cancel = nullptr);

  // The embedding of `input`: the final norm of the hidden state at every position, mean-
  // pooled and scaled to unit length (OpenAI's /v1/embeddings). Every position is
  // computed afresh (a cached prefix has no hidden states to pool); the cache then holds
  // `input`. Empty when cancelled. Throws std::invalid_argument for an empty input,
  // std::length_error when it does not fit the context.
  std::vector<float> embed(const std::vector<int32_t>& input, int32_t chunk, const std::atomic<bool>* cancel = nullptr);

  void clear();
  const std::vector<int32_t>& history() const { return history_; }

 private:
  // Appends `rows` and samples the token after the last: on the backend (a pipeline's last
  // stage), or here from the logits when the reply is constrained.
  SampleResult forward_and_sample(std::span<const int32_t> rows, int64_t pos0, const SamplingRequest& request);
  // Feeds `tokens` in chunks and samples the token after them.
  SampleResult feed_and_sample(std::span<const int32_t> tokens, int32_t chunk, const SamplingRequest& request);

  // Feeds `id` and returns the tokens that follow it: one, or with speculation the
  // accepted drafts and one more (`fed` of them are in the cache already).
  struct Continuation {
    std::vector<SampledToken> tokens;
    uint64_t rng_draws = 0;
    size_t fed = 0;
  };
  Continuation feed_one(int32_t id, int32_t max_draft, const GenerationParams& params, const SamplingRequest& request,
                        DraftLengthController* control, GenerationResult& result);

  ForwardBackend& backend_;
  const Tokenizer& tokenizer_;
  std::function<double()> now_us_;
  // The draft length's model, kept across generate() calls: what a step of r rows costs
  // is the backend's (a pipeline's round trip and compute), learnt once rather than
  // again by every request; acceptance decays within a few steps of a new text.
  std::optional<DraftLengthController> control_;
  std::vector<int32_t> history_;  // tokens whose K/V are in the backend's cache
  std::unique_ptr<TokenConstraint> constraint_;  // during a constrained generation
  int64_t tokens_left_ = 0;                         // the constraint's budget, this token included
};

}  // namespace baton
