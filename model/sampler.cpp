// Sampling chain (llama.cpp-like): repeat penalty -> greedy if temperature <= 0, else
// top-k -> softmax with temperature -> top-p -> min-p -> draw from the seeded generator.
#include "model/sampler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_set>
#include <vector>

namespace baton {

namespace {

struct Candidate {
  float logit;
  int32_t id;
  double p = 0;
};

// Higher logit first; lower id first on ties, so results do not depend on sort stability.
bool before(const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }

void apply_repeat_penalty(std::span<float> logits, std::span<const int32_t> history, const SamplerParams& p) {
  if (p.repeat_penalty == 1.0f || p.repeat_last_n == 0 || history.empty()) return;
  const size_t window = p.repeat_last_n < 0 ? history.size() : std::min(history.size(), static_cast<size_t>(p.repeat_last_n));
  std::unordered_set<int32_t> seen;
  for (const int32_t id : history.subspan(history.size() - window)) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size() || !seen.insert(id).second) continue;
    float& l = logits[static_cast<size_t>(id)];
    l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
  }
}

// Uniform double in [0, 1) from 53 random bits: the same on every standard library, unlike
// std::uniform_real_distribution.
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

void validate(const SamplerParams& p) {
  auto bad = [](const std::string& message) { throw std::invalid_argument(message); };
  if (std::isnan(p.temperature) || std::isinf(p.temperature))
    bad(fmt::format("temperature must be a finite number, got {}", p.temperature));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) bad(fmt::format("top_p must be in (0, 1], got {}", p.top_p));
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) bad(fmt::format("min_p must be in [0, 1], got {}", p.min_p));
  if (!(p.repeat_penalty > 0.0f) || std::isinf(p.repeat_penalty))
    bad(fmt::format("repeat_penalty must be a positive finite number, got {}", p.repeat_penalty));
  if (p.repeat_last_n < -1) bad(fmt::format("repeat_last_n must be >= 0 (or -1 for the whole history), got {}", p.repeat_last_n));
}

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    // NaN never wins: the comparison is false.
    if (logits[i] > logits[static_cast<size_t>(best)] || std::isnan(logits[static_cast<size_t>(best)]))
      best = static_cast<int32_t>(i);
  }
  return best;
}

Sampler::Sampler(SamplerParams params) : params_(params), rng_(params.seed) { validate(params_); }

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  if (logits.empty()) throw std::invalid_argument("sampler: empty logits");
  apply_repeat_penalty(logits, history, params_);
  if (params_.temperature <= 0.0f) return argmax(logits);

  // Candidates with a finite logit (a partial logits vector marks the rest -inf).
  std::vector<Candidate> c;
  c.reserve(params_.top_k > 0 ? std::min<size_t>(logits.size(), 4 * static_cast<size_t>(params_.top_k)) : logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isfinite(logits[i])) c.push_back({logits[i], static_cast<int32_t>(i)});
  }
  if (c.empty()) return argmax(logits);

  // Sorted prefix: after top-k the first `sorted` candidates are in order.
  size_t sorted = 0;
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < c.size()) {
    const size_t k = static_cast<size_t>(params_.top_k);
    std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(k), c.end(), before);
    c.resize(k);
    sorted = k;
  }

  // Softmax with temperature, in double, relative to the largest logit.
  float max_logit = c[0].logit;
  for (const Candidate& x : c) max_logit = std::max(max_logit, x.logit);
  double sum = 0;
  const double inv_t = 1.0 / static_cast<double>(params_.temperature);
  for (Candidate& x : c) sum += x.p = std::exp((static_cast<double>(x.logit) - max_logit) * inv_t);
  for (Candidate& x : c) x.p /= sum;

  // Top-p: the smallest set of most likely tokens whose mass reaches top_p. Sort only as
  // much as needed: double the sorted prefix until it holds enough mass.
  if (params_.top_p < 1.0f) {
    size_t want = std::min<size_t>(c.size(), 64);
    for (;;) {
      if (sorted < want) {
        std::partial_sort(c.begin() + static_cast<std::ptrdiff_t>(sorted), c.begin() + static_cast<std::ptrdiff_t>(want),
                          c.end(), before);
        sorted = want;
      }
      double mass = 0;
      size_t keep = 0;
      while (keep < sorted && mass < params_.top_p) mass += c[keep++].p;
      if (mass >= params_.top_p || sorted == c.size()) {
        c.resize(std::max<size_t>(keep, 1));
        break;
      }
      want = std::min(c.size(), want * 2);
    }
  }

  // Min-p: drop tokens less likely than min_p times the most likely one.
  if (params_.min_p > 0.0f) {
    double p_max = 0;
    for (const Candidate& x : c) p_max = std::max(p_max, x.p);
    const double threshold = p_max * params_.min_p;
    std::erase_if(c, [&](const Candidate& x) { return x.p < threshold; });
  }

  double total = 0;
  for (const Candidate& x : c) total += x.p;
  double u = uniform01(rng_) * total;
  for (const Candidate& x : c) {
    if (u < x.p) return x.id;
    u -= x.p;
  }
  return c.back().id;  // rounding left u just above the last bucket
}

}  // namespace baton
