#include "tensor/activation_codec.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tensor/dtype.h"
#include "tensor/kernels.h"
#include "tensor/kernels_dispatch.h"

namespace baton {

std::string_view codec_name(ActivationCodec c) {
  switch (c) {
    case ActivationCodec::F32: return "f32";
    case ActivationCodec::F16: return "f16";
    case ActivationCodec::Int8: return "int8";
  }
  return "unknown";
}

std::optional<ActivationCodec> codec_from_id(uint32_t id) {
  if (id > static_cast<uint32_t>(ActivationCodec::Int8)) return std::nullopt;
  return static_cast<ActivationCodec>(id);
}

namespace {

DType storage_type(ActivationCodec c) {
  switch (c) {
    case ActivationCodec::F32: return DType::F32;
    case ActivationCodec::F16: return DType::F16;
    case ActivationCodec::Int8: return DType::Q8_0;
  }
  throw std::invalid_argument("unknown activation codec");
}

}  // namespace

std::optional<uint64_t> encoded_activation_bytes(ActivationCodec c, uint64_t rows, uint64_t cols) {
  const DType t = storage_type(c);
  if (cols == 0 || !row_fits_blocks(t, cols)) return std::nullopt;
  const uint64_t per_row = row_bytes(t, cols);
  if (rows != 0 && per_row > UINT64_MAX / rows) return std::nullopt;
  return per_row * rows;
}

void encode_activations(ActivationCodec c, const float* values, uint64_t rows, uint64_t cols,
                        std::vector<uint8_t>& out) {
  const auto total = encoded_activation_bytes(c, rows, cols);
  if (!total) throw std::invalid_argument("activation shape does not suit codec " + std::string(codec_name(c)));
  const DType t = storage_type(c);
  const uint64_t per_row = row_bytes(t, cols);
  const size_t start = out.size();
  out.resize(start + *total);
  // INT8 rows go through the active kernel table's quantiser (AVX2 or NEON): the same
  // codes as the reference quantize_row gives (tested), at SIMD speed.
  const detail::QuantizeRowFn quantize_q8_0 = detail::active_kernels().quantize_q8_0;
  for (uint64_t r = 0; r < rows; ++r) {
    uint8_t* dst = out.data() + start + r * per_row;
    if (t == DType::Q8_0) {
      quantize_q8_0(values + r * cols, dst, static_cast<int64_t>(cols));
    } else {
      quantize_row(t, values + r * cols, dst, static_cast<int64_t>(cols));
    }
  }
}

void decode_activations(ActivationCodec c, const uint8_t* data, size_t size, uint64_t rows, uint64_t cols,
                        float* out) {
  const auto total = encoded_activation_bytes(c, rows, cols);
  if (!total) {
    throw std::invalid_argument("activation shape " + std::to_string(rows) + "x" + std::to_string(cols) +
                                " does not suit codec " + std::string(codec_name(c)));
  }
  if (*total != size) {
    throw std::invalid_argument("activation payload is " + std::to_string(size) + " bytes, expected " +
                                std::to_string(*total) + " for " + std::to_string(rows) + "x" + std::to_string(cols) +
                                " " + std::string(codec_name(c)));
  }
  const DType t = storage_type(c);
  const uint64_t per_row = row_bytes(t, cols);
  for (uint64_t r = 0; r < rows; ++r) {
    dequantize_row(t, data + r * per_row, out + r * cols, static_cast<int64_t>(cols));
  }
  // A NaN or inf from the wire would poison every later layer silently; refuse it here.
  for (uint64_t i = 0; i < rows * cols; ++i) {
    if (!std::isfinite(out[i])) {
      throw std::invalid_argument("activation payload holds a non-finite value at index " + std::to_string(i));
    }
  }
}

}  // namespace baton
