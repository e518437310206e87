#include "model/speculative.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace baton {

void validate(const SpeculationParams& p) {
  auto bad = [](const std::string& message) { throw std::invalid_argument(message); };
  if (p.max_draft < 1 || p.max_draft > 32) bad(fmt::format("the draft length must be in [1, 32], got {}", p.max_draft));
  if (p.min_ngram < 1) bad(fmt::format("the shortest n-gram looked up must be >= 1, got {}", p.min_ngram));
  if (p.max_ngram < p.min_ngram || p.max_ngram > 16) {
    bad(fmt::format("the longest n-gram looked up must be in [{}, 16], got {}", p.min_ngram, p.max_ngram));
  }
}

std::vector<int32_t> prompt_lookup_draft(std::span<const int32_t> context, int32_t max_tokens, int32_t min_ngram,
                                         int32_t max_ngram) {
  std::vector<int32_t> out;
  const size_t len = context.size();
  if (max_tokens <= 0 || min_ngram <= 0 || len < 2) return out;
  for (auto n = static_cast<size_t>(std::max(max_ngram, min_ngram)); n >= static_cast<size_t>(min_ngram); --n) {
    if (n >= len) continue;  // needs the suffix and an earlier start
    const auto suffix = context.subspan(len - n);
    // The most recent earlier occurrence: text repeats locally (a list, a refrain, code).
    // Starts run back from len - n - 1, so the match is never the suffix itself.
    for (size_t start = len - n; start-- > 0;) {
      if (!std::equal(suffix.begin(), suffix.end(), context.begin() + static_cast<std::ptrdiff_t>(start))) continue;
      const size_t from = start + n;  // < len: what followed the occurrence
      const size_t take = std::min(static_cast<size_t>(max_tokens), len - from);
      out.assign(context.begin() + static_cast<std::ptrdiff_t>(from),
                 context.begin() + static_cast<std::ptrdiff_t>(from + take));
      return out;
    }
  }
  return out;
}

namespace {

void add_logprobs(SampledToken& t, std::span<const float> adjusted, const LogprobsRequest& want) {
  if (want.chosen) t.logprob = log_probability(adjusted, t.id);
  if (want.top > 0) {
    for (const auto& [id, lp] : top_log_probabilities(adjusted, want.top)) t.top.push_back({id, lp});
  }
}

double probability_of(int32_t id, std::span<const int32_t> ids, std::span<const float> probs) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == id) return probs[i];
  }
  return 0.0;
}

// Draft x (from q) after row j: accepted with probability min(1, p(x) / q(x)); else the
// token comes from max(0, p - q) renormalised, whose support lies within p's.
VerifyResult verify_against_q(std::span<float> logits, size_t vocab, std::span<const int32_t> history, size_t rows,
                              const SamplingRequest& request) {
  if (request.draft_q.size() != rows - 1) {
    throw std::invalid_argument(fmt::format("verify: {} draft distributions for {} drafts", request.draft_q.size(), rows - 1));
  }
  const size_t first = history.size() - rows;
  Sampler sampler(request.sampler, request.rng_draws);
  VerifyResult out;
  for (size_t j = 0; j < rows; ++j) {
    const std::span<float> row = logits.subspan(j * vocab, vocab);
    const auto seen = history.first(first + j + 1);
    SampledToken t;
    if (j + 1 == rows) {  // every draft accepted: one more from p
      t.id = sampler.sample(row, seen);
      add_logprobs(t, row, request.logprobs);
      out.tokens.push_back(std::move(t));
      break;
    }
    const DraftDistribution& q = request.draft_q[j];
    const int32_t x = history[first + j + 1];
    const double qx = probability_of(x, q.ids, q.probs);
    if (!(qx > 0)) throw std::invalid_argument(fmt::format("verify: draft {} has probability 0 in its own distribution", x));
    const std::vector<TokenProbability> p = sampler.distribution(row, seen);
    double px = 0;
    for (const TokenProbability& c : p) px = c.id == x ? c.p : px;
    if (sampler.uniform01() * qx < px) {
      t.id = x;
      add_logprobs(t, row, request.logprobs);
      out.tokens.push_back(std::move(t));
      continue;
    }
    std::vector<double> residual(p.size());
    double total = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      total += residual[i] = std::max(0.0, p[i].p - probability_of(p[i].id, q.ids, q.probs));
    }
    // A rejection leaves mass where p exceeds q; rounding alone can leave none (p == q):
    // then p itself is the law.
    if (!(total > 1e-12)) {
      total = 0;
      for (size_t i = 0; i < p.size(); ++i) total += residual[i] = p[i].p;
    }
    double u = sampler.uniform01() * total;
    for (size_t i = 0; i < p.size(); ++i) {
      if (residual[i] <= 0) continue;
      t.id = p[i].id;  // the last with mass, should rounding leave u just above it
      if (u < residual[i]) break;
      u -= residual[i];
    }
    add_logprobs(t, row, request.logprobs);
    out.tokens.push_back(std::move(t));
    break;
  }
  out.rng_draws = sampler.draws();
  return out;
}

}  // namespace

VerifyResult verify_rows(std::span<float> logits, size_t vocab, std::span<const int32_t> history, size_t rows,
                         const SamplingRequest& request) {
  if (rows == 0 || vocab == 0 || logits.size() != rows * vocab) {
    throw std::invalid_argument(fmt::format("verify: {} logits for {} rows of {}", logits.size(), rows, vocab));
  }
  if (history.size() < rows) {
    throw std::invalid_argument(fmt::format("verify: {} rows but the sequence has {} tokens", rows, history.size()));
  }
  if (!request.draft_q.empty() && request.sampler.temperature > 0.0f && rows > 1) {
    return verify_against_q(logits, vocab, history, rows, request);
  }
  const size_t first = history.size() - rows;  // position of the first verified row's token
  VerifyResult out;
  SamplingRequest step = request;
  for (size_t j = 0; j < rows; ++j) {
    // What plain decoding sees after row j: the sequence up to and including its token.
    SampleResult r = sample_next(logits.subspan(j * vocab, vocab), history.first(first + j + 1), step);
    step.rng_draws = r.rng_draws;
    const bool matches_draft = j + 1 < rows && r.token.id == history[first + j + 1];
    out.tokens.push_back(std::move(r.token));
    if (!matches_draft) break;
  }
  out.rng_draws = step.rng_draws;
  return out;
}

DraftLengthController::DraftLengthController(int32_t max_draft) : max_draft_(std::max<int32_t>(0, max_draft)) {}

double DraftLengthController::acceptance() const { return accepted_ / (accepted_ + rejected_); }

void DraftLengthController::record_verify(int32_t drafted, int32_t accepted) {
  if (drafted <= 0) return;
  // Decay old evidence so that a change (a quoted passage ends) shows within a few steps.
  constexpr double kKeep = 0.8;
  accepted_ = accepted_ * kKeep + accepted;
  rejected_ = rejected_ * kKeep + (accepted < drafted ? 1.0 : 0.0);
}

void DraftLengthController::record_step_time(int32_t rows, double micros) {
  if (rows < 1 || !(micros >= 0) || !std::isfinite(micros)) return;
  // Plain steps give the base; a verification step's excess over it, per extra row, the
  // row cost. Each is kept until new evidence of its own kind arrives: plain steps
  // outnumber verifications, and must not wash out what a row was seen to cost.
  constexpr double kNew = 0.25;
  if (rows == 1) {
    base_us_ = have_base_ ? (1 - kNew) * base_us_ + kNew * micros : micros;
    have_base_ = true;
    return;
  }
  const double base = have_base_ ? base_us_ : micros / (1.0 + 0.05 * (rows - 1));
  const double sample = std::max(0.0, (micros - base) / (rows - 1));
  per_row_us_ = have_per_row_ ? (1 - kNew) * per_row_us_ + kNew * sample : sample;
  have_per_row_ = true;
}

double DraftLengthController::rate(int32_t k) const {
  const double a = std::clamp(acceptance(), 0.0, 0.999);
  const double tokens = (1.0 - std::pow(a, k + 1)) / (1.0 - a);
  // Before any measurement a row is taken to cost a twentieth of a step.
  const double base = have_base_ ? std::max(1.0, base_us_) : 20.0;
  const double per_row = have_per_row_ ? per_row_us_ : base / 20.0;
  return tokens / (base + per_row * k);
}

int32_t DraftLengthController::next_k() {
  int32_t best = 0;
  double best_rate = rate(0);
  for (int32_t k = 1; k <= max_draft_; ++k) {
    const double r = rate(k);
    if (r > best_rate * 1.0001) best = k, best_rate = r;
  }
  if (best > 0 || max_draft_ == 0) {
    steps_without_draft_ = 0;
    return best;
  }
  if (++steps_without_draft_ >= kProbeEvery) {
    steps_without_draft_ = 0;
    return 1;
  }
  return 0;
}

}  // namespace baton
