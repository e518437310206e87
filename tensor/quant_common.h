// Internal helpers shared by the quantisers and the dot-product kernels: rounding and
// the packed 6-bit scale/min layout of Q4_K. Not part of the public tensor API.
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/dtype.h"

namespace baton::detail {

// Round to nearest, ties to even (ggml's nearest_int), for values well inside int range.
inline int nearest_int(float x) { return static_cast<int>(std::lrintf(x)); }

inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Q4_K packs 8 six-bit scales and 8 six-bit mins into 12 bytes (ggml's get_scale_min_k4):
// bytes 0-3: scales 0-3 in bits 0-5, bits 6-7 hold bits 4-5 of scales 4-7;
// bytes 4-7: mins 0-3 in bits 0-5, bits 6-7 hold bits 4-5 of mins 4-7;
// bytes 8-11: low nibble = bits 0-3 of scales 4-7, high nibble = bits 0-3 of mins 4-7.
inline void q4k_scale_min(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Inverse of q4k_scale_min for 8 scales and mins already in [0, 63].
inline void q4k_pack_scale_min(const uint8_t scale[8], const uint8_t min[8], uint8_t out[12]) {
  for (int j = 0; j < 12; ++j) out[j] = 0;
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      out[j] = scale[j];
      out[j + 4] = min[j];
    } else {
      out[j + 4] = static_cast<uint8_t>((scale[j] & 0xF) | ((min[j] & 0xF) << 4));
      out[j - 4] |= static_cast<uint8_t>((scale[j] >> 4) << 6);
      out[j] |= static_cast<uint8_t>((min[j] >> 4) << 6);
    }
  }
}

// Block quantisers/dequantisers for one row of n elements (n a multiple of the block).
void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q5_0_ref(const float* x, BlockQ5_0* y, int64_t n);
void quantize_row_q5_1_ref(const float* x, BlockQ5_1* y, int64_t n);
void quantize_row_iq4_nl_ref(const float* x, BlockIQ4_NL* y, int64_t n);
void quantize_row_q4_K_ref(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q5_K_ref(const float* x, BlockQ5_K* y, int64_t n);
void quantize_row_q6_K_ref(const float* x, BlockQ6_K* y, int64_t n);
void quantize_row_q8_K_ref(const float* x, BlockQ8_K* y, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n);
void dequantize_row_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t n);
void dequantize_row_q4_K(const BlockQ4_K* x, float* y, int64_t n);
void dequantize_row_q5_K(const BlockQ5_K* x, float* y, int64_t n);
void dequantize_row_q6_K(const BlockQ6_K* x, float* y, int64_t n);
void dequantize_row_q8_K(const BlockQ8_K* x, float* y, int64_t n);

}  // namespace baton::detail
