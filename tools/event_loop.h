// Shared start-up for the commands that serve RPC: SIGINT/SIGTERM end the loop cleanly.
#pragma once

#include <kj/async-io.h>
#include <kj/async-unix.h>

namespace baton::cli {

// Call before setupAsyncIo() (kj needs the signals blocked before threads start).
void capture_shutdown_signals();
// Resolves when SIGINT or SIGTERM arrives; returns the signal's name for the log.
kj::Promise<const char*> shutdown_signal(kj::AsyncIoContext& io);

}  // namespace baton::cli
