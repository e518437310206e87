// A one-line progress bar on stderr for long work (model load, shard transfer). Quiet
// when the total is below `min_total` or stderr is not a terminal and `always` is off.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace baton::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t min_total = 100ull << 20);
  void update(uint64_t done, uint64_t total);
  void finish();

 private:
  std::string label_;
  uint64_t min_total_;
  bool active_ = false;
  bool finished_ = false;
  int last_percent_ = -1;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace baton::cli
