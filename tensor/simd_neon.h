// Internal NEON helpers for tensor/kernels_neon*.cpp only. Everything is `static inline`
// in an anonymous namespace: the dot-product file is compiled for a newer architecture
// level, and no copy built with those flags may be picked by the linker for other code.
//
// The kernels mirror the AVX2 ones lane for lane: an 8-float AVX2 register is a pair of
// NEON registers (lanes 0-3, 4-7), every fused multiply-add and every horizontal sum
// happens in the same order, and integer sums are exact. So the NEON tables give the same
// bits as the AVX2 table, and an aarch64 node computes what an x86 node computes.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tensor/kernel_tiles.h"

namespace baton::detail {
namespace {

// Eight float lanes, as one AVX2 register.
struct F8 {
  float32x4_t lo, hi;
};

inline F8 f8_zero() { return {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}; }
inline F8 f8_set1(float v) { return {vdupq_n_f32(v), vdupq_n_f32(v)}; }
inline F8 f8_load(const float* p) { return {vld1q_f32(p), vld1q_f32(p + 4)}; }
inline void f8_store(float* p, F8 v) {
  vst1q_f32(p, v.lo);
  vst1q_f32(p + 4, v.hi);
}
inline F8 f8_add(F8 a, F8 b) { return {vaddq_f32(a.lo, b.lo), vaddq_f32(a.hi, b.hi)}; }
inline F8 f8_sub(F8 a, F8 b) { return {vsubq_f32(a.lo, b.lo), vsubq_f32(a.hi, b.hi)}; }
inline F8 f8_mul(F8 a, F8 b) { return {vmulq_f32(a.lo, b.lo), vmulq_f32(a.hi, b.hi)}; }
// a * b + c, fused (as _mm256_fmadd_ps(a, b, c)).
inline F8 f8_fma(F8 a, F8 b, F8 c) { return {vfmaq_f32(c.lo, a.lo, b.lo), vfmaq_f32(c.hi, a.hi, b.hi)}; }

// The AVX2 hsum's order: (l0+l4 + l2+l6) + (l1+l5 + l3+l7).
inline float hsum(F8 v) {
  const float32x4_t s = vaddq_f32(v.lo, v.hi);
  const float32x2_t t = vadd_f32(vget_low_f32(s), vget_high_f32(s));
  return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

inline int load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Half <-> float conversions are part of base ARMv8 (FCVT), exact and round-to-nearest-even.
inline float half_to_float(uint16_t h) {
  __fp16 f;
  std::memcpy(&f, &h, sizeof f);
  return static_cast<float>(f);
}

inline uint16_t float_to_half(float x) {
  const __fp16 f = static_cast<__fp16>(x);
  uint16_t h;
  std::memcpy(&h, &f, sizeof h);
  return h;
}

inline float bf16_to_float(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline F8 load_f16x8(const uint16_t* p) {
  const uint16x8_t h = vld1q_u16(p);
  return {vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h))), vcvt_f32_f16(vreinterpret_f16_u16(vget_high_u16(h)))};
}

inline F8 load_bf16x8(const uint16_t* p) {
  const uint16x8_t h = vld1q_u16(p);
  return {vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)), vreinterpretq_f32_u32(vshll_n_u16(vget_high_u16(h), 16))};
}

// Eight int32 lanes, as one AVX2 integer register.
struct I8 {
  int32x4_t lo, hi;
};

inline I8 i8_zero() { return {vdupq_n_s32(0), vdupq_n_s32(0)}; }
inline I8 i8_add(I8 a, I8 b) { return {vaddq_s32(a.lo, b.lo), vaddq_s32(a.hi, b.hi)}; }
inline F8 i8_to_f8(I8 v) { return {vcvtq_f32_s32(v.lo), vcvtq_f32_s32(v.hi)}; }

// Lane k (0-3) of the result += sum of a[4k+j] * b[4k+j], j = 0..3: the lane layout of
// AVX2's maddubs+madd. With the dot-product extension one SDOT does it; otherwise
// widening multiplies and pairwise adds give the same exact integers.
inline int32x4_t dot4_i8(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, a, b);
#else
  const int32x4_t p0 = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));
  const int32x4_t p1 = vpaddlq_s16(vmull_high_s8(a, b));
  return vaddq_s32(acc, vpaddq_s32(p0, p1));
#endif
}

// 32 signed int8 products summed into 8 lanes of 4 (lane k covers bytes 4k..4k+3).
inline I8 dot32_i8(int8x16_t a_lo, int8x16_t a_hi, const int8_t* b) {
  return {dot4_i8(vdupq_n_s32(0), a_lo, vld1q_s8(b)), dot4_i8(vdupq_n_s32(0), a_hi, vld1q_s8(b + 16))};
}


// Prefetch into L2 (PRFM PLDL2KEEP); like the AVX2 kernels, tiles fetch the bytes of the
// rows a couple of tiles ahead. Prefetches never fault, so passing the end is harmless.
constexpr int kPrefetchTiles = 2;

inline void prefetch_l2(const void* base, size_t offset) {
  __builtin_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(base) + offset), 0, 2);
}

template <size_t Bytes>
inline void prefetch_l2_range(const void* base, size_t offset) {
  for (size_t line = 0; line < Bytes; line += 64) prefetch_l2(base, offset + line);
  if constexpr (Bytes % 64 != 0) prefetch_l2(base, offset + Bytes - 1);
}

// exp(x) for 4 floats, the AVX2 exp_ps step for step (same constants, same fused steps,
// same rounding): range reduction x = n*ln2 + r, a degree-6 polynomial, 2^n in the
// exponent bits. Below -87.3 (including -inf) gives 0; above 88.7 gives +inf.
inline float32x4_t exp4(float32x4_t x) {
  const float32x4_t hi = vdupq_n_f32(88.7228391f);
  const float32x4_t lo = vdupq_n_f32(-87.3365447f);
  const uint32x4_t underflow = vcltq_f32(x, lo);
  const uint32x4_t overflow = vcgtq_f32(x, hi);
  const float32x4_t xc = vminq_f32(vmaxq_f32(x, lo), hi);
  const float32x4_t n = vrndnq_f32(vmulq_f32(xc, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(xc, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
  const float32x4_t r2 = vmulq_f32(r, r);
  p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, r2);
  const int32x4_t ni = vcvtq_s32_f32(n);  // n is integral: exact
  const int32x4_t half1 = vshrq_n_s32(ni, 1);
  const int32x4_t half2 = vsubq_s32(ni, half1);
  const float32x4_t pow1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(half1, vdupq_n_s32(127)), 23));
  const float32x4_t pow2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(half2, vdupq_n_s32(127)), 23));
  float32x4_t result = vmulq_f32(vmulq_f32(p, pow1), pow2);
  result = vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(result), underflow));
  result = vbslq_f32(overflow, vdupq_n_f32(__builtin_inff()), result);
  return result;
}

inline F8 exp8(F8 x) { return {exp4(x.lo), exp4(x.hi)}; }

}  // namespace
}  // namespace baton::detail
