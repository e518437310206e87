// `simulate: ...` lines on stderr while a simulation runs (several threads report), or
// nothing with --quiet.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <mutex>

namespace baton::sim {

class ProgressLines {
 public:
  explicit ProgressLines(bool quiet) : quiet_(quiet) {}
  template <typename... Args>
  void line(fmt::format_string<Args...> f, Args&&... args) {
    if (quiet_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    fmt::print(stderr, "simulate: {}\n", fmt::format(f, std::forward<Args>(args)...));
    std::fflush(stderr);
  }

 private:
  bool quiet_;
  std::mutex mutex_;
};

}  // namespace baton::sim
