// Element-wise operations and normalisation.
#include <cmath>

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

void softmax_inplace(float* x, int64_t n) { detail::active_kernels().softmax(x, n); }

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  if (n <= 0) return;
  detail::active_kernels().silu_mul(gate, up, out, n);
}

void add_inplace(float* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

}  // namespace baton
