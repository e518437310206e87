// The NEON kernel table, included by exactly two files: kernels_neon.cpp (base ARMv8-A)
// and kernels_neon_dotprod.cpp (compiled with +dotprod, where dot4_i8 becomes SDOT).
// Each is a port of kernels_avx2.cpp that keeps its tiles, lane layout and order of
// floating-point operations, so all three SIMD tables agree bit for bit (scalar tails
// use std::fma where the AVX2 file's compiler contracts a*b+c into one).
#pragma once

#include <cmath>
#include <cstring>
#include <utility>

#include "tensor/kernels_dispatch.h"
#include "tensor/kernels_exact_neon_impl.h"  // dot_q5_0, dot_q5_1, dot_iq4_nl, dot_q5_K
#include "tensor/simd_neon.h"

namespace baton::detail {
namespace {

template <int NR, int NT, size_t ElemBytes, typename Load8, typename Load1>
void dot_float_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                    size_t out_stride, Load8 load8, Load1 load1) {
  const size_t ahead = kPrefetchTiles * NR * stride;
  const float* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = reinterpret_cast<const float*>(act + t * act_stride);
  F8 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = f8_zero();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    F8 xv[NT];
    for (int t = 0; t < NT; ++t) xv[t] = f8_load(x[t] + i);
    for (int r = 0; r < NR; ++r) {
      if (((i * ElemBytes) & 63) == 0) prefetch_l2(w, ahead + r * stride + i * ElemBytes);
      const F8 wv = load8(w + r * stride, i);
      for (int t = 0; t < NT; ++t) acc[r][t] = f8_fma(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      float tail = 0.0f;
      for (int64_t j = i; j < n; ++j) tail = std::fma(load1(w + r * stride, j), x[t][j], tail);
      out[t * out_stride + r] = hsum(acc[r][t]) + tail;
    }
  }
}

void dot_f32(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
             float* out, size_t out_stride) {
  auto load8 = [](const char* row, int64_t i) { return f8_load(reinterpret_cast<const float*>(row) + i); };
  auto load1 = [](const char* row, int64_t i) { return reinterpret_cast<const float*>(row)[i]; };
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_float_tile<NR, NT, 4>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act), act_stride, out,
                              out_stride, load8, load1);
  });
}

void dot_f16(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
             float* out, size_t out_stride) {
  auto load8 = [](const char* row, int64_t i) { return load_f16x8(reinterpret_cast<const uint16_t*>(row) + i); };
  auto load1 = [](const char* row, int64_t i) { return half_to_float(reinterpret_cast<const uint16_t*>(row)[i]); };
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_float_tile<NR, NT, 2>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act), act_stride, out,
                              out_stride, load8, load1);
  });
}

void dot_bf16(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  auto load8 = [](const char* row, int64_t i) { return load_bf16x8(reinterpret_cast<const uint16_t*>(row) + i); };
  auto load1 = [](const char* row, int64_t i) { return bf16_to_float(reinterpret_cast<const uint16_t*>(row)[i]); };
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_float_tile<NR, NT, 2>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act), act_stride, out,
                              out_stride, load8, load1);
  });
}

// Q8_0 and Q4_0 weights against Q8_0 activations: 8 int32 lanes per block (lane k sums
// bytes 4k..4k+3), converted to float and accumulated with one fused multiply-add by
// dx*dy per block, as the AVX2 kernel does.
template <int NR, int NT, bool kQ4>
void dot_q8_0_like_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                        size_t out_stride) {
  const int64_t nb = n / kQK;
  const BlockQ8_0* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_0*>(act + t * act_stride);
  F8 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = f8_zero();
  constexpr size_t kBlockBytes = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  const size_t ahead = kPrefetchTiles * NR * stride;
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  const int8x16_t eight = vdupq_n_s8(8);
  for (int64_t i = 0; i < nb; ++i) {
    float dy[NT];
    for (int t = 0; t < NT; ++t) dy[t] = half_to_float(a[t][i].d);
    for (int r = 0; r < NR; ++r) {
      prefetch_l2(w, ahead + r * stride + i * kBlockBytes);
      int8x16_t q_lo, q_hi;
      if constexpr (kQ4) {
        // Codes are stored +8: low nibbles are values 0-15, high nibbles 16-31.
        const BlockQ4_0& b = reinterpret_cast<const BlockQ4_0*>(w + r * stride)[i];
        const uint8x16_t bytes = vld1q_u8(b.qs);
        q_lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(bytes, low4)), eight);
        q_hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4)), eight);
      } else {
        const BlockQ8_0& b = reinterpret_cast<const BlockQ8_0*>(w + r * stride)[i];
        q_lo = vld1q_s8(b.qs);
        q_hi = vld1q_s8(b.qs + 16);
      }
      const float dx = half_to_float(static_cast<uint16_t>(load_u16(w + r * stride + i * kBlockBytes)));
      for (int t = 0; t < NT; ++t) {
        const F8 prod = i8_to_f8(dot32_i8(q_lo, q_hi, a[t][i].qs));
        acc[r][t] = f8_fma(f8_set1(dx * dy[t]), prod, acc[r][t]);
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) out[t * out_stride + r] = hsum(acc[r][t]);
}

void dot_q8_0(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_q8_0_like_tile<NR, NT, false>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act), act_stride,
                                      out, out_stride);
  });
}

void dot_q4_0(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_q8_0_like_tile<NR, NT, true>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act), act_stride,
                                     out, out_stride);
  });
}

template <int NR, int NT>
void dot_q4_K_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                   size_t out_stride) {
  const int64_t nb = n / kQK_K;
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
  F8 acc[NR][NT];
  float acc_min[NR][NT];
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      acc[r][t] = f8_zero();
      acc_min[r][t] = 0.0f;
    }
  }
  for (int64_t i = 0; i < nb; ++i) {
    // Sums of each activation over the 32-value sub-blocks, for the "- dmin * m" term.
    int16x8_t sub_sums[NT];
    for (int t = 0; t < NT; ++t) {
      sub_sums[t] = vpaddq_s16(vld1q_s16(a[t][i].bsums), vld1q_s16(a[t][i].bsums + 8));
    }
    for (int r = 0; r < NR; ++r) {
      prefetch_l2_range<sizeof(BlockQ4_K)>(w, kPrefetchTiles * NR * stride + r * stride + i * sizeof(BlockQ4_K));
      const BlockQ4_K& b = reinterpret_cast<const BlockQ4_K*>(w + r * stride)[i];
      uint32_t utmp[4];
      q4k_unpack_scales(b.scales, utmp);
      uint8_t scales[8], mins_bytes[8];
      std::memcpy(scales, utmp, 8);
      std::memcpy(mins_bytes, utmp + 2, 8);
      const int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mins_bytes)));
      const float d = half_to_float(b.d);
      const float dmin = half_to_float(b.dmin);
      I8 sumi[NT];
      for (int t = 0; t < NT; ++t) {
        const int32x4_t min_prod =
            vmlal_high_s16(vmull_s16(vget_low_s16(mins), vget_low_s16(sub_sums[t])), mins, sub_sums[t]);
        const float s = static_cast<float>(vaddvq_s32(min_prod));
        acc_min[r][t] = std::fma(a[t][i].d * dmin, s, acc_min[r][t]);
        sumi[t] = i8_zero();
      }
      for (int j = 0; j < 4; ++j) {
        const uint8x16_t bits0 = vld1q_u8(b.qs + 32 * j);
        const uint8x16_t bits1 = vld1q_u8(b.qs + 32 * j + 16);
        const int8x16_t lo0 = vreinterpretq_s8_u8(vandq_u8(bits0, low4));
        const int8x16_t lo1 = vreinterpretq_s8_u8(vandq_u8(bits1, low4));
        const int8x16_t hi0 = vreinterpretq_s8_u8(vshrq_n_u8(bits0, 4));
        const int8x16_t hi1 = vreinterpretq_s8_u8(vshrq_n_u8(bits1, 4));
        const int32_t sc_lo = scales[2 * j], sc_hi = scales[2 * j + 1];
        for (int t = 0; t < NT; ++t) {
          const I8 p_lo = dot32_i8(lo0, lo1, a[t][i].qs + 64 * j);
          const I8 p_hi = dot32_i8(hi0, hi1, a[t][i].qs + 64 * j + 32);
          sumi[t].lo = vmlaq_n_s32(vmlaq_n_s32(sumi[t].lo, p_lo.lo, sc_lo), p_hi.lo, sc_hi);
          sumi[t].hi = vmlaq_n_s32(vmlaq_n_s32(sumi[t].hi, p_lo.hi, sc_lo), p_hi.hi, sc_hi);
        }
      }
      for (int t = 0; t < NT; ++t) acc[r][t] = f8_fma(f8_set1(a[t][i].d * d), i8_to_f8(sumi[t]), acc[r][t]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) out[t * out_stride + r] = hsum(acc[r][t]) - acc_min[r][t];
}

void dot_q4_K(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_q4_K_tile<NR, NT>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act), act_stride, out,
                          out_stride);
  });
}

template <int NR, int NT>
void dot_q6_K_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                   size_t out_stride) {
  const int64_t nb = n / kQK_K;
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  const uint8x16_t low2 = vdupq_n_u8(0x03);
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
  F8 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = f8_zero();
  for (int64_t i = 0; i < nb; ++i) {
    for (int r = 0; r < NR; ++r) {
      prefetch_l2_range<sizeof(BlockQ6_K)>(w, kPrefetchTiles * NR * stride + r * stride + i * sizeof(BlockQ6_K));
      const BlockQ6_K& b = reinterpret_cast<const BlockQ6_K*>(w + r * stride)[i];
      // Codes are stored +32: sum sc*(q-32)*y = sum sc*q*y - 32 * sum_s sc_s * bsum_s.
      // Lane k starts at -32 * (sc[2k] * bsum[2k] + sc[2k+1] * bsum[2k+1]), as AVX2's madd.
      const int16x8x2_t sc16 = {{vmovl_s8(vld1_s8(b.scales)), vmovl_s8(vld1_s8(b.scales + 8))}};
      I8 sumi[NT];
      for (int t = 0; t < NT; ++t) {
        const int16x8_t bs0 = vld1q_s16(a[t][i].bsums), bs1 = vld1q_s16(a[t][i].bsums + 8);
        const int32x4_t m0 =
            vpaddq_s32(vmull_s16(vget_low_s16(sc16.val[0]), vget_low_s16(bs0)), vmull_high_s16(sc16.val[0], bs0));
        const int32x4_t m1 =
            vpaddq_s32(vmull_s16(vget_low_s16(sc16.val[1]), vget_low_s16(bs1)), vmull_high_s16(sc16.val[1], bs1));
        sumi[t] = {vnegq_s32(vshlq_n_s32(m0, 5)), vnegq_s32(vshlq_n_s32(m1, 5))};
      }
      for (int half = 0; half < 2; ++half) {
        const uint8_t* ql = b.ql + 64 * half;
        const uint8_t* qh = b.qh + 32 * half;
        for (int part = 0; part < 2; ++part) {  // 16 bytes of each 32-byte group at a time
          const uint8x16_t high = vld1q_u8(qh + 16 * part);
          const uint8x16_t bits1 = vld1q_u8(ql + 16 * part);
          const uint8x16_t bits2 = vld1q_u8(ql + 32 + 16 * part);
          int8x16_t q[4];
          q[0] = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(bits1, low4), vshlq_n_u8(vandq_u8(high, low2), 4)));
          q[1] = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(bits2, low4), vshlq_n_u8(vandq_u8(vshrq_n_u8(high, 2), low2), 4)));
          q[2] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(bits1, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(high, 4), low2), 4)));
          q[3] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(bits2, 4), vshlq_n_u8(vshrq_n_u8(high, 6), 4)));
          for (int k = 0; k < 4; ++k) {
            const int g = 4 * half + k;
            // Bytes 0-15 of group g use scale 2g, bytes 16-31 scale 2g+1.
            const int32_t sc = b.scales[2 * g + part];
            for (int t = 0; t < NT; ++t) {
              const int32x4_t dot = dot4_i8(vdupq_n_s32(0), q[k], vld1q_s8(a[t][i].qs + 32 * g + 16 * part));
              if (part == 0) {
                sumi[t].lo = vmlaq_n_s32(sumi[t].lo, dot, sc);
              } else {
                sumi[t].hi = vmlaq_n_s32(sumi[t].hi, dot, sc);
              }
            }
          }
        }
      }
      const float d = half_to_float(b.d);
      for (int t = 0; t < NT; ++t) acc[r][t] = f8_fma(f8_set1(a[t][i].d * d), i8_to_f8(sumi[t]), acc[r][t]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) out[t * out_stride + r] = hsum(acc[r][t]);
}

void dot_q6_K(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_q6_K_tile<NR, NT>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act), act_stride, out,
                          out_stride);
  });
}

// max |x| over n floats (n a multiple of 8). maxNum, like std::fmax in the reference.
inline float max_abs(const float* x, int n) {
  float32x4_t m = vdupq_n_f32(0.0f);
  for (int j = 0; j < n; j += 4) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + j)));
  return vmaxnmvq_f32(m);
}

// Rounds x*scale to nearest-even int8 for 32 values (|x*scale| <= 127 by construction);
// saturating narrowing, as AVX2's packs.
inline void round_to_i8x32(const float* x, float scale, int8_t* q) {
  const float32x4_t s = vdupq_n_f32(scale);
  for (int k = 0; k < 32; k += 16) {
    int32x4_t v[4];
    for (int j = 0; j < 4; ++j) v[j] = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + k + 4 * j), s));
    const int16x8_t p01 = vcombine_s16(vqmovn_s32(v[0]), vqmovn_s32(v[1]));
    const int16x8_t p23 = vcombine_s16(vqmovn_s32(v[2]), vqmovn_s32(v[3]));
    vst1q_s8(q + k, vcombine_s8(vqmovn_s16(p01), vqmovn_s16(p23)));
  }
}

// Same codes as quantize_row_q8_0_ref: d = amax/127, q = round_even(x * (1/d)).
void quantize_q8_0(const float* x, void* y, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(y);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = max_abs(x, kQK) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = float_to_half(d);
    round_to_i8x32(x, id, blocks[i].qs);
  }
}

// Same codes as quantize_row_q8_K_ref.
void quantize_q8_K(const float* x, void* y, int64_t n) {
  auto* blocks = static_cast<BlockQ8_K*>(y);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    BlockQ8_K& b = blocks[i];
    const float amax = max_abs(x, kQK_K);
    if (!(amax > 0.0f)) {
      std::memset(&b, 0, sizeof b);
      continue;
    }
    const float iscale = 127.0f / amax;
    for (int k = 0; k < kQK_K; k += 32) round_to_i8x32(x + k, iscale, b.qs + k);
    for (int s = 0; s < kQK_K / 16; ++s) b.bsums[s] = static_cast<int16_t>(vaddlvq_s8(vld1q_s8(b.qs + 16 * s)));
    b.d = 1.0f / iscale;
  }
}

// q . row for NR Q8_0 rows (one head's slice each): int8 -> float, fused with the query.
template <int NR>
void kv_dot_q8_0_rows(const uint8_t* rows, size_t stride, const float* q, int64_t head_dim, float* out) {
  F8 acc[NR];
  for (int r = 0; r < NR; ++r) acc[r] = f8_zero();
  for (int64_t i = 0; i < head_dim / kQK; ++i) {
    F8 qv[4];
    for (int k = 0; k < 4; ++k) qv[k] = f8_load(q + i * kQK + 8 * k);
    for (int r = 0; r < NR; ++r) {
      const BlockQ8_0& b = reinterpret_cast<const BlockQ8_0*>(rows + r * stride)[i];
      F8 part = f8_zero();
      for (int k = 0; k < 4; ++k) {
        const int16x8_t wide = vmovl_s8(vld1_s8(b.qs + 8 * k));
        const F8 v = {vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide))), vcvtq_f32_s32(vmovl_high_s16(wide))};
        part = f8_fma(v, qv[k], part);
      }
      acc[r] = f8_fma(f8_set1(half_to_float(b.d)), part, acc[r]);
    }
  }
  for (int r = 0; r < NR; ++r) out[r] = hsum(acc[r]);
}

void kv_scores(DType t, const void* rows, size_t row_stride, int64_t n_pos, const float* q, int n_q, int64_t head_dim,
               float scale, float* scores, size_t score_stride) {
  const auto* base = static_cast<const uint8_t*>(rows);
  const size_t q_bytes = static_cast<size_t>(head_dim) * sizeof(float);
  // Four positions per step: their K rows stay in L1 while every query of the group uses them.
  for (int64_t p = 0; p < n_pos; p += 4) {
    const int nrows = static_cast<int>(n_pos - p < 4 ? n_pos - p : 4);
    const uint8_t* r0 = base + p * row_stride;
    for (int g = 0; g < n_q; g += (t == DType::Q8_0 ? 1 : 2)) {
      float* out = scores + g * score_stride + p;
      if (t == DType::Q8_0) {
        dispatch_tile(nrows, 1, [&]<int NR, int NT>() { kv_dot_q8_0_rows<NR>(r0, row_stride, q + g * head_dim, head_dim, out); });
      } else {
        const int nq = n_q - g < 2 ? 1 : 2;
        if (t == DType::F16) {
          dot_f16(head_dim, r0, row_stride, nrows, q + g * head_dim, q_bytes, nq, out, score_stride);
        } else {
          dot_f32(head_dim, r0, row_stride, nrows, q + g * head_dim, q_bytes, nq, out, score_stride);
        }
      }
    }
  }
  const float32x4_t vs = vdupq_n_f32(scale);
  for (int g = 0; g < n_q; ++g) {
    float* s = scores + g * score_stride;
    int64_t p = 0;
    for (; p + 4 <= n_pos; p += 4) vst1q_f32(s + p, vmulq_f32(vld1q_f32(s + p), vs));
    for (; p < n_pos; ++p) s[p] *= scale;
  }
}

// out_g[d0 .. d0+8*NV) = sum_p w_g[p] * v_p[d0 ..] for NQ queries: each V chunk is loaded
// once per position and used by every query; the NQ*NV accumulators stay in registers.
template <int NQ, int NV, typename Load8>
void mix_columns(const uint8_t* base, size_t stride, int64_t n_pos, const float* w, size_t w_stride, int64_t head_dim,
                 int64_t d0, float* out, Load8 load8) {
  F8 acc[NQ][NV];
  for (int g = 0; g < NQ; ++g)
    for (int k = 0; k < NV; ++k) acc[g][k] = f8_zero();
  for (int64_t p = 0; p < n_pos; ++p) {
    const uint8_t* row = base + p * stride;
    F8 v[NV];
    for (int k = 0; k < NV; ++k) v[k] = load8(row, d0 + 8 * k);
    for (int g = 0; g < NQ; ++g) {
      const F8 wp = f8_set1(w[g * w_stride + p]);
      for (int k = 0; k < NV; ++k) acc[g][k] = f8_fma(wp, v[k], acc[g][k]);
    }
  }
  for (int g = 0; g < NQ; ++g)
    for (int k = 0; k < NV; ++k) f8_store(out + g * head_dim + d0 + 8 * k, acc[g][k]);
}

template <int NQ, typename Load8, typename Load1>
void mix_float_rows(const uint8_t* base, size_t stride, int64_t n_pos, const float* w, size_t w_stride, int64_t head_dim,
                    float* out, Load8 load8, Load1 load1) {
  int64_t d = 0;
  for (; d + 32 <= head_dim; d += 32) mix_columns<NQ, 4>(base, stride, n_pos, w, w_stride, head_dim, d, out, load8);
  for (; d + 8 <= head_dim; d += 8) mix_columns<NQ, 1>(base, stride, n_pos, w, w_stride, head_dim, d, out, load8);
  for (; d < head_dim; ++d) {
    for (int g = 0; g < NQ; ++g) {
      float s = 0.0f;
      for (int64_t p = 0; p < n_pos; ++p) s = std::fma(w[g * w_stride + p], load1(base + p * stride, d), s);
      out[g * head_dim + d] = s;
    }
  }
}

// One 32-value Q8_0 block of every position per pass; its scale folds into the weights.
template <int NQ>
void mix_q8_0_rows(const uint8_t* base, size_t stride, int64_t n_pos, const float* w, size_t w_stride, int64_t head_dim,
                   float* out) {
  for (int64_t i = 0; i < head_dim / kQK; ++i) {
    F8 acc[NQ][4];
    for (int g = 0; g < NQ; ++g)
      for (int k = 0; k < 4; ++k) acc[g][k] = f8_zero();
    for (int64_t p = 0; p < n_pos; ++p) {
      const BlockQ8_0& b = reinterpret_cast<const BlockQ8_0*>(base + p * stride)[i];
      const float d = half_to_float(b.d);
      F8 v[4];
      for (int k = 0; k < 4; ++k) {
        const int16x8_t wide = vmovl_s8(vld1_s8(b.qs + 8 * k));
        v[k] = {vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide))), vcvtq_f32_s32(vmovl_high_s16(wide))};
      }
      for (int g = 0; g < NQ; ++g) {
        const F8 wd = f8_set1(w[g * w_stride + p] * d);
        for (int k = 0; k < 4; ++k) acc[g][k] = f8_fma(wd, v[k], acc[g][k]);
      }
    }
    for (int g = 0; g < NQ; ++g)
      for (int k = 0; k < 4; ++k) f8_store(out + g * head_dim + i * kQK + 8 * k, acc[g][k]);
  }
}

void kv_mix(DType t, const void* rows, size_t row_stride, int64_t n_pos, const float* w, size_t w_stride, int n_q,
            int64_t head_dim, float* out) {
  const auto* base = static_cast<const uint8_t*>(rows);
  auto load_f16 = [](const uint8_t* row, int64_t i) { return load_f16x8(reinterpret_cast<const uint16_t*>(row) + i); };
  auto load_f16_1 = [](const uint8_t* row, int64_t i) { return half_to_float(reinterpret_cast<const uint16_t*>(row)[i]); };
  auto load_f32 = [](const uint8_t* row, int64_t i) { return f8_load(reinterpret_cast<const float*>(row) + i); };
  auto load_f32_1 = [](const uint8_t* row, int64_t i) { return reinterpret_cast<const float*>(row)[i]; };
  // Queries in groups of up to 3, as on AVX2 (the results do not depend on the grouping).
  for (int g = 0; g < n_q; g += 3) {
    const int nq = n_q - g < 3 ? n_q - g : 3;
    const float* wg = w + g * w_stride;
    float* og = out + g * head_dim;
    auto run = [&]<int NQ>() {
      if (t == DType::Q8_0) {
        mix_q8_0_rows<NQ>(base, row_stride, n_pos, wg, w_stride, head_dim, og);
      } else if (t == DType::F16) {
        mix_float_rows<NQ>(base, row_stride, n_pos, wg, w_stride, head_dim, og, load_f16, load_f16_1);
      } else {
        mix_float_rows<NQ>(base, row_stride, n_pos, wg, w_stride, head_dim, og, load_f32, load_f32_1);
      }
    };
    if (nq == 3) {
      run.template operator()<3>();
    } else if (nq == 2) {
      run.template operator()<2>();
    } else {
      run.template operator()<1>();
    }
  }
}

// Loads up to 8 floats, filling the missing lanes with `fill`.
inline F8 load_partial(const float* x, int64_t count, float fill) {
  float buf[8];
  for (int k = 0; k < 8; ++k) buf[k] = k < count ? x[k] : fill;
  return f8_load(buf);
}

inline void store_partial(float* x, int64_t count, F8 v) {
  float buf[8];
  f8_store(buf, v);
  for (int k = 0; k < count; ++k) x[k] = buf[k];
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  const float neg_inf = -__builtin_inff();
  F8 vmax = f8_set1(neg_inf);
  int64_t i = 0;
  auto fmax8 = [](F8 a, F8 b) { return F8{vmaxq_f32(a.lo, b.lo), vmaxq_f32(a.hi, b.hi)}; };
  for (; i + 8 <= n; i += 8) vmax = fmax8(vmax, f8_load(x + i));
  if (i < n) vmax = fmax8(vmax, load_partial(x + i, n - i, neg_inf));
  const F8 max = f8_set1(vmaxvq_f32(vmaxq_f32(vmax.lo, vmax.hi)));

  F8 sum = f8_zero();
  for (i = 0; i + 8 <= n; i += 8) {
    const F8 e = exp8(f8_sub(f8_load(x + i), max));
    f8_store(x + i, e);
    sum = f8_add(sum, e);
  }
  if (i < n) {
    const F8 e = exp8(f8_sub(load_partial(x + i, n - i, neg_inf), max));
    store_partial(x + i, n - i, e);
    sum = f8_add(sum, e);
  }
  const F8 inv = f8_set1(1.0f / hsum(sum));
  for (i = 0; i + 8 <= n; i += 8) f8_store(x + i, f8_mul(f8_load(x + i), inv));
  if (i < n) store_partial(x + i, n - i, f8_mul(load_partial(x + i, n - i, 0.0f), inv));
}

inline F8 silu_mul8(F8 g, F8 u) {
  const F8 e = exp8(f8_sub(f8_zero(), g));
  const F8 denom = f8_add(f8_set1(1.0f), e);
  return f8_mul(F8{vdivq_f32(g.lo, denom.lo), vdivq_f32(g.hi, denom.hi)}, u);
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) f8_store(out + i, silu_mul8(f8_load(gate + i), f8_load(up + i)));
  if (i < n) store_partial(out + i, n - i, silu_mul8(load_partial(gate + i, n - i, 0.0f), load_partial(up + i, n - i, 0.0f)));
}

constexpr KernelTable kNeonTable = {
#if defined(__ARM_FEATURE_DOTPROD)
    "neon-dotprod",
#else
    "neon",
#endif
    dot_f32,       dot_f16,       dot_bf16,  dot_q8_0, dot_q4_0, dot_q4_K, dot_q6_K,
    quantize_q8_0, quantize_q8_K, kv_scores, kv_mix,   softmax,  silu_mul,
    4, 2, 0, 0,
    // kernels_exact_neon_impl.h: the scalar reference's bits, as on every table.
    dot_q5_0,      dot_q5_1,      dot_iq4_nl, dot_q5_K,
};

}  // namespace
}  // namespace baton::detail
