#include "tensor/dtype.h"

#include <array>
#include <cctype>
#include <stdexcept>
#include <string>

namespace baton {

// ggml's block sizes: if one of these fails, GGUF data could no longer be used in place.
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block must match ggml (34 bytes)");
static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block must match ggml (18 bytes)");
static_assert(sizeof(BlockQ5_0) == 22, "Q5_0 block must match ggml (22 bytes)");
static_assert(sizeof(BlockQ5_1) == 24, "Q5_1 block must match ggml (24 bytes)");
static_assert(sizeof(BlockIQ4_NL) == 18, "IQ4_NL block must match ggml (18 bytes)");
static_assert(sizeof(BlockQ5_K) == 176, "Q5_K block must match ggml (176 bytes)");
static_assert(sizeof(BlockQ4_K) == 144, "Q4_K block must match ggml (144 bytes)");
static_assert(sizeof(BlockQ6_K) == 210, "Q6_K block must match ggml (210 bytes)");
static_assert(sizeof(BlockQ8_K) == 292, "Q8_K block must match ggml (292 bytes)");
static_assert(alignof(BlockQ8_0) <= 2 && alignof(BlockQ4_0) <= 2 && alignof(BlockQ4_K) <= 2 &&
                  alignof(BlockQ5_0) <= 2 && alignof(BlockQ5_1) <= 2 && alignof(BlockIQ4_NL) <= 2 &&
                  alignof(BlockQ5_K) <= 2,
              "blocks are read from unaligned mmap offsets");

namespace {

constexpr std::array<DTypeInfo, 12> kTypes = {{
    {DType::F32, "f32", 1, 4},
    {DType::F16, "f16", 1, 2},
    {DType::Q4_0, "q4_0", kQK, sizeof(BlockQ4_0)},
    {DType::Q5_0, "q5_0", kQK, sizeof(BlockQ5_0)},
    {DType::Q5_1, "q5_1", kQK, sizeof(BlockQ5_1)},
    {DType::Q8_0, "q8_0", kQK, sizeof(BlockQ8_0)},
    {DType::Q4_K, "q4_K", kQK_K, sizeof(BlockQ4_K)},
    {DType::Q5_K, "q5_K", kQK_K, sizeof(BlockQ5_K)},
    {DType::Q6_K, "q6_K", kQK_K, sizeof(BlockQ6_K)},
    {DType::Q8_K, "q8_K", kQK_K, sizeof(BlockQ8_K)},
    {DType::IQ4_NL, "iq4_nl", kQK, sizeof(BlockIQ4_NL)},
    {DType::BF16, "bf16", 1, 2},
}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

}  // namespace

std::optional<DTypeInfo> dtype_info(uint32_t ggml_type_id) {
  for (const auto& info : kTypes) {
    if (static_cast<uint32_t>(info.type) == ggml_type_id) return info;
  }
  return std::nullopt;
}

DTypeInfo dtype_info(DType t) {
  if (auto info = dtype_info(static_cast<uint32_t>(t))) return *info;
  // Only reachable through a cast of an unsupported id to DType: a programming error.
  throw std::invalid_argument("dtype_info: unsupported dtype id " + std::to_string(static_cast<uint32_t>(t)));
}

std::string_view dtype_name(DType t) { return dtype_info(t).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& info : kTypes) {
    if (iequals(info.name, name)) return info.type;
  }
  return std::nullopt;
}

uint64_t row_bytes(DType t, uint64_t n) {
  const DTypeInfo info = dtype_info(t);
  return n / info.block_elems * info.block_bytes;
}

}  // namespace baton
