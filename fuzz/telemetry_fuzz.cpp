// ZeroMQ heartbeats as any peer on the network could send them.
#include <cstdint>

#include "transport/telemetry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const baton::Telemetry t = baton::decode_telemetry({data, size});
    if (t.node.size() > baton::kMaxTelemetryNameBytes) __builtin_trap();
  } catch (const baton::TelemetryError&) {
  }
  return 0;
}
