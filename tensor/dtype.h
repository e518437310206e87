// Element types, bit-compatible with GGUF/ggml: the enum values are ggml's type ids
// and the block sizes/byte sizes are ggml's block layouts, so GGUF tensor data can be
// used in place (mmap) without conversion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace baton {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,  // activation-side type for K-quant dot products (not stored in files we write)
  IQ4_NL = 20,
  BF16 = 30,
};

struct DTypeInfo {
  DType type;
  std::string_view name;   // ggml's spelling, e.g. "q4_K"
  uint32_t block_elems;    // elements per block (1 for plain floats)
  uint32_t block_bytes;    // bytes per block
};

// Information for a supported type; nullopt for ids we do not support (e.g. Q4_1).
std::optional<DTypeInfo> dtype_info(uint32_t ggml_type_id);
DTypeInfo dtype_info(DType t);
std::string_view dtype_name(DType t);
// Parses "f32", "F16", "q8_0", "Q4_K", ... (case-insensitive). nullopt if unknown.
std::optional<DType> parse_dtype(std::string_view name);

// Bytes for a row of n elements; n must be a multiple of the block size
// (check with row_fits_blocks first; callers validate shapes before calling).
inline bool row_fits_blocks(DType t, uint64_t n) { return n % dtype_info(t).block_elems == 0; }
uint64_t row_bytes(DType t, uint64_t n);

// ggml block layouts (static_asserted against ggml's sizes in dtype.cpp).
inline constexpr int kQK = 32;    // Q4_0 / Q5_0 / Q5_1 / Q8_0 / IQ4_NL block
inline constexpr int kQK_K = 256; // K-quant super-block

struct BlockQ8_0 { uint16_t d; int8_t qs[kQK]; };                // d is f16
struct BlockQ4_0 { uint16_t d; uint8_t qs[kQK / 2]; };           // low nibbles = first 16
// Q5_0/Q5_1: the low 4 bits as Q4_0 packs them; bit j of qh (little-endian) is bit 4 of value j.
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[kQK / 2]; };               // value = d * (q - 16)
struct BlockQ5_1 { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[kQK / 2]; };   // value = d * q + m
// IQ4_NL: nibbles packed as Q4_0's, each an index into kIQ4NLValues; value = d * kIQ4NLValues[q].
struct BlockIQ4_NL { uint16_t d; uint8_t qs[kQK / 2]; };
struct BlockQ4_K { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qs[kQK_K / 2]; };
// Q5_K: Q4_K plus a fifth bit per value: within each 64 values, bit 2k of qh[l] tops value
// l of the first 32 and bit 2k+1 value l of the second 32 (k = which 64, 0..3).
struct BlockQ5_K { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qh[kQK_K / 8]; uint8_t qs[kQK_K / 2]; };
struct BlockQ6_K { uint8_t ql[kQK_K / 2]; uint8_t qh[kQK_K / 4]; int8_t scales[kQK_K / 16]; uint16_t d; };
struct BlockQ8_K { float d; int8_t qs[kQK_K]; int16_t bsums[kQK_K / 16]; };

// IQ4_NL's 16 non-uniform levels (ggml's kvalues_iq4nl), denser near zero where weights are.
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

}  // namespace baton
