// Sampling chain (llama.cpp-like): logit bias -> repeat, frequency and presence penalties
// -> greedy if temperature <= 0, else top-k -> softmax with temperature -> top-p -> min-p
// -> draw from the seeded generator.
#include "model/sampler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <unordered_map>
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

void apply_logit_bias(std::span<float> logits, const SamplerParams& p) {
  for (const auto& [id, bias] : p.logit_bias) {
    if (id >= 0 && static_cast<size_t>(id) < logits.size()) logits[static_cast<size_t>(id)] += bias;
  }
}

// Repeat penalty (llama.cpp: divide a positive logit, multiply a negative one) and the
// OpenAI frequency / presence penalties, over the last repeat_last_n tokens.
void apply_penalties(std::span<float> logits, std::span<const int32_t> history, const SamplerParams& p) {
  const bool repeat = p.repeat_penalty != 1.0f;
  const bool openai = p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f;
  if ((!repeat && !openai) || p.repeat_last_n == 0 || history.empty()) return;
  const size_t window = p.repeat_last_n < 0 ? history.size() : std::min(history.size(), static_cast<size_t>(p.repeat_last_n));
  std::unordered_map<int32_t, int> counts;
  for (const int32_t id : history.subspan(history.size() - window)) {
    // Negative ids mark positions whose token the caller does not know.
    if (id >= 0 && static_cast<size_t>(id) < logits.size()) ++counts[id];
  }
  for (const auto& [id, count] : counts) {
    float& l = logits[static_cast<size_t>(id)];
    if (repeat) l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
    l -= static_cast<float>(count) * p.frequency_penalty + p.presence_penalty;
  }
}

// Uniform double in [0, 1) from 53 random bits: the same on every standard library, unlike
// std::uniform_real_distribution.
}  // namespace

double Sampler::uniform01() {
  ++draws_;
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

void validate(const SamplerParams& p) {
  auto bad = [](const std::string& message) { throw std::invalid_argument(message); };
  if (std::isnan(p.temperature) || std::isinf(p.temperature))
    bad(fmt::format("temperature must be a finite number, got {}", p.temperature));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) bad(fmt::format("top_p must be in (0, 1], got {}", p.top_p));
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) bad(fmt::format("min_p must be in [0, 1], got {}", p.min_p));
  if (!(p.repeat_penalty > 0.0f) || std::isinf(p.repeat_penalty))
    bad(fmt::format("repeat_penalty must be a positive finite number, got {}", p.repeat_penalty));
  if (p.repeat_last_n < -1) bad(fmt::format("repeat_last_n must be >= 0 (or -1 for the whole history), got {}", p.repeat_last_n));
  if (!std::isfinite(p.presence_penalty) || std::fabs(p.presence_penalty) > 100.0f)
    bad(fmt::format("presence_penalty must be a number in [-100, 100], got {}", p.presence_penalty));
  if (!std::isfinite(p.frequency_penalty) || std::fabs(p.frequency_penalty) > 100.0f)
    bad(fmt::format("frequency_penalty must be a number in [-100, 100], got {}", p.frequency_penalty));
  if (p.logit_bias.size() > kMaxLogitBias)
    bad(fmt::format("logit_bias has {} entries, at most {} allowed", p.logit_bias.size(), kMaxLogitBias));
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0) bad(fmt::format("logit_bias: token id {} is negative", id));
    if (std::isnan(bias)) bad(fmt::format("logit_bias: the bias of token {} is not a number", id));
  }
}

void validate(const SamplerParams& p, int vocab_size) {
  validate(p);
  for (const auto& [id, bias] : p.logit_bias) {
    if (id >= vocab_size) throw std::invalid_argument(fmt::format("logit_bias: token id {} is outside [0, {})", id, vocab_size));
  }
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

Sampler::Sampler(SamplerParams params, uint64_t draws) : params_(std::move(params)), rng_(params_.seed), draws_(draws) {
  validate(params_);
  rng_.discard(draws);  // ~1 ns a number: a few microseconds for thousands of tokens
}

std::vector<TokenProbability> Sampler::truncated(std::span<float> logits, std::span<const int32_t> history) const {
  apply_logit_bias(logits, params_);
  apply_penalties(logits, history, params_);

  // Candidates with a finite logit (a partial logits vector marks the rest -inf).
  std::vector<Candidate> c;
  c.reserve(params_.top_k > 0 ? std::min<size_t>(logits.size(), 4 * static_cast<size_t>(params_.top_k)) : logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isfinite(logits[i])) c.push_back({logits[i], static_cast<int32_t>(i)});
  }
  if (c.empty()) return {};

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
  std::vector<TokenProbability> out;
  out.reserve(c.size());
  for (const Candidate& x : c) out.push_back({x.id, x.p});
  return out;
}

std::vector<TokenProbability> Sampler::distribution(std::span<float> logits, std::span<const int32_t> history) const {
  if (logits.empty()) throw std::invalid_argument("sampler: empty logits");
  if (params_.temperature <= 0.0f) throw std::logic_error("sampler: a greedy sampler has no distribution to draw from");
  std::vector<TokenProbability> c = truncated(logits, history);
  if (c.empty()) return {{argmax(logits), 1.0}};
  double total = 0;
  for (const TokenProbability& x : c) total += x.p;
  for (TokenProbability& x : c) x.p /= total;
  return c;
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  if (logits.empty()) throw std::invalid_argument("sampler: empty logits");
  if (params_.temperature <= 0.0f) {
    apply_logit_bias(logits, params_);
    apply_penalties(logits, history, params_);
    return argmax(logits);
  }
  const std::vector<TokenProbability> c = truncated(logits, history);
  if (c.empty()) return argmax(logits);
  double total = 0;
  for (const TokenProbability& x : c) total += x.p;
  double u = uniform01() * total;
  for (const TokenProbability& x : c) {
    if (u < x.p) return x.id;
    u -= x.p;
  }
  return c.back().id;  // rounding left u just above the last bucket
}

float log_probability(std::span<const float> logits, int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= logits.size()) throw std::out_of_range("log_probability: id outside the logits");
  float max_logit = -std::numeric_limits<float>::infinity();
  for (float l : logits) max_logit = std::max(max_logit, l);
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max_logit);
  return static_cast<float>(static_cast<double>(logits[static_cast<size_t>(id)]) - max_logit - std::log(sum));
}

std::vector<std::pair<int32_t, float>> top_log_probabilities(std::span<const float> logits, uint32_t n) {
  std::vector<Candidate> c;
  c.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) c.push_back({logits[i], static_cast<int32_t>(i)});
  const size_t k = std::min<size_t>(n, c.size());
  std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(k), c.end(), before);
  float max_logit = -std::numeric_limits<float>::infinity();
  for (float l : logits) max_logit = std::max(max_logit, l);
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max_logit);
  const double log_sum = std::log(sum);
  std::vector<std::pair<int32_t, float>> out;
  out.reserve(k);
  for (size_t i = 0; i < k; ++i) out.emplace_back(c[i].id, static_cast<float>(static_cast<double>(c[i].logit) - max_logit - log_sum));
  return out;
}

}  // namespace baton
