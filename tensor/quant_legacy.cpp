// Q8_0, Q4_0, Q5_0 and Q5_1: one f16 scale (and for Q5_1 an f16 offset) per block of 32
// (ggml's "legacy" quants).
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quant_common.h"

namespace baton::detail {

namespace {

// v = x/d is in [-8, 8]: +8.5 then truncation rounds half up into [0, 16]; 16 clamps to 15.
// Clamping in float first keeps NaN/inf input defined (fmax drops NaN).
inline int to_q4_code(float v) { return static_cast<int>(std::fmin(std::fmax(v + 8.5f, 0.0f), 15.0f)); }
// Same for Q5_0: v in [-16, 16] -> [0, 31].
inline int to_q5_code(float v) { return static_cast<int>(std::fmin(std::fmax(v + 16.5f, 0.0f), 31.0f)); }

// The value of largest magnitude, with its sign.
inline float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// Packs 32 five-bit codes: low nibbles as Q4_0 does, bit 4 of code j into bit j of qh.
void pack_q5(const int codes[kQK], uint8_t qs[kQK / 2], uint8_t qh_bytes[4]) {
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    qs[j] = static_cast<uint8_t>((codes[j] & 0xF) | ((codes[j + kQK / 2] & 0xF) << 4));
    qh |= static_cast<uint32_t>(codes[j] >> 4) << j;
    qh |= static_cast<uint32_t>(codes[j + kQK / 2] >> 4) << (j + kQK / 2);
  }
  for (int k = 0; k < 4; ++k) qh_bytes[k] = static_cast<uint8_t>(qh >> (8 * k));  // little-endian, as ggml stores it
}

void unpack_q5(const uint8_t qs[kQK / 2], const uint8_t qh_bytes[4], int codes[kQK]) {
  const uint32_t qh = qh_bytes[0] | (uint32_t{qh_bytes[1]} << 8) | (uint32_t{qh_bytes[2]} << 16) |
                      (uint32_t{qh_bytes[3]} << 24);
  for (int j = 0; j < kQK / 2; ++j) {
    codes[j] = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
    codes[j + kQK / 2] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + kQK / 2)) & 1) << 4);
  }
}

}  // namespace

void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n) {
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    // |x * id| <= 127 up to rounding, so no clamp is needed; ties to even like the SIMD path.
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = static_cast<int8_t>(clamp_int(nearest_int(x[j] * id), -127, 127));
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[i * kQK + j] = x[i].qs[j] * d;
  }
}

void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t n) {
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    // The value of largest magnitude maps to -8, the one code with no positive twin,
    // so the full [-8, 7] range is used on the side that needs it.
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = to_q4_code(x[j] * id);
      const int q1 = to_q4_code(x[j + kQK / 2] * id);
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[i * kQK + j] = ((x[i].qs[j] & 0x0F) - 8) * d;
      y[i * kQK + j + kQK / 2] = ((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void quantize_row_q5_0_ref(const float* x, BlockQ5_0* y, int64_t n) {
  const int64_t nb = n / kQK;
  int codes[kQK];
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    // As Q4_0: the largest magnitude maps to -16, the code with no positive twin.
    const float d = signed_absmax(x, kQK) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) codes[j] = to_q5_code(x[j] * id);
    pack_q5(codes, y[i].qs, y[i].qh);
  }
}

void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n) {
  const int64_t nb = n / kQK;
  int codes[kQK];
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    unpack_q5(x[i].qs, x[i].qh, codes);
    for (int j = 0; j < kQK; ++j) y[i * kQK + j] = (codes[j] - 16) * d;
  }
}

void quantize_row_q5_1_ref(const float* x, BlockQ5_1* y, int64_t n) {
  const int64_t nb = n / kQK;
  int codes[kQK];
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    // 32 equal steps from the block's minimum to its maximum; the minimum is the offset.
    float lo = x[0], hi = x[0];
    for (int j = 1; j < kQK; ++j) {
      lo = std::fmin(lo, x[j]);
      hi = std::fmax(hi, x[j]);
    }
    const float d = (hi - lo) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    y[i].m = f32_to_fp16(lo);
    // (x - lo) * id is in [0, 31] up to rounding: +0.5 then truncation rounds half up.
    for (int j = 0; j < kQK; ++j) {
      codes[j] = static_cast<int>(std::fmin(std::fmax((x[j] - lo) * id + 0.5f, 0.0f), 31.0f));
    }
    pack_q5(codes, y[i].qs, y[i].qh);
  }
}

void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n) {
  const int64_t nb = n / kQK;
  int codes[kQK];
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const float m = fp16_to_f32(x[i].m);
    unpack_q5(x[i].qs, x[i].qh, codes);
    for (int j = 0; j < kQK; ++j) y[i * kQK + j] = codes[j] * d + m;
  }
}

}  // namespace baton::detail
