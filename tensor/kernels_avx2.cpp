// AVX2/FMA/F16C kernel table. Compiled with -mavx2 -mfma -mf16c (see tensor/CMakeLists.txt)
// and only reached through avx2_kernels(), which checks the CPU first. Integer dot
// products follow ggml's scheme: activations quantised to 8 bits, maddubs/madd into
// int32, one float FMA per block.
#include <utility>

#include "tensor/kernel_tiles.h"
#include "tensor/kernels_dispatch.h"
#include "tensor/simd_avx2.h"

namespace baton::detail {

// kernels_exact_avx2.cpp: the types whose every table gives the scalar reference's bits.
void avx2_dot_q5_0(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                   float* out, size_t out_stride);
void avx2_dot_q5_1(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                   float* out, size_t out_stride);
void avx2_dot_iq4_nl(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                     float* out, size_t out_stride);
void avx2_dot_q5_K(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                   float* out, size_t out_stride);
// Defined below: the AVX-512 prefill kernels (kernels_half_avx512.cpp) call them for what
// a matmul leaves over past their last full tile.
void avx2_dot_f16(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                  float* out, size_t out_stride);
void avx2_dot_bf16(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                   float* out, size_t out_stride);

namespace {


template <int NR, int NT, size_t ElemBytes, typename Load8, typename Load1>
void dot_float_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                    size_t out_stride, Load8 load8, Load1 load1) {
  const size_t ahead = kPrefetchTiles * NR * stride;
  const float* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = reinterpret_cast<const float*>(act + t * act_stride);
  __m256 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 xv[NT];
    for (int t = 0; t < NT; ++t) xv[t] = _mm256_loadu_ps(x[t] + i);
    for (int r = 0; r < NR; ++r) {
      if (((i * ElemBytes) & 63) == 0) prefetch_l2(w, ahead + r * stride + i * ElemBytes);
      const __m256 wv = load8(w + r * stride, i);
      for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      float tail = 0.0f;
      for (int64_t j = i; j < n; ++j) tail += load1(w + r * stride, j) * x[t][j];
      out[t * out_stride + r] = hsum(acc[r][t]) + tail;
    }
  }
}

void dot_f32(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
             float* out, size_t out_stride) {
  auto load8 = [](const char* row, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i); };
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

template <int NR, int NT, bool kQ4>
void dot_q8_0_like_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                        size_t out_stride) {
  const int64_t nb = n / kQK;
  const BlockQ8_0* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_0*>(act + t * act_stride);
  __m256 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
  constexpr size_t kBlockBytes = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  const size_t ahead = kPrefetchTiles * NR * stride;
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int64_t i = 0; i < nb; ++i) {
    __m256i y[NT];
    __m256i y_sum8[NT];  // Q4_0 only: 8 * (sum of y over each 4-byte lane group)
    float dy[NT];
    for (int t = 0; t < NT; ++t) {
      y[t] = load_i8x32(a[t][i].qs);
      dy[t] = half_to_float(a[t][i].d);
      if constexpr (kQ4) {
        y_sum8[t] = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), y[t]), ones16), 3);
      }
    }
    // The NR weight scales converted together (one F16C conversion instead of NR).
    // d is the first field of both layouts; pinsrw needs a constant lane, hence the pack expansion.
    __m128i d_half = _mm_setzero_si128();
    [&]<int... R>(std::integer_sequence<int, R...>) {
      ((d_half = _mm_insert_epi16(d_half, load_u16(w + R * stride + i * kBlockBytes), R)), ...);
    }(std::make_integer_sequence<int, NR>{});
    const __m256 dx_all = _mm256_castps128_ps256(_mm_cvtph_ps(d_half));
    __m256 scales[NT];  // lane r: dx[r] * dy[t]
    for (int t = 0; t < NT; ++t) scales[t] = _mm256_mul_ps(dx_all, _mm256_set1_ps(dy[t]));
    for (int r = 0; r < NR; ++r) {
      prefetch_l2(w, ahead + r * stride + i * kBlockBytes);
      const __m256i lane_r = _mm256_set1_epi32(r);
      if constexpr (kQ4) {
        // Codes are stored +8 and unsigned, which is what maddubs wants as its first
        // operand: sum (q-8)*y = sum q*y - 8 * sum y, exactly, in int32 lanes.
        const BlockQ4_0& b = reinterpret_cast<const BlockQ4_0*>(w + r * stride)[i];
        const __m256i q = nibbles_to_bytes(b.qs);
        for (int t = 0; t < NT; ++t) {
          const __m256i sum = _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q, y[t]), ones16), y_sum8[t]);
          acc[r][t] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(scales[t], lane_r), _mm256_cvtepi32_ps(sum), acc[r][t]);
        }
      } else {
        const BlockQ8_0& b = reinterpret_cast<const BlockQ8_0*>(w + r * stride)[i];
        const __m256i q = load_i8x32(b.qs);
        // maddubs needs an unsigned first operand: |q| with q's sign moved onto y.
        const __m256i abs_q = _mm256_sign_epi8(q, q);
        for (int t = 0; t < NT; ++t) {
          const __m256i prod16 = _mm256_maddubs_epi16(abs_q, _mm256_sign_epi8(y[t], q));
          const __m256 prod = _mm256_cvtepi32_ps(_mm256_madd_epi16(prod16, ones16));
          acc[r][t] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(scales[t], lane_r), prod, acc[r][t]);
        }
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


// kPickInt16[k]: a pshufb mask that broadcasts int16 element k of each 128-bit lane.
alignas(32) constexpr uint8_t kPickInt16[8][32] = {
#define BATON_PICK(k) {2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, \
                       2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, \
                       2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1}
    BATON_PICK(0), BATON_PICK(1), BATON_PICK(2), BATON_PICK(3), BATON_PICK(4), BATON_PICK(5), BATON_PICK(6), BATON_PICK(7),
#undef BATON_PICK
};

template <int NR, int NT>
void dot_q4_K_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                   size_t out_stride) {
  const int64_t nb = n / kQK_K;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
  __m256 acc[NR][NT];
  float acc_min[NR][NT];
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      acc[r][t] = _mm256_setzero_ps();
      acc_min[r][t] = 0.0f;
    }
  }
  for (int64_t i = 0; i < nb; ++i) {
    // Sums of each activation over the 32-value sub-blocks, for the "- dmin * m" term.
    __m128i sub_sums[NT];
    for (int t = 0; t < NT; ++t) {
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][i].bsums));
      sub_sums[t] = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
    }
    for (int r = 0; r < NR; ++r) {
      prefetch_l2_range<sizeof(BlockQ4_K)>(w, kPrefetchTiles * NR * stride + r * stride + i * sizeof(BlockQ4_K));
      const BlockQ4_K& b = reinterpret_cast<const BlockQ4_K*>(w + r * stride)[i];
      uint32_t utmp[4];
      q4k_unpack_scales(b.scales, utmp);
      // The 8 scales as int16 in both lanes; shuffles below broadcast one of them each.
      const __m256i scales16 =
          _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, int(utmp[1]), int(utmp[0]))));
      const __m128i mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, int(utmp[3]), int(utmp[2])));
      const float d = half_to_float(b.d);
      const float dmin = half_to_float(b.dmin);
      __m256i sumi[NT];
      for (int t = 0; t < NT; ++t) {
        const __m128i min_prod = _mm_madd_epi16(mins, sub_sums[t]);
        __m128i s = _mm_add_epi32(min_prod, _mm_unpackhi_epi64(min_prod, min_prod));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
        acc_min[r][t] += a[t][i].d * dmin * float(_mm_cvtsi128_si32(s));
        sumi[t] = _mm256_setzero_si256();
      }
      for (int j = 0; j < 4; ++j) {
        const __m256i bits = load_i8x32(b.qs + 32 * j);
        const __m256i lo = _mm256_and_si256(bits, low4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
        const __m256i scale_lo = _mm256_shuffle_epi8(scales16, load_i8x32(kPickInt16[2 * j]));
        const __m256i scale_hi = _mm256_shuffle_epi8(scales16, load_i8x32(kPickInt16[2 * j + 1]));
        for (int t = 0; t < NT; ++t) {
          const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load_i8x32(a[t][i].qs + 64 * j)), scale_lo);
          const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load_i8x32(a[t][i].qs + 64 * j + 32)), scale_hi);
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(p_lo, p_hi));
        }
      }
      for (int t = 0; t < NT; ++t) {
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(a[t][i].d * d), _mm256_cvtepi32_ps(sumi[t]), acc[r][t]);
      }
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
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i low2 = _mm256_set1_epi8(0x03);
  // For 32-value group g: bytes 0-7 pick scale 2g, bytes 8-15 scale 2g+1 (16 values each).
  alignas(16) static constexpr uint8_t kScalePick[8][16] = {
      {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
      {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
      {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},
      {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
      {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9},
      {10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
      {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13},
      {14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15},
  };
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
  __m256 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    for (int r = 0; r < NR; ++r) {
      prefetch_l2_range<sizeof(BlockQ6_K)>(w, kPrefetchTiles * NR * stride + r * stride + i * sizeof(BlockQ6_K));
      const BlockQ6_K& b = reinterpret_cast<const BlockQ6_K*>(w + r * stride)[i];
      const __m128i scales = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
      const __m256i scales16 = _mm256_cvtepi8_epi16(scales);
      // Codes are stored +32: sum sc*(q-32)*y = sum sc*q*y - 32 * sum_s sc_s * bsum_s.
      __m256i sumi[NT];
      for (int t = 0; t < NT; ++t) {
        const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][i].bsums));
        sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(scales16, bsums), 5));
      }
      for (int half = 0; half < 2; ++half) {
        const __m256i high = load_i8x32(b.qh + 32 * half);
        const __m256i bits1 = load_i8x32(b.ql + 64 * half);
        const __m256i bits2 = load_i8x32(b.ql + 64 * half + 32);
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(bits1, low4), _mm256_slli_epi16(_mm256_and_si256(high, low2), 4));
        q[1] = _mm256_or_si256(_mm256_and_si256(bits2, low4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 2), low2), 4));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits1, 4), low4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 4), low2), 4));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits2, 4), low4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 6), low2), 4));
        for (int k = 0; k < 4; ++k) {
          const int g = 4 * half + k;
          const __m128i pick = _mm_load_si128(reinterpret_cast<const __m128i*>(kScalePick[g]));
          const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, pick));
          for (int t = 0; t < NT; ++t) {
            const __m256i y = load_i8x32(a[t][i].qs + 32 * g);
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(sc16, _mm256_maddubs_epi16(q[k], y)));
          }
        }
      }
      const float d = half_to_float(b.d);
      for (int t = 0; t < NT; ++t) {
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(a[t][i].d * d), _mm256_cvtepi32_ps(sumi[t]), acc[r][t]);
      }
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

inline float max_abs(const float* x, int n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int j = 0; j < n; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Rounds x*scale to nearest-even int8 for 32 values (|x*scale| <= 127 by construction).
inline void round_to_i8x32(const float* x, float scale, int8_t* q) {
  const __m256 s = _mm256_set1_ps(scale);
  __m256i v[4];
  for (int k = 0; k < 4; ++k) v[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), s));
  // packs works per 128-bit lane; the permute restores element order.
  const __m256i p01 = _mm256_packs_epi32(v[0], v[1]);
  const __m256i p23 = _mm256_packs_epi32(v[2], v[3]);
  const __m256i bytes = _mm256_packs_epi16(p01, p23);
  const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), ordered);
}

// Same codes as quantize_row_q8_0_ref: d = amax/127, q = round_even(x * (1/d)).
void quantize_q8_0(const float* x, void* y, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(y);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = max_abs(x, kQK) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
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
    for (int s = 0; s < kQK_K / 16; ++s) {
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16 * s));
      const __m128i wide = _mm_madd_epi16(_mm_cvtepi8_epi16(q), _mm_set1_epi16(1));
      const __m128i wide2 = _mm_madd_epi16(_mm_cvtepi8_epi16(_mm_srli_si128(q, 8)), _mm_set1_epi16(1));
      __m128i t = _mm_add_epi32(wide, wide2);
      t = _mm_add_epi32(t, _mm_unpackhi_epi64(t, t));
      t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 1));
      b.bsums[s] = static_cast<int16_t>(_mm_cvtsi128_si32(t));
    }
    b.d = 1.0f / iscale;
  }
}

// q . row for NR Q8_0 rows (one head's slice each): int8 -> float, FMA with the query.
template <int NR>
void kv_dot_q8_0_rows(const uint8_t* rows, size_t stride, const float* q, int64_t head_dim, float* out) {
  __m256 acc[NR];
  for (int r = 0; r < NR; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t i = 0; i < head_dim / kQK; ++i) {
    __m256 qv[4];
    for (int k = 0; k < 4; ++k) qv[k] = _mm256_loadu_ps(q + i * kQK + 8 * k);
    for (int r = 0; r < NR; ++r) {
      const BlockQ8_0& b = reinterpret_cast<const BlockQ8_0*>(rows + r * stride)[i];
      __m256 part = _mm256_setzero_ps();
      for (int k = 0; k < 4; ++k) {
        const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * k));
        part = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), qv[k], part);
      }
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(b.d)), part, acc[r]);
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
  for (int g = 0; g < n_q; ++g) {
    float* s = scores + g * score_stride;
    const __m256 vs = _mm256_set1_ps(scale);
    int64_t p = 0;
    for (; p + 8 <= n_pos; p += 8) _mm256_storeu_ps(s + p, _mm256_mul_ps(_mm256_loadu_ps(s + p), vs));
    for (; p < n_pos; ++p) s[p] *= scale;
  }
}

// out_g[d0 .. d0+8*NV) = sum_p w_g[p] * v_p[d0 ..] for NQ queries: each V chunk is loaded
// once per position and used by every query; the NQ*NV accumulators stay in registers.
template <int NQ, int NV, typename Load8>
void mix_columns(const uint8_t* base, size_t stride, int64_t n_pos, const float* w, size_t w_stride, int64_t head_dim,
                 int64_t d0, float* out, Load8 load8) {
  __m256 acc[NQ][NV];
  for (int g = 0; g < NQ; ++g)
    for (int k = 0; k < NV; ++k) acc[g][k] = _mm256_setzero_ps();
  for (int64_t p = 0; p < n_pos; ++p) {
    const uint8_t* row = base + p * stride;
    __m256 v[NV];
    for (int k = 0; k < NV; ++k) v[k] = load8(row, d0 + 8 * k);
    for (int g = 0; g < NQ; ++g) {
      const __m256 wp = _mm256_set1_ps(w[g * w_stride + p]);
      for (int k = 0; k < NV; ++k) acc[g][k] = _mm256_fmadd_ps(wp, v[k], acc[g][k]);
    }
  }
  for (int g = 0; g < NQ; ++g)
    for (int k = 0; k < NV; ++k) _mm256_storeu_ps(out + g * head_dim + d0 + 8 * k, acc[g][k]);
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
      for (int64_t p = 0; p < n_pos; ++p) s += w[g * w_stride + p] * load1(base + p * stride, d);
      out[g * head_dim + d] = s;
    }
  }
}

// One 32-value Q8_0 block of every position per pass; its scale folds into the weights.
template <int NQ>
void mix_q8_0_rows(const uint8_t* base, size_t stride, int64_t n_pos, const float* w, size_t w_stride, int64_t head_dim,
                   float* out) {
  for (int64_t i = 0; i < head_dim / kQK; ++i) {
    __m256 acc[NQ][4];
    for (int g = 0; g < NQ; ++g)
      for (int k = 0; k < 4; ++k) acc[g][k] = _mm256_setzero_ps();
    for (int64_t p = 0; p < n_pos; ++p) {
      const BlockQ8_0& b = reinterpret_cast<const BlockQ8_0*>(base + p * stride)[i];
      const float d = half_to_float(b.d);
      __m256 v[4];
      for (int k = 0; k < 4; ++k) {
        v[k] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * k))));
      }
      for (int g = 0; g < NQ; ++g) {
        const __m256 wd = _mm256_set1_ps(w[g * w_stride + p] * d);
        for (int k = 0; k < 4; ++k) acc[g][k] = _mm256_fmadd_ps(wd, v[k], acc[g][k]);
      }
    }
    for (int g = 0; g < NQ; ++g)
      for (int k = 0; k < 4; ++k) _mm256_storeu_ps(out + g * head_dim + i * kQK + 8 * k, acc[g][k]);
  }
}

void kv_mix(DType t, const void* rows, size_t row_stride, int64_t n_pos, const float* w, size_t w_stride, int n_q,
            int64_t head_dim, float* out) {
  const auto* base = static_cast<const uint8_t*>(rows);
  auto load_f16 = [](const uint8_t* row, int64_t i) { return load_f16x8(reinterpret_cast<const uint16_t*>(row) + i); };
  auto load_f16_1 = [](const uint8_t* row, int64_t i) { return half_to_float(reinterpret_cast<const uint16_t*>(row)[i]); };
  auto load_f32 = [](const uint8_t* row, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i); };
  auto load_f32_1 = [](const uint8_t* row, int64_t i) { return reinterpret_cast<const float*>(row)[i]; };
  // Queries in groups of up to 3: 3 x 4 accumulators + 4 row registers fit the 16 YMM registers.
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
inline __m256 load_partial(const float* x, int64_t count, float fill) {
  alignas(32) float buf[8];
  for (int k = 0; k < 8; ++k) buf[k] = k < count ? x[k] : fill;
  return _mm256_load_ps(buf);
}

inline void store_partial(float* x, int64_t count, __m256 v) {
  alignas(32) float buf[8];
  _mm256_store_ps(buf, v);
  for (int k = 0; k < count; ++k) x[k] = buf[k];
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  const float neg_inf = -__builtin_inff();
  __m256 vmax = _mm256_set1_ps(neg_inf);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  if (i < n) vmax = _mm256_max_ps(vmax, load_partial(x + i, n - i, neg_inf));
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  const __m256 max = _mm256_set1_ps(_mm_cvtss_f32(m));

  __m256 sum = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), max));
    _mm256_storeu_ps(x + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (i < n) {
    const __m256 e = exp_ps(_mm256_sub_ps(load_partial(x + i, n - i, neg_inf), max));
    store_partial(x + i, n - i, e);
    sum = _mm256_add_ps(sum, e);
  }
  const __m256 inv = _mm256_set1_ps(1.0f / hsum(sum));
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  if (i < n) store_partial(x + i, n - i, _mm256_mul_ps(load_partial(x + i, n - i, 0.0f), inv));
}

inline __m256 silu_mul8(__m256 g, __m256 u) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), u);
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, silu_mul8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  if (i < n) store_partial(out + i, n - i, silu_mul8(load_partial(gate + i, n - i, 0.0f), load_partial(up + i, n - i, 0.0f)));
}

// The tiles above take at most 2 tokens; tables that tile by more (the AVX-512 one
// inherits the float kernels) get them two at a time, which changes nothing per pair.
template <void (*Tile)(int64_t, const void*, size_t, int, const void*, size_t, int, float*, size_t)>
void token_pairs(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                 float* out, size_t out_stride) {
  for (int t = 0; t < ntok; t += 2) {
    Tile(n, w, stride, nrows, static_cast<const char*>(act) + t * act_stride, act_stride, ntok - t < 2 ? ntok - t : 2,
         out + t * out_stride, out_stride);
  }
}

constexpr KernelTable kAvx2Table = {
    "avx2", token_pairs<dot_f32>, token_pairs<dot_f16>, token_pairs<dot_bf16>, token_pairs<dot_q8_0>,
    token_pairs<dot_q4_0>, token_pairs<dot_q4_K>, token_pairs<dot_q6_K>,
    quantize_q8_0, quantize_q8_K, kv_scores, kv_mix, softmax, silu_mul,
    4, 2, 0, 0,
    avx2_dot_q5_0, avx2_dot_q5_1, avx2_dot_iq4_nl, avx2_dot_q5_K,
};

}  // namespace

// Not declared in a header on purpose: only kernels_dispatch.cpp may reach it, after the CPU check.
const KernelTable& avx2_kernel_table() { return kAvx2Table; }

void avx2_dot_f16(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                  float* out, size_t out_stride) {
  token_pairs<dot_f16>(n, w, stride, nrows, act, act_stride, ntok, out, out_stride);
}

void avx2_dot_bf16(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                   float* out, size_t out_stride) {
  token_pairs<dot_bf16>(n, w, stride, nrows, act, act_stride, ntok, out, out_stride);
}

}  // namespace baton::detail
