// NEON kernels for Q5_0, Q5_1, IQ4_NL (Q8_0 activations) and Q5_K (Q8_K activations) that
// give the scalar reference's bits (kernels_scalar.cpp) for every (row, token), as
// kernels_exact_avx2.cpp does on x86: each block's integer sums are exact in whatever order
// the dot products add them, and the float steps then run with one (row, token) pair per
// lane, in the reference's order and unfused. A tile is at most 4 rows x 2 tokens, so
// token t's four rows are the four lanes of one float32x4_t.
//
// Included by kernels_neon_impl.h only, so it is compiled twice like the rest of the NEON
// table: for base ARMv8-A and with +dotprod (where dot4_i8 is one SDOT). The unfused float
// steps rely on aarch64 builds having no implicit contraction (-ffp-contract=off in the
// top-level CMakeLists.txt); Matmul.RowsAcrossLanesEqualScalarBitForBit would see a fused one.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "tensor/kernels_dispatch.h"
#include "tensor/simd_neon.h"

namespace baton::detail {
namespace {

constexpr int kExactTileRows = 4;

// Lane r of the result = the sum of the four lanes of v[r]. Integer adds: exact.
inline int32x4_t sum_each(const int32x4_t v[kExactTileRows]) {
  return vpaddq_s32(vpaddq_s32(v[0], v[1]), vpaddq_s32(v[2], v[3]));
}

// Lane r (< NR) of the result: the f16 at w + r * stride + offset, as float; 0 beyond NR.
template <int NR>
inline float32x4_t row_halves(const char* w, size_t stride, size_t offset) {
  uint16_t h[kExactTileRows] = {};
  for (int r = 0; r < NR; ++r) h[r] = static_cast<uint16_t>(load_u16(w + r * stride + offset));
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

inline void store_rows(float32x4_t v, int nrows, float* out) {
  float lanes[kExactTileRows];
  vst1q_f32(lanes, v);
  for (int r = 0; r < nrows; ++r) out[r] = lanes[r];
}

// Bit 4 of each of a Q5_0/Q5_1 block's 32 codes, in value order: 0x10 in byte j of
// `first` (j < 16) or `second` (j >= 16) where bit j of the little-endian word qh is set.
inline void q5_high_bits(const uint8_t* qh, uint8x16_t& first, uint8x16_t& second) {
  uint32_t word;
  std::memcpy(&word, qh, sizeof word);
  // Byte j takes byte j/8 of the word, then tests its bit j%8.
  static constexpr uint8_t kSpread[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
  const uint8x16_t bytes = vreinterpretq_u8_u32(vdupq_n_u32(word));
  const uint8x16_t select = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
  const uint8x16_t bit4 = vdupq_n_u8(0x10);
  first = vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(kSpread)), select), bit4);
  second = vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(kSpread + 16)), select), bit4);
}

enum class Block32 { Q5_0, Q5_1, IQ4_NL };

template <Block32 K>
using Block32Of =
    std::conditional_t<K == Block32::Q5_0, BlockQ5_0, std::conditional_t<K == Block32::Q5_1, BlockQ5_1, BlockIQ4_NL>>;

// Q5_0 / Q5_1 / IQ4_NL weights against Q8_0 activations, NR rows x NT tokens.
template <int NR, int NT, Block32 K>
void dot_block32_exact_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                            size_t out_stride) {
  using Block = Block32Of<K>;
  const int64_t nb = n / kQK;
  const BlockQ8_0* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_0*>(act + t * act_stride);
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  const int8x16_t sixteen = vdupq_n_s8(16);
  const int8x16_t levels = vld1q_s8(kIQ4NLValues);
  const size_t ahead = kPrefetchTiles * NR * stride;
  float32x4_t acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = vdupq_n_f32(0.0f);
  for (int64_t i = 0; i < nb; ++i) {
    int8x16_t y_lo[NT], y_hi[NT];
    float dy[NT];
    int32_t sum_y[NT];  // Q5_1 only: the sum of the activation codes
    for (int t = 0; t < NT; ++t) {
      y_lo[t] = vld1q_s8(a[t][i].qs);
      y_hi[t] = vld1q_s8(a[t][i].qs + 16);
      dy[t] = half_to_float(a[t][i].d);
      if constexpr (K == Block32::Q5_1) sum_y[t] = vaddlvq_s8(y_lo[t]) + vaddlvq_s8(y_hi[t]);
    }
    int32x4_t sums[NT][kExactTileRows];  // rows past NR stay 0
    for (int t = 0; t < NT; ++t)
      for (int r = 0; r < kExactTileRows; ++r) sums[t][r] = vdupq_n_s32(0);
    for (int r = 0; r < NR; ++r) {
      prefetch_l2(w, ahead + r * stride + i * sizeof(Block));
      const Block& b = reinterpret_cast<const Block*>(w + r * stride)[i];
      // Low nibbles are values 0-15, high nibbles 16-31.
      const uint8x16_t bytes = vld1q_u8(b.qs);
      int8x16_t q_lo, q_hi;
      if constexpr (K == Block32::IQ4_NL) {
        q_lo = vqtbl1q_s8(levels, vandq_u8(bytes, low4));
        q_hi = vqtbl1q_s8(levels, vshrq_n_u8(bytes, 4));
      } else {
        uint8x16_t high_lo, high_hi;
        q5_high_bits(b.qh, high_lo, high_hi);
        q_lo = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(bytes, low4), high_lo));  // codes 0..31
        q_hi = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(bytes, 4), high_hi));
        if constexpr (K == Block32::Q5_0) {
          q_lo = vsubq_s8(q_lo, sixteen);  // values -16..15
          q_hi = vsubq_s8(q_hi, sixteen);
        }
      }
      for (int t = 0; t < NT; ++t) sums[t][r] = dot4_i8(dot4_i8(sums[t][r], q_lo, y_lo[t]), q_hi, y_hi[t]);
    }
    // The reference: sum += sumi * (dx * dy)  [Q5_1: + sumy * (m * dy)], lane r = row r.
    const float32x4_t dx = row_halves<NR>(w, stride, i * sizeof(Block));
    float32x4_t m = vdupq_n_f32(0.0f);
    if constexpr (K == Block32::Q5_1) m = row_halves<NR>(w, stride, i * sizeof(Block) + offsetof(BlockQ5_1, m));
    for (int t = 0; t < NT; ++t) {
      const float32x4_t sumi = vcvtq_f32_s32(sum_each(sums[t]));
      const float32x4_t dyv = vdupq_n_f32(dy[t]);
      float32x4_t term = vmulq_f32(sumi, vmulq_f32(dx, dyv));
      if constexpr (K == Block32::Q5_1) {
        term = vaddq_f32(term, vmulq_f32(vdupq_n_f32(static_cast<float>(sum_y[t])), vmulq_f32(m, dyv)));
      }
      acc[t] = vaddq_f32(acc[t], term);
    }
  }
  for (int t = 0; t < NT; ++t) store_rows(acc[t], NR, out + t * out_stride);
}

// Q5_K weights against Q8_K activations, NR rows x NT tokens: Q4_K's layout with bit 4 of
// each code in qh (bits 2j and 2j+1 of byte l: value l of the j-th 64's two halves).
template <int NR, int NT>
void dot_q5_K_exact_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                         size_t out_stride) {
  const int64_t nb = n / kQK_K;
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  const uint8x16_t bit4 = vdupq_n_u8(0x10);
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
  float32x4_t acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = vdupq_n_f32(0.0f);
  for (int64_t i = 0; i < nb; ++i) {
    // Sums of each activation over the 32-value sub-blocks, for the "- dmin * m" term.
    int16x8_t sub_sums[NT];
    for (int t = 0; t < NT; ++t) sub_sums[t] = vpaddq_s16(vld1q_s16(a[t][i].bsums), vld1q_s16(a[t][i].bsums + 8));
    int32x4_t scaled[NT][kExactTileRows];       // sum_j sc_j * (q . y)_j, in four lanes
    int32_t mins[NT][kExactTileRows] = {};      // sum_j m_j * (sum y)_j
    for (int t = 0; t < NT; ++t)
      for (int r = 0; r < kExactTileRows; ++r) scaled[t][r] = vdupq_n_s32(0);
    for (int r = 0; r < NR; ++r) {
      prefetch_l2_range<sizeof(BlockQ5_K)>(w, kPrefetchTiles * NR * stride + r * stride + i * sizeof(BlockQ5_K));
      const BlockQ5_K& b = reinterpret_cast<const BlockQ5_K*>(w + r * stride)[i];
      uint32_t utmp[4];
      q4k_unpack_scales(b.scales, utmp);
      uint8_t scales[8], min_bytes[8];
      std::memcpy(scales, utmp, 8);
      std::memcpy(min_bytes, utmp + 2, 8);
      const int16x8_t min16 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(min_bytes)));
      for (int t = 0; t < NT; ++t) {
        mins[t][r] = vaddvq_s32(vmlal_high_s16(vmull_s16(vget_low_s16(min16), vget_low_s16(sub_sums[t])), min16, sub_sums[t]));
      }
      uint8x16_t high0 = vld1q_u8(b.qh), high1 = vld1q_u8(b.qh + 16);
      for (int j = 0; j < 4; ++j) {
        const uint8x16_t bits0 = vld1q_u8(b.qs + 32 * j);
        const uint8x16_t bits1 = vld1q_u8(b.qs + 32 * j + 16);
        // Codes 0..31: low nibble | bit 2j of qh (first 32 values), high nibble | bit 2j+1.
        const int8x16_t lo0 = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(bits0, low4), vandq_u8(vshlq_n_u8(high0, 4), bit4)));
        const int8x16_t lo1 = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(bits1, low4), vandq_u8(vshlq_n_u8(high1, 4), bit4)));
        const int8x16_t hi0 = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(bits0, 4), vandq_u8(vshlq_n_u8(high0, 3), bit4)));
        const int8x16_t hi1 = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(bits1, 4), vandq_u8(vshlq_n_u8(high1, 3), bit4)));
        high0 = vshrq_n_u8(high0, 2);
        high1 = vshrq_n_u8(high1, 2);
        const int32_t sc_lo = scales[2 * j], sc_hi = scales[2 * j + 1];
        for (int t = 0; t < NT; ++t) {
          const int8_t* y = a[t][i].qs + 64 * j;
          const int32x4_t p_lo = dot4_i8(dot4_i8(vdupq_n_s32(0), lo0, vld1q_s8(y)), lo1, vld1q_s8(y + 16));
          const int32x4_t p_hi = dot4_i8(dot4_i8(vdupq_n_s32(0), hi0, vld1q_s8(y + 32)), hi1, vld1q_s8(y + 48));
          scaled[t][r] = vmlaq_n_s32(vmlaq_n_s32(scaled[t][r], p_lo, sc_lo), p_hi, sc_hi);
        }
      }
    }
    // The reference: sum += ad * (d * scaled - dmin * mins), lane r = row r.
    const float32x4_t d = row_halves<NR>(w, stride, i * sizeof(BlockQ5_K));
    const float32x4_t dmin = row_halves<NR>(w, stride, i * sizeof(BlockQ5_K) + offsetof(BlockQ5_K, dmin));
    for (int t = 0; t < NT; ++t) {
      const float32x4_t scaled_f = vcvtq_f32_s32(sum_each(scaled[t]));
      const float32x4_t mins_f = vcvtq_f32_s32(vld1q_s32(mins[t]));
      const float32x4_t part = vsubq_f32(vmulq_f32(d, scaled_f), vmulq_f32(dmin, mins_f));
      acc[t] = vaddq_f32(acc[t], vmulq_f32(vdupq_n_f32(a[t][i].d), part));
    }
  }
  for (int t = 0; t < NT; ++t) store_rows(acc[t], NR, out + t * out_stride);
}

void dot_q5_0(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_block32_exact_tile<NR, NT, Block32::Q5_0>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act),
                                                  act_stride, out, out_stride);
  });
}

void dot_q5_1(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_block32_exact_tile<NR, NT, Block32::Q5_1>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act),
                                                  act_stride, out, out_stride);
  });
}

void dot_iq4_nl(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                float* out, size_t out_stride) {
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_block32_exact_tile<NR, NT, Block32::IQ4_NL>(n, static_cast<const char*>(w), stride,
                                                    static_cast<const char*>(act), act_stride, out, out_stride);
  });
}

void dot_q5_K(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_q5_K_exact_tile<NR, NT>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act), act_stride, out,
                                out_stride);
  });
}

}  // namespace
}  // namespace baton::detail
