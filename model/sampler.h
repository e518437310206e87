// Token sampling from logits: logit bias, repeat / presence / frequency penalties,
// temperature, top-k, top-p, min-p, seeded RNG. temperature <= 0 means greedy (argmax,
// lowest id wins ties) — deterministic everywhere.
//
// The generator is mt19937_64 seeded with `seed`; a Sampler can start at any number of
// numbers already drawn, so a sampler rebuilt elsewhere (the last stage of a pipeline,
// one step at a time) continues exactly where the previous step's left off.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace baton {

struct SamplerParams {
  float temperature = 0.8f;
  int32_t top_k = 40;         // <= 0: off
  float top_p = 0.95f;        // >= 1: off
  float min_p = 0.05f;        // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off (the default, as llama.cpp's: greedy decoding is then plain argmax)
  int32_t repeat_last_n = 64;   // how many recent tokens the penalties look at (-1: all)
  // OpenAI-style: logit -= frequency * count + presence * (count > 0), counted over the
  // same window as the repeat penalty. 0: off.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the token's logit first
  uint64_t seed = 0;
};

// At most this many logit_bias entries (OpenAI allows 300); bounds what a frame carries.
inline constexpr size_t kMaxLogitBias = 1024;

// Throws std::invalid_argument naming the field (e.g. "top_p must be in (0, 1], got 1.5").
void validate(const SamplerParams& params);
// Also checks that every logit_bias id is a token of this vocabulary.
void validate(const SamplerParams& params, int vocab_size);

// One token of the distribution a sampler draws from, with its probability.
struct TokenProbability {
  int32_t id = 0;
  double p = 0;
};

class Sampler {
 public:
  // `draws`: numbers the generator has already drawn (0 for a new generation).
  explicit Sampler(SamplerParams params, uint64_t draws = 0);
  // logits is modified (bias and penalties applied; after the call it holds the adjusted
  // logits the choice was made from). history: the sequence so far (prompt+output).
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);
  // The distribution sample() draws from when temperature > 0: bias, penalties, top-k,
  // softmax with temperature, top-p, min-p; probabilities summing to 1, in the order
  // sample() walks them. logits is modified as by sample(). Draws nothing.
  std::vector<TokenProbability> distribution(std::span<float> logits, std::span<const int32_t> history) const;
  // One uniform number in [0, 1) from the seeded generator (counted in draws()).
  double uniform01();
  const SamplerParams& params() const { return params_; }
  uint64_t draws() const { return draws_; }  // numbers drawn since the seed

 private:
  // The truncated candidates with their softmax probabilities (not renormalised); empty
  // when no logit is finite.
  std::vector<TokenProbability> truncated(std::span<float> logits, std::span<const int32_t> history) const;

  SamplerParams params_;
  std::mt19937_64 rng_;
  uint64_t draws_ = 0;
};

// Index of the largest logit (first on ties).
int32_t argmax(std::span<const float> logits);

// log-softmax of `logits` at `id` (natural log), in double.
float log_probability(std::span<const float> logits, int32_t id);
// The n most likely ids with their log-probabilities, most likely first (ties: lower id).
std::vector<std::pair<int32_t, float>> top_log_probabilities(std::span<const float> logits, uint32_t n);

}  // namespace baton
