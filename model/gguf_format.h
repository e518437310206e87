// Facts about the GGUF encoding shared by the reader, the writer and the summary.
// Internal to model/: callers use model/gguf.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf.h"

namespace baton::gguf_detail {

inline constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";

// The value type with this on-disk id, or nullopt for ids the format does not define.
std::optional<GgufType> value_type_from_id(uint32_t id);
// On-disk bytes of a fixed-size value; 0 for STRING and ARRAY.
uint64_t scalar_size(GgufType type);
// Fewest bytes one value of this type can occupy on disk (a string is at least its 8-byte
// length, an array its 4-byte element type and 8-byte count). Used to reject counts that
// cannot fit in the bytes that remain, before allocating anything for them.
uint64_t min_encoded_size(GgufType type);
bool is_integer_type(GgufType type);
bool is_unsigned_type(GgufType type);
bool is_float_type(GgufType type);

// ggml's spelling of a tensor type id, including types baton cannot compute with
// ("q5_1", "iq2_xs"); empty for ids ggml never defined.
std::string_view ggml_type_name(uint32_t id);

// "[4096, 32000]"
std::string format_dims(const std::vector<uint64_t>& dims);

inline bool is_power_of_two(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }
// Rounds up to a multiple of a power-of-two alignment. Callers keep x far from 2^64
// (x is at most a file size).
inline uint64_t align_up(uint64_t x, uint64_t alignment) { return (x + alignment - 1) & ~(alignment - 1); }

inline bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
inline bool checked_add(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

}  // namespace baton::gguf_detail
