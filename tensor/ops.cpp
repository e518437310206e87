// Element-wise operations and normalisation.
#include <cmath>

#include "tensor/fp16.h"
#include "tensor/kernels_dispatch.h"

namespace baton {

void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps) {
  if (n <= 0) return;
  // Double accumulation: n is a few thousand at most, and this keeps the norm exact to
  // float precision whatever the magnitudes.
  double sum_sq = 0.0;
  for (int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void rmsnorm_heads(float* row, const float* weight, int n_heads, int64_t head_dim, float eps) {
  for (int h = 0; h < n_heads; ++h) {
    float* head = row + h * head_dim;
    rmsnorm(head, weight, head, head_dim, eps);
  }
}

void softmax_inplace(float* x, int64_t n) { detail::active_kernels().softmax(x, n); }

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  if (n <= 0) return;
  detail::active_kernels().silu_mul(gate, up, out, n);
}

void gelu_mul(const float* gate, const float* up, float* out, int64_t n) {
  // llama.cpp's GELU on the CPU (ggml's GGML_GELU_FP16, its default): the input rounded
  // to f16, GELU's tanh approximation of that, rounded to f16 again (what ggml's 64K-entry
  // table holds); inputs at or beyond +-10 skip the table (x, or 0). Gemma's feed-forward
  // output is quantised to 8-bit codes for the next matrix product, so computing GELU in
  // f32 instead moved codes and, with quantised weights, logits by up to 0.5 against
  // llama.cpp. Computed rather than tabled: the same values without a 128 KiB table.
  // Not a hot path next to the three matrix products around it, so plain scalar code.
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  constexpr float kCubic = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    if (x <= -10.0f) {
      out[i] = 0.0f;
    } else if (x >= 10.0f) {
      out[i] = x * up[i];
    } else {
      const float h = fp16_to_f32(f32_to_fp16(x));
      const float gelu = 0.5f * h * (1.0f + std::tanh(kSqrt2OverPi * h * (1.0f + kCubic * h * h)));
      out[i] = fp16_to_f32(f32_to_fp16(gelu)) * up[i];
    }
  }
}

void softcap_inplace(float* x, int64_t n, float cap) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] * inv);
}

void add_inplace(float* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

}  // namespace baton
