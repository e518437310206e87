#include "tools/progress.h"

#include <fmt/format.h>
#include <unistd.h>

namespace baton::cli {

ProgressBar::ProgressBar(std::string label, uint64_t min_total)
    : label_(std::move(label)), min_total_(min_total), start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(uint64_t done, uint64_t total) {
  if (finished_ || total < min_total_ || total == 0) return;
  active_ = true;
  const int percent = static_cast<int>(done * 100 / total);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double mib = static_cast<double>(done) / (1 << 20);
  constexpr int kWidth = 30;
  const int filled = percent * kWidth / 100;
  const bool tty = isatty(STDERR_FILENO);
  const std::string line = fmt::format("{} [{}{}] {:3d}%  {:.0f}/{:.0f} MiB  {:.0f} MiB/s", label_,
                                       std::string(static_cast<size_t>(filled), '#'),
                                       std::string(static_cast<size_t>(kWidth - filled), '.'), percent, mib,
                                       static_cast<double>(total) / (1 << 20), secs > 0 ? mib / secs : 0.0);
  if (tty) {
    fmt::print(stderr, "\r{}", line);
  } else if (percent % 25 == 0) {
    fmt::print(stderr, "{}\n", line);  // logs: a few lines, not hundreds
  }
}

void ProgressBar::finish() {
  if (active_ && !finished_ && isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
  finished_ = true;
}

}  // namespace baton::cli
