// Speculative decoding, the parts that need no clock and no network:
//  - prompt lookup: draft tokens by finding the context's last n-gram earlier in the
//    context and proposing what followed it there (no draft model needed);
//  - verification: given the logits after each row of [last token, draft 1..k], sample
//    the target token after each row in order and keep going while it equals the next
//    draft; the answer is the accepted drafts plus one corrected (or bonus) token;
//  - the draft length: chosen from the acceptance rate seen so far and the measured cost
//    of a step as a function of its rows.
//
// The verification rule. With prompt lookup the draft distribution q is a point mass on
// the drafted token x, so the standard speculative sampling rule (accept with probability
// min(1, p(x)/q(x)), else sample from max(0, p - q) renormalised) reads: accept x with
// probability p(x), else sample from p with x removed and renormalised. verify_rows
// realises exactly that law by coupling: it draws the target token y ~ p with the
// request's seeded generator, as plain decoding would at that position, and accepts x iff
// y == x (P = p(x)); on a rejection y is distributed as p conditioned on y != x, which is
// p with x removed and renormalised. One number is drawn per emitted token, as in plain
// decoding, so a seeded run gives the same text with speculation on or off, whatever the
// drafts and the draft length were (greedy: y is the argmax, accepted iff it is the draft).
//
// With a draft model sampling at temperature > 0 the request carries each draft's q
// (SamplingRequest.draft_q) and verify_rows applies the rule itself: draft x after row j
// is accepted when u < p(x) / q(x), otherwise the token is drawn from max(0, p - q)
// renormalised and the step ends; after the last draft one more token is drawn from p.
// Each emitted token is then distributed as p (Leviathan et al. 2023, Chen et al. 2023); the text is
// not plain decoding's for the seed, and is the same again only with the same draft lengths
// (k follows measured timings). Greedy requests never use q: a greedy draft is a point mass.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/sampling_request.h"

namespace baton {

struct SpeculationParams {
  bool enabled = false;
  int32_t max_draft = 8;  // draft tokens per step at most (k)
  int32_t min_ngram = 2;  // the shortest context suffix looked up
  int32_t max_ngram = 4;  // the longest (tried first)
  // Drafts from a draft model where one is loaded (`--draft`), else by prompt lookup.
  bool use_draft_model = false;
};

// Throws std::invalid_argument naming the field.
void validate(const SpeculationParams& params);

// Up to `max_tokens` tokens that followed the most recent earlier occurrence of the
// context's last n tokens, for n from max_ngram down to min_ngram (longest match first).
// Empty when no suffix of those lengths occurred before.
std::vector<int32_t> prompt_lookup_draft(std::span<const int32_t> context, int32_t max_tokens, int32_t min_ngram,
                                         int32_t max_ngram);

struct VerifyResult {
  // The target token after each verified row in order: those equal to the next row's
  // draft (accepted), then the first that is not, or the one after the last draft.
  std::vector<SampledToken> tokens;
  uint64_t rng_draws = 0;  // the generator's position after them
  int32_t accepted() const { return tokens.empty() ? 0 : static_cast<int32_t>(tokens.size()) - 1; }
};

// `logits`: rows x vocab, the logits after each of the sequence's last `rows` tokens
// (modified: bias and penalties applied). `history`: the whole sequence, ending with
// those rows' tokens (the last token before the drafts, then the drafts). Row j is
// sampled with the penalties over history up to and including its own token, exactly
// as plain decoding would have seen it, continuing the generator at request.rng_draws.
// With request.draft_q (rows - 1 distributions, each holding its draft with q > 0) and
// temperature > 0, the speculative sampling rule above; throws std::invalid_argument
// when they do not fit the rows.
VerifyResult verify_rows(std::span<float> logits, size_t vocab, std::span<const int32_t> history, size_t rows,
                         const SamplingRequest& request);

// Chooses how many tokens to draft next from what verification has shown so far.
// Acceptance is modelled as geometric: each draft is accepted with probability a given
// that the ones before it were (a = accepted / (accepted + rejections), decayed), so a
// step with k drafts yields (1 - a^(k+1)) / (1 - a) tokens on average. A step of r rows
// is taken to cost base + per_row * (r - 1), both learnt from measured steps (the round
// trip dominates base on a pipeline, the weights' read on one machine). k maximises
// tokens per unit of time; when no k beats plain decoding, k is 0, with a one-draft probe
// every kProbeEvery steps so that a change in acceptance is noticed.
// What a drafter proposes: tokens, and when they were sampled from a draft model's
// distribution, that distribution for each (empty: point masses).
struct Draft {
  std::vector<int32_t> tokens;
  std::vector<DraftDistribution> q;
};

class DraftLengthController {
 public:
  static constexpr int kProbeEvery = 8;

  explicit DraftLengthController(int32_t max_draft);

  // Draft length for the next step (0..max_draft).
  int32_t next_k();
  // A verification step: `drafted` drafts of which `accepted` were.
  void record_verify(int32_t drafted, int32_t accepted);
  // A step's duration with `rows` rows (1 for plain decoding), when it was measured.
  void record_step_time(int32_t rows, double micros);

  int32_t max_draft() const { return max_draft_; }
  double acceptance() const;  // the current estimate of a
  double base_micros() const { return base_us_; }
  double per_row_micros() const { return per_row_us_; }
  // Expected tokens per microsecond with k drafts, under the current estimates.
  double rate(int32_t k) const;

 private:
  int32_t max_draft_;
  double accepted_ = 2.0, rejected_ = 2.0;  // prior: a = 0.5, worth a few steps
  double base_us_ = 0.0, per_row_us_ = 0.0;  // moving averages of plain steps and extra rows
  bool have_base_ = false, have_per_row_ = false;
  int steps_without_draft_ = 0;
};

}  // namespace baton
