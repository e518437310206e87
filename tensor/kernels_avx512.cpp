// AVX-512 (F, BW, VL, DQ) + VNNI kernels for the quantised weight types. Compiled with
// those flags (see tensor/CMakeLists.txt) and only reached through avx512_kernels(), which
// checks the CPU first. Everything else in the table comes from the AVX2 table.
//
// Why: on CPUs that have it (Zen 4/5, Ice Lake and later) vpdpbusd multiplies 64 unsigned x
// signed byte pairs and adds them into 16 int32 lanes in one instruction, where AVX2 needs
// maddubs + madd (+ a sign fix) for 32 pairs. Prefill of 8-bit and 4-bit weights is
// compute-bound, so this is where llama.cpp's lead on such machines came from.
//
// Each (weight row, token) pair owns one accumulator and sees the same instruction
// sequence whatever the tile shape (DotTileFn's contract), so matvec and matmul agree bit
// for bit and results do not depend on the thread count.
#include <immintrin.h>

#include <cstring>

#include "tensor/kernels_dispatch.h"

namespace baton::detail {
namespace {

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// See simd_avx2.h: the hardware prefetchers do not run far enough ahead on NR interleaved
// row streams, so each tile prefetches the rows two tiles ahead into L2.
constexpr int kPrefetchTiles = 2;
inline void prefetch_l2(const void* base, size_t offset) {
  _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(base) + offset), _MM_HINT_T1);
}

// Two 32-byte chunks side by side: [lo | hi].
inline __m512i load_2x32(const void* lo, const void* hi) {
  return _mm512_inserti64x4(_mm512_zextsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(lo))),
                            _mm256_loadu_si256(static_cast<const __m256i*>(hi)), 1);
}

// Lanes 0-7 = a, lanes 8-15 = b.
inline __m512 set_halves(float a, float b) {
  return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

template <typename Kernel>
void dispatch_tile(int nrows, int ntok, Kernel k) {
  auto rows = [&]<int NT>() {
    switch (nrows) {
      case 4: k.template operator()<4, NT>(); break;
      case 3: k.template operator()<3, NT>(); break;
      case 2: k.template operator()<2, NT>(); break;
      default: k.template operator()<1, NT>(); break;
    }
  };
  switch (ntok) {
    case 4: rows.template operator()<4>(); break;
    case 3: rows.template operator()<3>(); break;
    case 2: rows.template operator()<2>(); break;
    default: rows.template operator()<1>(); break;
  }
}

// Q8_0 and Q4_0 weights against Q8_0 activations, two 32-value blocks per step (one per
// 256-bit half). vpdpbusd wants the weight bytes unsigned, so they are offset by kBias
// (Q4_0's codes are stored +8 already; Q8_0's get +128 by flipping the sign bit), and the
// offset is taken back exactly in int32: each lane starts at -kBias * (its 4 activations' sum).
template <int NR, int NT, bool kQ4>
void dot_q8_0_like_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                        size_t out_stride) {
  constexpr int kBias = kQ4 ? 8 : 128;
  constexpr size_t kBlockBytes = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  const int64_t nb = n / kQK;
  const BlockQ8_0* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_0*>(act + t * act_stride);
  __m512 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  const size_t ahead = kPrefetchTiles * NR * stride;
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(kBias));
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i sign_bit = _mm512_set1_epi8(static_cast<char>(0x80));
  // Q4_0: [b0 qs | b1 qs] as 64-bit words 0-1 and 2-3 -> [b0 | b0 | b1 | b1] so that after
  // shifting the odd 128-bit lanes by 4 each block reads as [low nibbles | high nibbles].
  const __m512i spread = _mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3);
  const __m512i nibble_shift = _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4);
  for (int64_t i = 0; i < nb; i += 2) {
    const bool pair = i + 1 < nb;  // an odd block count ends with one block in the low half
    __m512i y[NT], y_start[NT];
    __m512 dy[NT];
    for (int t = 0; t < NT; ++t) {
      const BlockQ8_0& b0 = a[t][i];
      if (pair) {
        const BlockQ8_0& b1 = a[t][i + 1];
        y[t] = load_2x32(b0.qs, b1.qs);
        dy[t] = set_halves(half_to_float(b0.d), half_to_float(b1.d));
      } else {
        y[t] = _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0.qs)));
        dy[t] = set_halves(half_to_float(b0.d), 0.0f);
      }
      y_start[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, y[t]));
    }
    for (int r = 0; r < NR; ++r) {
      const char* blocks = w + r * stride + i * kBlockBytes;
      prefetch_l2(w, ahead + r * stride + i * kBlockBytes);
      prefetch_l2(w, ahead + r * stride + i * kBlockBytes + 63);
      __m512i q;
      float d0 = half_to_float(load_u16(blocks));
      float d1 = pair ? half_to_float(load_u16(blocks + kBlockBytes)) : 0.0f;
      if constexpr (kQ4) {
        const auto* b0 = reinterpret_cast<const BlockQ4_0*>(blocks);
        __m256i both = _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b0->qs)));
        if (pair) both = _mm256_inserti128_si256(both, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b0[1].qs)), 1);
        const __m512i spread_q = _mm512_permutexvar_epi64(spread, _mm512_zextsi256_si512(both));
        q = _mm512_and_si512(_mm512_srlv_epi64(spread_q, nibble_shift), low4);
      } else {
        const auto* b0 = reinterpret_cast<const BlockQ8_0*>(blocks);
        q = pair ? load_2x32(b0[0].qs, b0[1].qs)
                 : _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0[0].qs)));
        q = _mm512_xor_si512(q, sign_bit);
      }
      const __m512 dw = set_halves(d0, d1);
      for (int t = 0; t < NT; ++t) {
        // A missing second block has y = 0 and a zero scale, so it adds exactly 0.
        const __m512i sum = _mm512_dpbusd_epi32(y_start[t], q, y[t]);
        acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, dy[t]), _mm512_cvtepi32_ps(sum), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) out[t * out_stride + r] = _mm512_reduce_add_ps(acc[r][t]);
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

// Unpacks Q4_K's 12 scale bytes into 8 scales (bytes 0-7) and 8 mins (bytes 8-15).
inline void q4k_unpack_scales(const uint8_t* packed, uint32_t utmp[4]) {
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  std::memcpy(utmp, packed, 12);
  utmp[3] = ((utmp[2] >> 4) & kLow4) | (((utmp[1] >> 6) & kLow2) << 4);  // mins 4-7
  const uint32_t mins_0_3 = utmp[1] & kLow6;
  utmp[1] = (utmp[2] & kLow4) | (((utmp[0] >> 6) & kLow2) << 4);  // scales 4-7
  utmp[2] = mins_0_3;
  utmp[0] &= kLow6;  // scales 0-3
}

// vpermw indices: int16 lanes 0-15 take element 2j, lanes 16-31 element 2j+1.
inline __m512i pick_pair_index(int j) {
  return _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(2 * j)), _mm256_set1_epi16(static_cast<short>(2 * j + 1)), 1);
}

// Q4_K against Q8_K, 64 values (two 32-value sub-blocks) per step: the 32 packed bytes
// become [low nibbles | high nibbles], which is exactly the order of the 64 activation
// bytes; maddubs gives pair sums (at most 2*15*128), vpdpwssd scales them by the
// sub-blocks' 6-bit scales and adds into int32.
template <int NR, int NT>
void dot_q4_K_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                   size_t out_stride) {
  const int64_t nb = n / kQK_K;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i nibble_shift = _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4);
  __m512i pick[4];
  for (int j = 0; j < 4; ++j) pick[j] = pick_pair_index(j);
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
  __m512 acc[NR][NT];
  float acc_min[NR][NT];
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      acc[r][t] = _mm512_setzero_ps();
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
      const size_t at = r * stride + i * sizeof(BlockQ4_K);
      prefetch_l2(w, kPrefetchTiles * NR * stride + at);
      prefetch_l2(w, kPrefetchTiles * NR * stride + at + 64);
      prefetch_l2(w, kPrefetchTiles * NR * stride + at + sizeof(BlockQ4_K) - 1);
      const BlockQ4_K& b = *reinterpret_cast<const BlockQ4_K*>(w + at);
      uint32_t utmp[4];
      q4k_unpack_scales(b.scales, utmp);
      const __m512i scales16 = _mm512_zextsi128_si512(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, int(utmp[1]), int(utmp[0]))));
      const __m128i mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, int(utmp[3]), int(utmp[2])));
      const float d = half_to_float(b.d);
      const float dmin = half_to_float(b.dmin);
      __m512i sumi[NT];
      for (int t = 0; t < NT; ++t) {
        const __m128i min_prod = _mm_madd_epi16(mins, sub_sums[t]);
        __m128i s = _mm_add_epi32(min_prod, _mm_unpackhi_epi64(min_prod, min_prod));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
        acc_min[r][t] += a[t][i].d * dmin * float(_mm_cvtsi128_si32(s));
        sumi[t] = _mm512_setzero_si512();
      }
      for (int j = 0; j < 4; ++j) {
        const __m512i bits = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * j)));
        const __m512i q = _mm512_and_si512(_mm512_srlv_epi64(bits, nibble_shift), low4);
        const __m512i sc = _mm512_permutexvar_epi16(pick[j], scales16);
        for (int t = 0; t < NT; ++t) {
          const __m512i y = _mm512_loadu_si512(a[t][i].qs + 64 * j);
          sumi[t] = _mm512_dpwssd_epi32(sumi[t], _mm512_maddubs_epi16(q, y), sc);
        }
      }
      for (int t = 0; t < NT; ++t) {
        acc[r][t] = _mm512_fmadd_ps(_mm512_set1_ps(a[t][i].d * d), _mm512_cvtepi32_ps(sumi[t]), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) out[t * out_stride + r] = _mm512_reduce_add_ps(acc[r][t]) - acc_min[r][t];
}

void dot_q4_K(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_q4_K_tile<NR, NT>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act), act_stride, out,
                          out_stride);
  });
}

// Q6_K against Q8_K, 64 values (four 16-value sub-blocks) per step. Codes are 6 bits
// stored +32: sum sc*(q-32)*y = sum sc*q*y - 32 * sum_s sc_s * bsum_s, the second term
// taken once per block as the accumulator's starting value.
template <int NR, int NT>
void dot_q6_K_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                   size_t out_stride) {
  const int64_t nb = n / kQK_K;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i low2 = _mm512_set1_epi8(0x03);
  // vpermw indices for step c: int16 lanes 8k..8k+7 take scale 4c+k.
  __m512i pick[4];
  for (int c = 0; c < 4; ++c) {
    alignas(64) int16_t idx[32];
    for (int l = 0; l < 32; ++l) idx[l] = static_cast<int16_t>(4 * c + l / 8);
    pick[c] = _mm512_load_si512(idx);
  }
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
  __m512 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    for (int r = 0; r < NR; ++r) {
      const size_t at = r * stride + i * sizeof(BlockQ6_K);
      for (size_t line = 0; line < sizeof(BlockQ6_K); line += 64) prefetch_l2(w, kPrefetchTiles * NR * stride + at + line);
      prefetch_l2(w, kPrefetchTiles * NR * stride + at + sizeof(BlockQ6_K) - 1);
      const BlockQ6_K& b = *reinterpret_cast<const BlockQ6_K*>(w + at);
      const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
      const __m512i scales16_z = _mm512_zextsi256_si512(scales16);
      const __m256i minus32_scales = _mm256_mullo_epi16(scales16, _mm256_set1_epi16(-32));
      __m512i sumi[NT];
      for (int t = 0; t < NT; ++t) {
        const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][i].bsums));
        sumi[t] = _mm512_zextsi256_si512(_mm256_madd_epi16(minus32_scales, bsums));
      }
      for (int half = 0; half < 2; ++half) {
        const __m512i ql = _mm512_loadu_si512(b.ql + 64 * half);
        const __m256i qh32 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * half));
        // Bits for values 0-31 are qh's bits 0-1, for values 32-63 bits 2-3 (then 4-5, 6-7).
        const __m512i qh = _mm512_inserti64x4(_mm512_zextsi256_si512(qh32), _mm256_srli_epi16(qh32, 2), 1);
        __m512i q[2];
        q[0] = _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_slli_epi16(_mm512_and_si512(qh, low2), 4));
        q[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                               _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 4), low2), 4));
        for (int k = 0; k < 2; ++k) {
          const int c = 2 * half + k;
          const __m512i sc = _mm512_permutexvar_epi16(pick[c], scales16_z);
          for (int t = 0; t < NT; ++t) {
            const __m512i y = _mm512_loadu_si512(a[t][i].qs + 64 * c);
            sumi[t] = _mm512_dpwssd_epi32(sumi[t], _mm512_maddubs_epi16(q[k], y), sc);
          }
        }
      }
      const float d = half_to_float(b.d);
      for (int t = 0; t < NT; ++t) {
        acc[r][t] = _mm512_fmadd_ps(_mm512_set1_ps(a[t][i].d * d), _mm512_cvtepi32_ps(sumi[t]), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) out[t * out_stride + r] = _mm512_reduce_add_ps(acc[r][t]);
}

void dot_q6_K(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  dispatch_tile(nrows, ntok, [&]<int NR, int NT>() {
    dot_q6_K_tile<NR, NT>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act), act_stride, out,
                          out_stride);
  });
}

}  // namespace

// Not declared in a header on purpose: only kernels_dispatch.cpp may reach it, after the CPU check.
KernelTable avx512_kernel_table(const KernelTable& avx2) {
  KernelTable k = avx2;
  k.name = "avx512vnni";
  k.dot_q8_0 = dot_q8_0;
  k.dot_q4_0 = dot_q4_0;
  k.dot_q4_K = dot_q4_K;
  k.dot_q6_K = dot_q6_K;
  k.tile_tokens = 4;
  return k;
}

}  // namespace baton::detail
