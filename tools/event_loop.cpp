#include "tools/event_loop.h"

#include <csignal>

namespace baton::cli {

void capture_shutdown_signals() {
  kj::UnixEventPort::captureSignal(SIGINT);
  kj::UnixEventPort::captureSignal(SIGTERM);
}

kj::Promise<const char*> shutdown_signal(kj::AsyncIoContext& io) {
  return io.unixEventPort.onSignal(SIGINT)
      .then([](siginfo_t) { return "SIGINT"; })
      .exclusiveJoin(io.unixEventPort.onSignal(SIGTERM).then([](siginfo_t) { return "SIGTERM"; }));
}

}  // namespace baton::cli
