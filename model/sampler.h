// Token sampling from logits: repeat penalty, temperature, top-k, top-p, min-p, seeded RNG.
// temperature <= 0 means greedy (argmax, lowest id wins ties) — deterministic everywhere.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>

namespace baton {

struct SamplerParams {
  float temperature = 0.8f;
  int32_t top_k = 40;         // <= 0: off
  float top_p = 0.95f;        // >= 1: off
  float min_p = 0.05f;        // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off (the default, as llama.cpp's: greedy decoding is then plain argmax)
  int32_t repeat_last_n = 64;   // how many recent tokens the penalty looks at
  uint64_t seed = 0;
};

// Throws std::invalid_argument naming the field (e.g. "top_p must be in (0, 1], got 1.5").
void validate(const SamplerParams& params);

class Sampler {
 public:
  explicit Sampler(SamplerParams params);
  // logits is modified (penalties, scaling). history: the sequence so far (prompt+output).
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);
  const SamplerParams& params() const { return params_; }

 private:
  SamplerParams params_;
  std::mt19937_64 rng_;
};

// Index of the largest logit (first on ties).
int32_t argmax(std::span<const float> logits);

}  // namespace baton
