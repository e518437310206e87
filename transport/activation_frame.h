// Activation frames: one hop's hidden states, encoded with an ActivationCodec and
// optionally zstd-compressed. Decoding checks every declared size against the model's
// dims and a configured cap BEFORE allocating or decompressing, and decompresses into a
// buffer bounded by rows*cols, so a hostile frame cannot make a node allocate or inflate
// beyond what the model needs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/activation_codec.h"

namespace baton {

struct WireFormat {
  ActivationCodec codec = ActivationCodec::Int8;
  bool zstd = true;
  int zstd_level = 1;  // fast: the hop budget is microseconds, not ratio
};

// "f32", "f16", "int8", "int8+zstd", "f16+zstd", ... ; throws std::invalid_argument.
WireFormat parse_wire_format(const std::string& text);
std::string wire_format_name(const WireFormat& w);
// Bytes per activation element on the wire before compression, from the codec's own
// encoded size (int8: 34 bytes per block of 32): what the planner charges a hop.
double wire_bytes_per_element(const WireFormat& w);

struct ActivationFrame {
  uint64_t session = 0;
  uint64_t step = 0;       // the sender's sequence number for this session
  uint32_t rows = 0;       // tokens
  uint32_t cols = 0;       // model dim
  uint32_t codec = 0;      // ActivationCodec id (kept raw: the receiver validates it)
  bool zstd = false;
  uint32_t checksum = 0;   // CRC32C of the payload when zstd (which has its own) is off
  std::vector<uint8_t> payload;
};

// What a receiver accepts.
struct FrameLimits {
  uint32_t expected_cols = 0;  // the model's dim
  uint32_t max_rows = 512;     // prefill chunk cap
};

class FrameError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// With format.zstd, the payload is compressed only when that makes it smaller; otherwise
// the frame goes out raw with a CRC32C (zstd = false in the frame).
ActivationFrame encode_frame(uint64_t session, uint64_t step, const float* values, uint32_t rows, uint32_t cols,
                             const WireFormat& format);
// Returns rows*cols floats. Throws FrameError with a precise reason.
std::vector<float> decode_frame(const ActivationFrame& frame, const FrameLimits& limits);

uint32_t crc32c(const uint8_t* data, size_t size);

// Keeps zstd's compression and decompression contexts between frames: creating them
// allocates hundreds of KiB of tables, which would otherwise happen on every hop of every
// token. One per stage (not thread-safe). The free functions above use a temporary one.
class FrameCodec {
 public:
  FrameCodec();
  ~FrameCodec();
  FrameCodec(const FrameCodec&) = delete;
  FrameCodec& operator=(const FrameCodec&) = delete;

  ActivationFrame encode(uint64_t session, uint64_t step, const float* values, uint32_t rows, uint32_t cols,
                         const WireFormat& format);
  std::vector<float> decode(const ActivationFrame& frame, const FrameLimits& limits);

 private:
  struct Contexts;
  std::unique_ptr<Contexts> zstd_;
};

}  // namespace baton
