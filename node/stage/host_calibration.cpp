#include "node/stage/host_calibration.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "tensor/kernels.h"

namespace baton {

double measure_host_gflops(double budget_ms) {
  // The shape of a small model's feed-forward matrix: weights stay in L2 as they do for
  // the simulated models, so this measures arithmetic rather than DRAM.
  constexpr int64_t rows = 704, cols = 256;
  std::vector<float> w(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i * 2654435761u % 2001) - 1000) / 1000.0f;
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) / 17.0f;
  const uint64_t rb = row_bytes(DType::Q8_0, static_cast<uint64_t>(cols));
  std::vector<uint8_t> q(static_cast<size_t>(rb * rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row(DType::Q8_0, w.data() + r * cols, q.data() + r * rb, cols);
  const WeightView view{DType::Q8_0, q.data(), rows, cols};

  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::microseconds(static_cast<int64_t>(budget_ms * 1000));
  double best = 0;
  while (clock::now() < deadline) {
    constexpr int reps = 50;
    const auto t0 = clock::now();
    for (int i = 0; i < reps; ++i) matvec(view, x.data(), y.data(), nullptr);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (s > 0) best = std::max(best, 2.0 * rows * cols * reps / s / 1e9);
  }
  return best > 0 ? best : 1.0;
}

}  // namespace baton
