// Activation frames as they arrive from another node: header fields and payload are the
// fuzzer's. decode() must refuse bad frames with FrameError, never crash or over-allocate.
#include <cstdint>
#include <cstring>

#include "transport/activation_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 12) return 0;
  baton::ActivationFrame f;
  uint16_t rows = 0, cols = 0;
  std::memcpy(&rows, data, 2);
  std::memcpy(&cols, data + 2, 2);
  f.rows = rows;
  f.cols = cols;
  f.codec = data[4];
  f.zstd = data[5] & 1;
  std::memcpy(&f.checksum, data + 8, 4);
  f.payload.assign(data + 12, data + size);
  baton::FrameCodec codec;
  // A stage of dim 64 taking at most 8 rows: small enough that valid frames are found.
  const baton::FrameLimits limits{64, 8};
  try {
    const auto out = codec.decode(f, limits);
    if (out.size() > size_t{64} * 8) __builtin_trap();  // decode must honour the limits
  } catch (const baton::FrameError&) {
  }
  return 0;
}
