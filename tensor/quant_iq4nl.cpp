// IQ4_NL: blocks of 32 with one f16 scale and 4-bit indices into a fixed table of 16
// non-uniform levels (kIQ4NLValues), closer together near zero where most weights are.
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quant_common.h"

namespace baton::detail {

namespace {

constexpr float kTinyBlockMax = 1e-15f;
constexpr int kLevels = 16;

// Index of the level nearest to v (levels ascend; the lower one wins ties).
int nearest_level(float v) {
  int best = 0;
  float best_err = std::fabs(v - kIQ4NLValues[0]);
  for (int k = 1; k < kLevels; ++k) {
    const float err = std::fabs(v - kIQ4NLValues[k]);
    if (err < best_err) {
      best = k;
      best_err = err;
    }
  }
  return best;
}

// Indices for scale d (nearest level of x/d) and their squared error.
float assign(const float* x, float d, uint8_t L[kQK]) {
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  float err = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    L[j] = static_cast<uint8_t>(nearest_level(x[j] * id));
    const float diff = d * kIQ4NLValues[L[j]] - x[j];
    err += diff * diff;
  }
  return err;
}

// The scale that minimises the squared error for fixed indices: sum x*v / sum v*v.
float refit(const float* x, const uint8_t L[kQK]) {
  float sum_xv = 0.0f, sum_vv = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    const float v = kIQ4NLValues[L[j]];
    sum_xv += x[j] * v;
    sum_vv += v * v;
  }
  return sum_vv > 0.0f ? sum_xv / sum_vv : 0.0f;
}

float max_abs_error(const float* x, float d, const uint8_t L[kQK]) {
  float err = 0.0f;
  for (int j = 0; j < kQK; ++j) err = std::fmax(err, std::fabs(d * kIQ4NLValues[L[j]] - x[j]));
  return err;
}

void store(const uint8_t L[kQK], float d, BlockIQ4_NL& y) {
  y.d = f32_to_fp16(d);
  for (int j = 0; j < kQK / 2; ++j) y.qs[j] = static_cast<uint8_t>(L[j] | (L[j + kQK / 2] << 4));
}

// Largest error a block may keep, relative to its largest |x|. The plain fit (largest
// magnitude on the level -127) errs by at most 14/127 (the other extreme lands on 113)
// or half the widest gap, 12/127, plus the f16 rounding of d: under 0.111.
constexpr float kGuard = 0.125f;

}  // namespace

void quantize_row_iq4_nl_ref(const float* x, BlockIQ4_NL* y, int64_t n) {
  const int64_t nb = n / kQK;
  uint8_t L[kQK], trial[kQK];
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (!(amax >= kTinyBlockMax)) {
      std::memset(L, 8, sizeof L);  // level 1 at scale 0: every value decodes to 0
      store(L, 0.0f, y[i]);
      continue;
    }
    // The levels are asymmetric (-127 .. 113), so the largest magnitude may sit on either
    // end: try scales around max/-127 and max/113, refit each by least squares and keep
    // the one with the smallest squared error once d is rounded to f16 as stored.
    float best_d = 0.0f, best_err = INFINITY;
    std::memset(L, 8, sizeof L);  // kept if no trial improves on INFINITY (NaN input): all decode to 0
    for (float end : {-127.0f, 113.0f}) {
      for (int step = -4; step <= 4; ++step) {
        const float d0 = max / (end + (end < 0 ? -1.0f : 1.0f) * 1.5f * step);
        assign(x, d0, trial);
        const float d = fp16_to_f32(f32_to_fp16(refit(x, trial)));
        const float err = assign(x, d, trial);
        if (err < best_err) {
          best_err = err;
          best_d = d;
          std::memcpy(L, trial, sizeof L);
        }
      }
    }
    if (max_abs_error(x, best_d, L) > kGuard * amax) {
      best_d = fp16_to_f32(f32_to_fp16(max / -127.0f));
      assign(x, best_d, L);
    }
    store(L, best_d, y[i]);
  }
}

void dequantize_row_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t n) {
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[i * kQK + j] = d * kIQ4NLValues[x[i].qs[j] & 0xF];
      y[i * kQK + j + kQK / 2] = d * kIQ4NLValues[x[i].qs[j] >> 4];
    }
  }
}

}  // namespace baton::detail
