// A timer with microsecond precision for link shaping. kj's own timer sleeps in epoll with
// millisecond timeouts (rounded up), which would add ~0.5 ms to every shaped hop; this one
// arms a timerfd (CLOCK_MONOTONIC, absolute) for the earliest deadline and watches it
// from the event loop. Promises for equal deadlines resolve in the order they were made.
#pragma once

#include <kj/async-unix.h>

#include <cstdint>
#include <map>

namespace baton {

class PreciseTimer {
 public:
  explicit PreciseTimer(kj::UnixEventPort& port);
  ~PreciseTimer();
  PreciseTimer(const PreciseTimer&) = delete;
  PreciseTimer& operator=(const PreciseTimer&) = delete;

  // CLOCK_MONOTONIC in nanoseconds (the same clock as std::chrono::steady_clock on Linux).
  static int64_t now_ns();
  // Resolves at `deadline_ns` (now_ns() time base); at once (next turn) if it has passed.
  kj::Promise<void> at(int64_t deadline_ns);

 private:
  kj::Promise<void> watch();
  void fire_due();
  void arm();

  int fd_ = -1;
  kj::Own<kj::UnixEventPort::FdObserver> observer_;
  std::multimap<int64_t, kj::Own<kj::PromiseFulfiller<void>>> waiting_;
  kj::Promise<void> watching_ = nullptr;
};

}  // namespace baton
