#include "model/gguf_format.h"

#include <array>

namespace baton {

std::string_view gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "?";
}

namespace gguf_detail {

std::optional<GgufType> value_type_from_id(uint32_t id) {
  if (id > static_cast<uint32_t>(GgufType::F64)) return std::nullopt;
  return static_cast<GgufType>(id);
}

uint64_t scalar_size(GgufType type) {
  switch (type) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::STRING: case GgufType::ARRAY: return 0;
  }
  return 0;
}

uint64_t min_encoded_size(GgufType type) {
  if (type == GgufType::STRING) return 8;
  if (type == GgufType::ARRAY) return 12;
  return scalar_size(type);
}

bool is_integer_type(GgufType type) {
  switch (type) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
    default: return false;
  }
}

bool is_unsigned_type(GgufType type) {
  return type == GgufType::U8 || type == GgufType::U16 || type == GgufType::U32 || type == GgufType::U64;
}

bool is_float_type(GgufType type) { return type == GgufType::F32 || type == GgufType::F64; }

std::string_view ggml_type_name(uint32_t id) {
  // ggml's type ids; empty entries are ids ggml removed or never used.
  static constexpr std::array<std::string_view, 40> kNames = {
      "f32",     "f16",    "q4_0",    "q4_1",  "",       "",      "q5_0",   "q5_1",  "q8_0",  "q8_1",
      "q2_K",    "q3_K",   "q4_K",    "q5_K",  "q6_K",   "q8_K",  "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s",
      "iq4_nl",  "iq3_s",  "iq2_s",   "iq4_xs", "i8",    "i16",   "i32",    "i64",   "f64",   "iq1_m",
      "bf16",    "",       "",        "",      "tq1_0",  "tq2_0", "",       "",      "",      "mxfp4",
  };
  return id < kNames.size() ? kNames[id] : std::string_view{};
}

std::string format_dims(const std::vector<uint64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(dims[i]);
  }
  out += "]";
  return out;
}

}  // namespace gguf_detail
}  // namespace baton
