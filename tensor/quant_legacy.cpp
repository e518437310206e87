// Q8_0 and Q4_0: one f16 scale per block of 32 (ggml's "legacy" quants).
#include <cmath>

#include "tensor/fp16.h"
#include "tensor/quant_common.h"

namespace baton::detail {

namespace {

// v = x/d is in [-8, 8]: +8.5 then truncation rounds half up into [0, 16]; 16 clamps to 15.
// Clamping in float first keeps NaN/inf input defined (fmax drops NaN).
inline int to_q4_code(float v) { return static_cast<int>(std::fmin(std::fmax(v + 8.5f, 0.0f), 15.0f)); }

}  // namespace

void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n) {
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    // |x * id| <= 127 up to rounding, so no clamp is needed; ties to even like the SIMD path.
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = static_cast<int8_t>(clamp_int(nearest_int(x[j] * id), -127, 127));
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[i * kQK + j] = x[i].qs[j] * d;
  }
}

void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t n) {
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    // The value of largest magnitude maps to -8, the one code with no positive twin,
    // so the full [-8, 7] range is used on the side that needs it.
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = to_q4_code(x[j] * id);
      const int q1 = to_q4_code(x[j + kQK / 2] * id);
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[i * kQK + j] = ((x[i].qs[j] & 0x0F) - 8) * d;
      y[i * kQK + j + kQK / 2] = ((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

}  // namespace baton::detail
