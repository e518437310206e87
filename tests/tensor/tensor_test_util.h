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
