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

VerifyResult verify_rows(std::span<float> logits, size_t vocab, std::span<const int32_t> history, size_t rows,
                         const SamplingRequest& request) {
  if (rows == 0 || vocab == 0 || logits.size() != rows * vocab) {
    throw std::invalid_argument(fmt::format("verify: {} logits for {} rows of {}", logits.size(), rows, vocab));
  }
  if (history.size() < rows) {
    throw std::invalid_argument(fmt::format("verify: {} rows but the sequence has {} tokens", rows, history.size()));
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
  // Decayed least squares of micros = base + per_row * (rows - 1).
  constexpr double kKeep = 0.9;
  const double x = rows - 1;
  s0_ = s0_ * kKeep + 1;
  sx_ = sx_ * kKeep + x;
  sy_ = sy_ * kKeep + micros;
  sxx_ = sxx_ * kKeep + x * x;
  sxy_ = sxy_ * kKeep + x * micros;
  const double mean_x = sx_ / s0_, mean_y = sy_ / s0_;
  const double var_x = sxx_ / s0_ - mean_x * mean_x;
  if (var_x > 0.05) {
    per_row_us_ = std::max(0.0, (sxy_ / s0_ - mean_x * mean_y) / var_x);
    base_us_ = std::max(1.0, mean_y - per_row_us_ * mean_x);
  } else {
    // All steps had about the same rows: the split between base and per-row cost is
    // unknown; assume a row costs a twentieth of the step, a round trip's worth otherwise.
    per_row_us_ = mean_y / (20.0 + mean_x);
    base_us_ = std::max(1.0, mean_y - per_row_us_ * mean_x);
  }
  have_time_ = true;
}

double DraftLengthController::rate(int32_t k) const {
  const double a = std::clamp(acceptance(), 0.0, 0.999);
  const double tokens = (1.0 - std::pow(a, k + 1)) / (1.0 - a);
  const double base = have_time_ ? base_us_ : 20.0;
  const double per_row = have_time_ ? per_row_us_ : 1.0;
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
