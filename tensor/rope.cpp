// Rotary position embedding: a per-model table of pair frequencies (plain, linearly
// scaled, divided by per-pair factors, or YaRN-blended), applied per token.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/kernels.h"

namespace baton {

namespace {

void check(const RopeParams& p) {
  if (p.head_dim <= 0 || p.rope_dims < 0 || p.rope_dims > p.head_dim || p.rope_dims % 2 != 0) {
    throw std::invalid_argument("rope: need 0 <= rope_dims <= head_dim and rope_dims even (head_dim " +
                                std::to_string(p.head_dim) + ", rope_dims " + std::to_string(p.rope_dims) + ")");
  }
  if (!(p.theta > 0.0f) || !std::isfinite(p.theta) || !(p.freq_scale > 0.0f) || !std::isfinite(p.freq_scale)) {
    throw std::invalid_argument("rope: theta and freq_scale must be finite and positive (theta " +
                                std::to_string(p.theta) + ", freq_scale " + std::to_string(p.freq_scale) + ")");
  }
  if (!(p.attn_factor > 0.0f) || !std::isfinite(p.attn_factor)) {
    throw std::invalid_argument("rope: attn_factor must be finite and positive, found " + std::to_string(p.attn_factor));
  }
  if (!(p.ext_factor >= 0.0f) || !std::isfinite(p.ext_factor)) {
    throw std::invalid_argument("rope: YaRN ext_factor must be finite and >= 0, found " + std::to_string(p.ext_factor));
  }
  if (p.ext_factor != 0.0f && (p.original_context <= 0 || !std::isfinite(p.beta_fast) || !std::isfinite(p.beta_slow) ||
                               !(p.beta_fast > 0.0f) || !(p.beta_slow > 0.0f))) {
    throw std::invalid_argument("rope: YaRN needs an original context > 0 and finite, positive beta_fast / beta_slow");
  }
  for (int i = 0; p.freq_factors && i < p.rope_dims / 2; ++i) {
    if (!(p.freq_factors[i] > 0.0f) || !std::isfinite(p.freq_factors[i])) {
      throw std::invalid_argument("rope: frequency factor " + std::to_string(i) + " is " +
                                  std::to_string(p.freq_factors[i]) + "; factors must be finite and positive");
    }
  }
}

// ggml's ggml_rope_yarn_corr_dim, in float as ggml computes it (its floor and ceil decide
// which pairs are blended, so the same rounding matters): the pair index at which a pair
// turns `n_rot` times within `n_ctx_orig` positions.
float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
  return static_cast<float>(n_dims) *
         std::log(static_cast<float>(n_ctx_orig) / (n_rot * 2.0f * std::numbers::pi_v<float>)) / (2.0f * std::log(base));
}

// ggml's rope_yarn_ramp: 1 for pairs below `low` (kept as trained), 0 above `high`
// (interpolated), linear between.
float yarn_ramp(float low, float high, int pair) {
  const float y = (static_cast<float>(pair) - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

}  // namespace

RopeTable::RopeTable(const RopeParams& p) : head_dim_(p.head_dim), layout_(p.layout), mscale_(p.attn_factor) {
  check(p);
  const int pairs = p.rope_dims / 2;
  // ggml_rope_yarn_corr_dims: the blended pairs lie in [low, high].
  float low = 0.0f, high = 0.0f;
  if (p.ext_factor != 0.0f) {
    low = std::max(0.0f, std::floor(yarn_corr_dim(p.rope_dims, p.original_context, p.beta_fast, p.theta)));
    high = std::min(static_cast<float>(p.rope_dims - 1),
                    std::ceil(yarn_corr_dim(p.rope_dims, p.original_context, p.beta_slow, p.theta)));
    // YaRN's magnitude correction for the interpolated frequencies, as rope_yarn applies it.
    mscale_ *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
  }
  pairs_.resize(static_cast<size_t>(pairs));
  // theta^(-2i/d) by repeated multiplication in double: one pow per table, and the
  // accumulated rounding over <= a few hundred steps stays near 1e-14.
  const double ratio = std::pow(static_cast<double>(p.theta), -2.0 / p.rope_dims);
  double base = 1.0;
  for (int i = 0; i < pairs; ++i, base *= ratio) {
    // rope_yarn: the interpolated angle (times freq_scale) blended with the extrapolated
    // one by ext_factor * ramp; both share the factor, so only the position scale blends.
    const double mix = p.ext_factor != 0.0f ? static_cast<double>(yarn_ramp(low, high, i) * p.ext_factor) : 0.0;
    const double scale = mix == 0.0 ? static_cast<double>(p.freq_scale) : p.freq_scale * (1.0 - mix) + mix;
    pairs_[static_cast<size_t>(i)] = Pair{scale, base, p.freq_factors ? static_cast<double>(p.freq_factors[i]) : 1.0};
  }
}

void rope_inplace(float* x, int n_heads, int position, const RopeTable& t) {
  const int pairs = t.rope_dims() / 2;
  if (pairs == 0 || n_heads <= 0) return;
  // One cos/sin table per call, shared by all heads, computed in double so large positions
  // do not lose the angle's low bits.
  constexpr int kStackPairs = 128;
  float cos_stack[kStackPairs], sin_stack[kStackPairs];
  std::vector<float> cos_heap, sin_heap;
  float* cos_t = cos_stack;
  float* sin_t = sin_stack;
  if (pairs > kStackPairs) {
    cos_heap.resize(pairs);
    sin_heap.resize(pairs);
    cos_t = cos_heap.data();
    sin_t = sin_heap.data();
  }
  const double pos = static_cast<double>(position);
  const float mscale = t.mscale();
  for (int i = 0; i < pairs; ++i) {
    const RopeTable::Pair& f = t.pair(i);
    const double angle = pos * f.scale * f.base / f.divisor;
    cos_t[i] = static_cast<float>(std::cos(angle)) * mscale;
    sin_t[i] = static_cast<float>(std::sin(angle)) * mscale;
  }
  const bool normal = t.layout() == RopeLayout::Normal;
  for (int h = 0; h < n_heads; ++h) {
    float* head = x + static_cast<int64_t>(h) * t.head_dim();
    for (int i = 0; i < pairs; ++i) {
      // Normal (GPT-J / llama): adjacent pairs. NeoX (qwen2, ...): first half with second half.
      float* a = normal ? head + 2 * i : head + i;
      float* b = normal ? head + 2 * i + 1 : head + i + pairs;
      const float x0 = *a, x1 = *b;
      *a = x0 * cos_t[i] - x1 * sin_t[i];
      *b = x0 * sin_t[i] + x1 * cos_t[i];
    }
  }
}

void rope_inplace(float* x, int n_heads, int position, const RopeParams& p) {
  rope_inplace(x, n_heads, position, RopeTable(p));
}

}  // namespace baton
