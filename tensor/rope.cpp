// Rotary position embedding.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/kernels.h"

namespace baton {

void rope_inplace(float* x, int n_heads, int position, const RopeParams& p) {
  if (p.head_dim <= 0 || p.rope_dims < 0 || p.rope_dims > p.head_dim || p.rope_dims % 2 != 0) {
    throw std::invalid_argument("rope_inplace: need 0 <= rope_dims <= head_dim and rope_dims even (head_dim " +
                                std::to_string(p.head_dim) + ", rope_dims " + std::to_string(p.rope_dims) + ")");
  }
  const int pairs = p.rope_dims / 2;
  if (pairs == 0 || n_heads <= 0) return;
  // One cos/sin table per call, shared by all heads:
  // angle_i = pos * freq_scale * theta^(-2i/d) / freq_factors[i].
  // Computed in double so large positions do not lose the angle's low bits.
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
  const double pos = static_cast<double>(position) * p.freq_scale;
  // theta^(-2i/d) by repeated multiplication: one pow per call, and in double the
  // accumulated rounding over <= a few hundred steps stays near 1e-14.
  const double ratio = std::pow(static_cast<double>(p.theta), -2.0 / p.rope_dims);
  double freq = 1.0;
  for (int i = 0; i < pairs; ++i, freq *= ratio) {
    const double angle = p.freq_factors ? pos * freq / p.freq_factors[i] : pos * freq;
    cos_t[i] = static_cast<float>(std::cos(angle));
    sin_t[i] = static_cast<float>(std::sin(angle));
  }
  for (int h = 0; h < n_heads; ++h) {
    float* head = x + static_cast<int64_t>(h) * p.head_dim;
    for (int i = 0; i < pairs; ++i) {
      // Normal (GPT-J / llama): adjacent pairs. NeoX (qwen2, ...): first half with second half.
      float* a = p.layout == RopeLayout::Normal ? head + 2 * i : head + i;
      float* b = p.layout == RopeLayout::Normal ? head + 2 * i + 1 : head + i + pairs;
      const float x0 = *a, x1 = *b;
      *a = x0 * cos_t[i] - x1 * sin_t[i];
      *b = x0 * sin_t[i] + x1 * cos_t[i];
    }
  }
}

}  // namespace baton
