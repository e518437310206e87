#include "node/stage/precise_timer.h"

#include <fcntl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace baton {

PreciseTimer::PreciseTimer(kj::UnixEventPort& port) {
  fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error(std::string("timerfd_create: ") + std::strerror(errno));
  observer_ = kj::heap<kj::UnixEventPort::FdObserver>(port, fd_, kj::UnixEventPort::FdObserver::OBSERVE_READ);
  watching_ = watch().eagerlyEvaluate(nullptr);
}

PreciseTimer::~PreciseTimer() {
  watching_ = nullptr;
  observer_ = nullptr;
  if (fd_ >= 0) close(fd_);
}

int64_t PreciseTimer::now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

kj::Promise<void> PreciseTimer::at(int64_t deadline_ns) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  const bool earliest = waiting_.empty() || deadline_ns < waiting_.begin()->first;
  waiting_.emplace(deadline_ns, kj::mv(paf.fulfiller));
  if (deadline_ns <= now_ns()) {
    fire_due();  // earlier deadlines first, so nothing overtakes
    arm();
  } else if (earliest) {
    arm();
  }
  return kj::mv(paf.promise);
}

kj::Promise<void> PreciseTimer::watch() {
  return observer_->whenBecomesReadable().then([this] {
    uint64_t expirations = 0;
    while (read(fd_, &expirations, sizeof(expirations)) > 0) {
    }  // drain until EAGAIN: the next expiry is a new edge
    fire_due();
    arm();
    return watch();
  });
}

void PreciseTimer::fire_due() {
  const int64_t now = now_ns();
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    auto fulfiller = kj::mv(waiting_.begin()->second);
    waiting_.erase(waiting_.begin());
    fulfiller->fulfill();
  }
}

void PreciseTimer::arm() {
  itimerspec spec{};
  if (!waiting_.empty()) {
    const int64_t t = waiting_.begin()->first;
    spec.it_value.tv_sec = static_cast<time_t>(t / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(t % 1'000'000'000);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;  // 0 would disarm
  }
  timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

}  // namespace baton
