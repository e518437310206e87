// Shared helpers for the tensor tests: seeded random data and double-precision references.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/kernels.h"

namespace baton::testing {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline std::vector<float> random_uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// The worst |x - dequantize(quantize(x))| / (largest |x| of x's block) each format allows,
// derived here from the formats' definitions rather than taken from the library under test
// (quant_test checks that the library states the same figures):
//   f16, bf16: round to nearest, half an ulp: 2^-11 and 2^-8 of the value.
//   q8_0: half a step of amax/127, plus the f16 rounding of the scale over 127 steps.
//   q8_K: half a step; its scale is f32.
//   q4_0: d = amax/8 with codes [-8, 7]: the opposite extreme clips from +8 to +7, one full
//     step of 1/8; plus the f16 scale rounding over 8 steps.
//   q4_K: half a step of 2*amax/15 plus the 6-bit scale and min rounding is about 0.07; the
//     quantiser falls back to that plain fit when its search does worse, so 0.1 holds.
//   q5_0: as q4_0 with d = amax/16 and codes [-16, 15]: one full step of 1/16 plus 2^-11.
//   q5_1: d = (max-min)/31 plus an f16 offset: half a step is at most amax/31; the f16
//     rounding of d over 31 steps and of the offset add 3 * 2^-11.
//   iq4_nl: levels -127..113: the plain fit (largest magnitude on -127) errs by at most
//     14/127 on the other extreme; the quantiser falls back to it above 0.125.
//   q5_K: as q4_K with 31 steps, plain fit about 0.056; fallback above 0.07.
//   q6_K: the plain fit (+-31 codes over +-amax, 8-bit sub-block scales) stays under about
//     0.017; the quantiser falls back to it above 0.03.
inline double expected_error_bound(DType t) {
  switch (t) {
    case DType::F32: return 0.0;
    case DType::F16: return 1.0 / 2048.0;
    case DType::BF16: return 1.0 / 256.0;
    case DType::Q8_0: return 1.0 / 254.0 + 1.0 / 2048.0;
    case DType::Q8_K: return 1.0 / 254.0 + 1e-6;
    case DType::Q4_0: return 1.0 / 8.0 + 1.0 / 2048.0;
    case DType::Q4_K: return 0.1;
    case DType::Q5_0: return 1.0 / 16.0 + 1.0 / 2048.0;
    case DType::Q5_1: return 1.0 / 31.0 + 3.0 / 2048.0;
    case DType::IQ4_NL: return 0.125;
    case DType::Q5_K: return 0.07;
    case DType::Q6_K: return 0.03;
  }
  return -1.0;
}

// Quantises `rows` rows of `cols` values into dtype t (row-major, ggml layout).
inline std::vector<uint8_t> quantize_matrix(DType t, const std::vector<float>& values, int64_t rows, int64_t cols) {
  const size_t rb = row_bytes(t, static_cast<uint64_t>(cols));
  std::vector<uint8_t> out(rb * static_cast<size_t>(rows) + 64);  // slack: kernels must not need it, asan would see it
  for (int64_t r = 0; r < rows; ++r) quantize_row(t, values.data() + r * cols, out.data() + r * rb, cols);
  return out;
}

inline std::vector<float> dequantize_matrix(DType t, const void* data, int64_t rows, int64_t cols) {
  const size_t rb = row_bytes(t, static_cast<uint64_t>(cols));
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(t, static_cast<const uint8_t*>(data) + r * rb, out.data() + r * cols, cols);
  }
  return out;
}

}  // namespace baton::testing
