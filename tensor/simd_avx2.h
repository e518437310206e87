// Internal AVX2/FMA/F16C helpers. Include ONLY from tensor/*_avx2.cpp and *_avx512.cpp,
// the only files compiled with -mavx2 -mfma -mf16c (or more). Everything here is `static inline` in an
// anonymous namespace so no AVX2-compiled copy can be picked by the linker for scalar code;
// for the same reason the _avx2.cpp files avoid odr-using inline functions of shared headers.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace baton::detail {
namespace {

// Weight rows lie one after another and a tile walks NR of them side by side. The
// hardware prefetchers do not follow those interleaved streams far enough ahead to keep
// DRAM busy while the core computes (measured: a single thread reached ~45% of its read
// bandwidth on Q8_0 without this, ~100% with it), so each tile prefetches the matching
// bytes of the rows kPrefetchTiles tiles ahead into L2. Prefetches never fault, so running
// past the end of the matrix is harmless; the address is formed as an integer for that reason.
constexpr int kPrefetchTiles = 2;

inline void prefetch_l2(const void* base, size_t offset) {
  _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(base) + offset), _MM_HINT_T1);
}

// Prefetches every cache line of [base + offset, base + offset + Bytes).
template <size_t Bytes>
inline void prefetch_l2_range(const void* base, size_t offset) {
  for (size_t line = 0; line < Bytes; line += 64) prefetch_l2(base, offset + line);
  if constexpr (Bytes % 64 != 0) prefetch_l2(base, offset + Bytes - 1);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

inline int load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float bf16_to_float(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256 load_bf16x8(const uint16_t* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

inline __m256i load_i8x32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Signed int8 x int8 dot of 32 pairs into 8 int32 lanes. maddubs needs an unsigned first
// operand, so the sign of x moves onto y (|x| * sign(x)*y = x*y); no int16 overflow since
// |x| <= 127 for our codes (Q8_0 uses [-127, 127]; Q4_0 codes are in [-8, 7]).
inline __m256i dot_i8_pairs(__m256i x, __m256i y) {
  const __m256i ax = _mm256_sign_epi8(x, x);
  const __m256i sy = _mm256_sign_epi8(y, x);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

// 32 four-bit values from 16 bytes: low nibbles -> bytes 0..15, high nibbles -> 16..31.
inline __m256i nibbles_to_bytes(const uint8_t* p) {
  // The 16 bytes in both lanes (one broadcast load), the upper lane shifted right by 4.
  const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m256i shifted = _mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4));
  return _mm256_and_si256(shifted, _mm256_set1_epi8(0x0F));
}

// exp(x) for 8 floats: range reduction x = n*ln2 + r with |r| <= ln2/2, a degree-6
// polynomial for e^r (max relative error 1.2e-7, ~2 ulp) and 2^n built in the exponent bits.
// Inputs below -87.3 (including -inf) give exactly 0; above 88.7 give +inf.
inline __m256 exp_ps(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.7228391f);
  const __m256 lo = _mm256_set1_ps(-87.3365447f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  const __m256 overflow = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // r = x - n*ln2 in two steps (Cody-Waite) so the reduction itself stays exact enough.
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n: n is in [-126, 128]; split so each factor is a normal float (2^128 overflows alone).
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i half1 = _mm256_srai_epi32(ni, 1);
  const __m256i half2 = _mm256_sub_epi32(ni, half1);
  const __m256 pow1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half1, _mm256_set1_epi32(127)), 23));
  const __m256 pow2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half2, _mm256_set1_epi32(127)), 23));
  __m256 result = _mm256_mul_ps(_mm256_mul_ps(p, pow1), pow2);
  result = _mm256_andnot_ps(underflow, result);
  result = _mm256_blendv_ps(result, _mm256_set1_ps(__builtin_inff()), overflow);
  return result;
}

}  // namespace
}  // namespace baton::detail
