#include "transport/activation_frame.h"

#include <fmt/format.h>
#include <zstd.h>

#include <array>
#include <memory>

namespace baton {

WireFormat parse_wire_format(const std::string& text) {
  WireFormat w;
  std::string codec = text;
  w.zstd = false;
  if (const auto plus = text.find('+'); plus != std::string::npos) {
    if (text.substr(plus + 1) != "zstd") {
      throw std::invalid_argument(fmt::format("wire format '{}': only '+zstd' may follow the codec", text));
    }
    codec = text.substr(0, plus);
    w.zstd = true;
  }
  if (codec == "f32") w.codec = ActivationCodec::F32;
  else if (codec == "f16") w.codec = ActivationCodec::F16;
  else if (codec == "int8") w.codec = ActivationCodec::Int8;
  else throw std::invalid_argument(fmt::format("wire format '{}' is not one of f32, f16, int8 (optionally +zstd)", text));
  return w;
}

double wire_bytes_per_element(const WireFormat& w) {
  constexpr uint64_t kBlock = 32;  // a whole int8 block, so the scale is counted
  return static_cast<double>(*encoded_activation_bytes(w.codec, 1, kBlock)) / kBlock;
}

std::string wire_format_name(const WireFormat& w) {
  return std::string(codec_name(w.codec)) + (w.zstd ? "+zstd" : "");
}

uint32_t crc32c(const uint8_t* data, size_t size) {
  // Castagnoli polynomial, reflected; table built per call is 1 KiB of work, so cache it
  // in a function-local constant.
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : (c >> 1);
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xffu] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

struct FrameCodec::Contexts {
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx{ZSTD_createCCtx(), ZSTD_freeCCtx};
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx{ZSTD_createDCtx(), ZSTD_freeDCtx};
  Contexts() {
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 1);
    ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 24);  // bound decoder memory
  }
};

FrameCodec::FrameCodec() : zstd_(std::make_unique<Contexts>()) {}
FrameCodec::~FrameCodec() = default;

ActivationFrame encode_frame(uint64_t session, uint64_t step, const float* values, uint32_t rows, uint32_t cols,
                             const WireFormat& format) {
  FrameCodec codec;
  return codec.encode(session, step, values, rows, cols, format);
}

std::vector<float> decode_frame(const ActivationFrame& frame, const FrameLimits& limits) {
  FrameCodec codec;
  return codec.decode(frame, limits);
}

ActivationFrame FrameCodec::encode(uint64_t session, uint64_t step, const float* values, uint32_t rows, uint32_t cols,
                                   const WireFormat& format) {
  ActivationFrame f;
  f.session = session;
  f.step = step;
  f.rows = rows;
  f.cols = cols;
  f.codec = static_cast<uint32_t>(format.codec);
  f.zstd = format.zstd;
  std::vector<uint8_t> raw;
  encode_activations(format.codec, values, rows, cols, raw);
  if (!format.zstd) {
    f.checksum = crc32c(raw.data(), raw.size());
    f.payload = std::move(raw);
    return f;
  }
  ZSTD_CCtx* cctx = zstd_->cctx.get();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, format.zstd_level);
  f.payload.resize(ZSTD_compressBound(raw.size()));
  const size_t n = ZSTD_compress2(cctx, f.payload.data(), f.payload.size(), raw.data(), raw.size());
  if (ZSTD_isError(n)) throw std::runtime_error(fmt::format("zstd compression failed: {}", ZSTD_getErrorName(n)));
  if (n >= raw.size()) {
    // INT8 hidden states are close to incompressible: zstd would only add its frame
    // header. Send such frames raw (the receiver follows the frame's flag).
    f.zstd = false;
    f.checksum = crc32c(raw.data(), raw.size());
    f.payload = std::move(raw);
    return f;
  }
  f.payload.resize(n);
  return f;
}

std::vector<float> FrameCodec::decode(const ActivationFrame& f, const FrameLimits& limits) {
  const auto codec = codec_from_id(f.codec);
  if (!codec) throw FrameError(fmt::format("frame has unknown codec id {}", f.codec));
  if (f.cols != limits.expected_cols) {
    throw FrameError(fmt::format("frame has {} columns, the model's dim is {}", f.cols, limits.expected_cols));
  }
  if (f.rows == 0 || f.rows > limits.max_rows) {
    throw FrameError(fmt::format("frame has {} rows, allowed 1..{}", f.rows, limits.max_rows));
  }
  const auto expected = encoded_activation_bytes(*codec, f.rows, f.cols);
  if (!expected) throw FrameError(fmt::format("shape {}x{} does not suit codec {}", f.rows, f.cols, codec_name(*codec)));

  std::vector<uint8_t> decompressed;
  const uint8_t* payload = f.payload.data();
  size_t size = f.payload.size();
  if (f.zstd) {
    // A zstd frame cannot be smaller than its header, nor can it need to be much larger
    // than the raw bytes; reject obviously wrong sizes before touching the decoder.
    if (size > ZSTD_compressBound(*expected)) {
      throw FrameError(fmt::format("compressed payload of {} bytes exceeds the bound {} for {} raw bytes", size,
                                   ZSTD_compressBound(*expected), *expected));
    }
    const unsigned long long declared = ZSTD_getFrameContentSize(payload, size);
    if (declared == ZSTD_CONTENTSIZE_ERROR) throw FrameError("payload is not a valid zstd frame");
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != *expected) {
      throw FrameError(fmt::format("zstd frame declares {} bytes, expected {} for {}x{} {}", declared, *expected,
                                   f.rows, f.cols, codec_name(*codec)));
    }
    // Decompress into exactly the expected size: anything that would inflate further
    // fails inside zstd (dstSize_tooSmall) instead of allocating.
    decompressed.resize(*expected);
    const size_t n = ZSTD_decompressDCtx(zstd_->dctx.get(), decompressed.data(), decompressed.size(), payload, size);
    if (ZSTD_isError(n)) {
      throw FrameError(fmt::format("zstd payload rejected ({}): it must inflate to exactly {} bytes",
                                   ZSTD_getErrorName(n), *expected));
    }
    if (n != *expected) {
      throw FrameError(fmt::format("zstd payload inflates to {} bytes, expected {}", n, *expected));
    }
    payload = decompressed.data();
    size = n;
  } else {
    if (size != *expected) {
      throw FrameError(fmt::format("payload is {} bytes, expected {} for {}x{} {}", size, *expected, f.rows, f.cols,
                                   codec_name(*codec)));
    }
    if (crc32c(payload, size) != f.checksum) throw FrameError("payload checksum mismatch (CRC32C)");
  }
  std::vector<float> out(static_cast<size_t>(f.rows) * f.cols);
  try {
    decode_activations(*codec, payload, size, f.rows, f.cols, out.data());
  } catch (const std::invalid_argument& e) {
    throw FrameError(e.what());
  }
  return out;
}

}  // namespace baton
