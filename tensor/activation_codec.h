// Encodings of hidden-state rows for the wire: f32, f16, or int8 with one f16 scale per
// block of 32 values (exactly ggml's Q8_0 block, 34 bytes per 32 values). Pure functions;
// compression (zstd) and framing live in transport/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace baton {

enum class ActivationCodec : uint8_t { F32 = 0, F16 = 1, Int8 = 2 };

std::string_view codec_name(ActivationCodec c);
std::optional<ActivationCodec> codec_from_id(uint32_t id);

// Exact encoded size of rows x cols values; nullopt when cols does not suit the codec
// (int8 needs cols % 32 == 0) or the size overflows.
std::optional<uint64_t> encoded_activation_bytes(ActivationCodec c, uint64_t rows, uint64_t cols);

// Appends the encoding of rows x cols values to `out`.
void encode_activations(ActivationCodec c, const float* values, uint64_t rows, uint64_t cols,
                        std::vector<uint8_t>& out);
// Decodes exactly encoded_activation_bytes(c, rows, cols) bytes into `out` (rows*cols
// floats). Throws std::invalid_argument if the size is wrong or a value is not finite.
void decode_activations(ActivationCodec c, const uint8_t* data, size_t size, uint64_t rows, uint64_t cols,
                        float* out);

}  // namespace baton
