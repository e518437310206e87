// AVX2 kernels for Q5_0, Q5_1, IQ4_NL (Q8_0 activations) and Q5_K (Q8_K activations) that
// give the scalar reference's bits (kernels_scalar.cpp) for every (row, token): the integer
// block sums are exact whatever order SIMD adds them in, and the float steps then run with
// one (row, token) pair per lane, in the reference's order and without fused multiply-add.
// Compiled with -mavx2 -mfma -mf16c (see tensor/CMakeLists.txt) and reached only through
// avx2_kernels(), after the CPU check.
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>

#include "tensor/kernel_tiles.h"
#include "tensor/kernels_dispatch.h"
#include "tensor/simd_avx2.h"

namespace baton::detail {
namespace {

// A tile is at most 4 rows x 2 tokens: (row r, token t) lives in lane t * 4 + r.
constexpr int kRows = 4;
constexpr int kToks = 2;
constexpr int lane_of(int r, int t) { return t * kRows + r; }

// Lane k of the result = the sum of the 8 int32 lanes of v[k]. Integer adds: exact.
inline __m256i sum_each(const __m256i v[8]) {
  const __m256i v01 = _mm256_hadd_epi32(v[0], v[1]);
  const __m256i v23 = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i v45 = _mm256_hadd_epi32(v[4], v[5]);
  const __m256i v67 = _mm256_hadd_epi32(v[6], v[7]);
  const __m256i v0123 = _mm256_hadd_epi32(v01, v23);  // each 128-bit half: its part of v0..v3
  const __m256i v4567 = _mm256_hadd_epi32(v45, v67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(v0123, v4567, 0x20), _mm256_permute2x128_si256(v0123, v4567, 0x31));
}

// Lanes r and r + 4 of the result: the f16 at w + r * stride + offset, as float.
template <int NR>
inline __m256 row_halves(const char* w, size_t stride, size_t offset) {
  __m128i h = _mm_setzero_si128();
  [&]<int... R>(std::integer_sequence<int, R...>) {
    ((h = _mm_insert_epi16(h, load_u16(w + R * stride + offset), R)), ...);
    ((h = _mm_insert_epi16(h, load_u16(w + R * stride + offset), R + kRows)), ...);
  }(std::make_integer_sequence<int, NR>{});
  return _mm256_cvtph_ps(h);
}

// Lanes 0-3: v[0]; lanes 4-7: v[1] (or v[0] again for one token).
template <int NT>
inline __m256 per_token(const float v[NT]) {
  return _mm256_set_m128(_mm_set1_ps(v[NT - 1]), _mm_set1_ps(v[0]));
}

inline void store_lanes(__m256 acc, int nrows, int ntok, float* out, size_t out_stride) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  for (int t = 0; t < ntok; ++t)
    for (int r = 0; r < nrows; ++r) out[t * out_stride + r] = lanes[lane_of(r, t)];
}

// 0xFF in byte j where bit j of the little-endian 32-bit word at p is set.
inline __m256i bits_to_bytes(const uint8_t* p) {
  uint32_t word;
  std::memcpy(&word, p, sizeof word);
  // Byte j takes byte j/8 of the word, then keeps only its bit j%8.
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(word)),
      _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i select = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
}

enum class Kind { Q5_0, Q5_1, IQ4_NL };

template <Kind K>
using BlockOf = std::conditional_t<K == Kind::Q5_0, BlockQ5_0, std::conditional_t<K == Kind::Q5_1, BlockQ5_1, BlockIQ4_NL>>;

// Q5_0 / Q5_1 / IQ4_NL weights against Q8_0 activations, NR rows x NT tokens.
template <int NR, int NT, Kind K>
void dot_block32_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                      size_t out_stride) {
  using Block = BlockOf<K>;
  const int64_t nb = n / kQK;
  const BlockQ8_0* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_0*>(act + t * act_stride);
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues)));
  const size_t ahead = kPrefetchTiles * NR * stride;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    __m256i y[NT], y_sum[NT];  // y_sum: sums of each 4 activation codes
    float dy[NT];
    for (int t = 0; t < NT; ++t) {
      y[t] = load_i8x32(a[t][i].qs);
      dy[t] = half_to_float(a[t][i].d);
      if constexpr (K != Kind::IQ4_NL) y_sum[t] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, y[t]), ones16);
    }
    __m256i sums[8], code_sums[8];
    for (int k = 0; k < 8; ++k) sums[k] = code_sums[k] = _mm256_setzero_si256();
    for (int r = 0; r < NR; ++r) {
      prefetch_l2(w, ahead + r * stride + i * sizeof(Block));
      const Block& b = reinterpret_cast<const Block*>(w + r * stride)[i];
      if constexpr (K == Kind::IQ4_NL) {
        const __m256i v = _mm256_shuffle_epi8(levels, nibbles_to_bytes(b.qs));
        for (int t = 0; t < NT; ++t) sums[lane_of(r, t)] = dot_i8_pairs(v, y[t]);
      } else {
        // Codes 0..31, unsigned as maddubs wants its first operand (31 * 127 * 2 fits int16).
        const __m256i q = _mm256_or_si256(nibbles_to_bytes(b.qs), _mm256_and_si256(bits_to_bytes(b.qh), bit4));
        for (int t = 0; t < NT; ++t) {
          const __m256i qy = _mm256_madd_epi16(_mm256_maddubs_epi16(q, y[t]), ones16);
          if constexpr (K == Kind::Q5_0) {
            sums[lane_of(r, t)] = _mm256_sub_epi32(qy, _mm256_slli_epi32(y_sum[t], 4));  // sum (q - 16) * y
          } else {
            sums[lane_of(r, t)] = qy;
            code_sums[lane_of(r, t)] = y_sum[t];
          }
        }
      }
    }
    const __m256 sumi = _mm256_cvtepi32_ps(sum_each(sums));
    const __m256 dy8 = per_token<NT>(dy);
    const __m256 dx8 = row_halves<NR>(w, stride, i * sizeof(Block));
    if constexpr (K == Kind::Q5_1) {
      const __m256 m8 = row_halves<NR>(w, stride, i * sizeof(Block) + offsetof(BlockQ5_1, m));
      const __m256 sumy = _mm256_cvtepi32_ps(sum_each(code_sums));
      acc = _mm256_add_ps(acc, _mm256_add_ps(_mm256_mul_ps(sumi, _mm256_mul_ps(dx8, dy8)),
                                             _mm256_mul_ps(sumy, _mm256_mul_ps(m8, dy8))));
    } else {
      acc = _mm256_add_ps(acc, _mm256_mul_ps(sumi, _mm256_mul_ps(dx8, dy8)));
    }
  }
  store_lanes(acc, NR, NT, out, out_stride);
}


// kPick[k]: a pshufb mask that broadcasts int16 element k of each 128-bit lane.
alignas(32) constexpr uint8_t kPick[8][32] = {
#define BATON_PICK(k)                                                                                                \
  {2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, \
   2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k,       \
   2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1}
    BATON_PICK(0), BATON_PICK(1), BATON_PICK(2), BATON_PICK(3), BATON_PICK(4), BATON_PICK(5), BATON_PICK(6), BATON_PICK(7),
#undef BATON_PICK
};

template <int NR, int NT>
void dot_q5_K_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                   size_t out_stride) {
  const int64_t nb = n / kQK_K;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i one8 = _mm256_set1_epi8(1);
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    // Sums of each activation over the 32-value sub-blocks, for the "- dmin * m" term.
    __m128i sub_sums[NT];
    float ad[NT];
    for (int t = 0; t < NT; ++t) {
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][i].bsums));
      sub_sums[t] = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
      ad[t] = a[t][i].d;
    }
    __m256i sums[8];
    alignas(32) int32_t mins[8] = {};
    for (int k = 0; k < 8; ++k) sums[k] = _mm256_setzero_si256();
    for (int r = 0; r < NR; ++r) {
      prefetch_l2_range<sizeof(BlockQ5_K)>(w, kPrefetchTiles * NR * stride + r * stride + i * sizeof(BlockQ5_K));
      const BlockQ5_K& b = reinterpret_cast<const BlockQ5_K*>(w + r * stride)[i];
      uint32_t utmp[4];
      q4k_unpack_scales(b.scales, utmp);
      const __m256i scales16 =
          _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, int(utmp[1]), int(utmp[0]))));
      const __m128i min16 = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, int(utmp[3]), int(utmp[2])));
      for (int t = 0; t < NT; ++t) {
        const __m128i p = _mm_madd_epi16(min16, sub_sums[t]);
        __m128i s = _mm_add_epi32(p, _mm_unpackhi_epi64(p, p));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
        mins[lane_of(r, t)] = _mm_cvtsi128_si32(s);
      }
      __m256i high = load_i8x32(b.qh);  // bit 2j / 2j+1 of byte l: bit 4 of value l of the j-th 64's halves
      for (int j = 0; j < 4; ++j) {
        const __m256i bits = load_i8x32(b.qs + 32 * j);
        const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, low4),
                                           _mm256_slli_epi16(_mm256_and_si256(high, one8), 4));
        const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), low4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 1), one8), 4));
        high = _mm256_srli_epi16(high, 2);
        const __m256i scale_lo = _mm256_shuffle_epi8(scales16, load_i8x32(kPick[2 * j]));
        const __m256i scale_hi = _mm256_shuffle_epi8(scales16, load_i8x32(kPick[2 * j + 1]));
        for (int t = 0; t < NT; ++t) {
          // Codes 0..31 times int8: pairs fit int16; times 6-bit scales into int32.
          const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load_i8x32(a[t][i].qs + 64 * j)), scale_lo);
          const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load_i8x32(a[t][i].qs + 64 * j + 32)), scale_hi);
          sums[lane_of(r, t)] = _mm256_add_epi32(sums[lane_of(r, t)], _mm256_add_epi32(p_lo, p_hi));
        }
      }
    }
    // sum += ad * (d * scaled - dmin * mins), as the reference.
    const __m256 scaled = _mm256_cvtepi32_ps(sum_each(sums));
    const __m256 min_sum = _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(mins)));
    const __m256 d8 = row_halves<NR>(w, stride, i * sizeof(BlockQ5_K));
    const __m256 dmin8 = row_halves<NR>(w, stride, i * sizeof(BlockQ5_K) + offsetof(BlockQ5_K, dmin));
    const __m256 part = _mm256_sub_ps(_mm256_mul_ps(d8, scaled), _mm256_mul_ps(dmin8, min_sum));
    acc = _mm256_add_ps(acc, _mm256_mul_ps(per_token<NT>(ad), part));
  }
  store_lanes(acc, NR, NT, out, out_stride);
}

// Any nrows <= 4 and ntok <= kMaxTileTokens: tokens two at a time.
template <template <int, int> class Tile>
void run_tiles(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
               float* out, size_t out_stride) {
  for (int t = 0; t < ntok; t += kToks) {
    const char* at = static_cast<const char*>(act) + t * act_stride;
    float* ot = out + t * out_stride;
    const bool pair = ntok - t >= 2;
    auto go = [&]<int NR>() {
      if (pair) {
        Tile<NR, 2>::run(n, static_cast<const char*>(w), stride, at, act_stride, ot, out_stride);
      } else {
        Tile<NR, 1>::run(n, static_cast<const char*>(w), stride, at, act_stride, ot, out_stride);
      }
    };
    switch (nrows) {
      case 4: go.template operator()<4>(); break;
      case 3: go.template operator()<3>(); break;
      case 2: go.template operator()<2>(); break;
      default: go.template operator()<1>(); break;
    }
  }
}

template <int NR, int NT>
struct Q5_0Tile {
  static void run(int64_t n, const char* w, size_t s, const char* a, size_t as, float* o, size_t os) {
    dot_block32_tile<NR, NT, Kind::Q5_0>(n, w, s, a, as, o, os);
  }
};
template <int NR, int NT>
struct Q5_1Tile {
  static void run(int64_t n, const char* w, size_t s, const char* a, size_t as, float* o, size_t os) {
    dot_block32_tile<NR, NT, Kind::Q5_1>(n, w, s, a, as, o, os);
  }
};
template <int NR, int NT>
struct IQ4_NLTile {
  static void run(int64_t n, const char* w, size_t s, const char* a, size_t as, float* o, size_t os) {
    dot_block32_tile<NR, NT, Kind::IQ4_NL>(n, w, s, a, as, o, os);
  }
};
template <int NR, int NT>
struct Q5_KTile {
  static void run(int64_t n, const char* w, size_t s, const char* a, size_t as, float* o, size_t os) {
    dot_q5_K_tile<NR, NT>(n, w, s, a, as, o, os);
  }
};

}  // namespace

// Declared only in kernels_avx2.cpp, whose table (reached after the CPU check) uses them.
void avx2_dot_q5_0(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                   float* out, size_t out_stride) {
  run_tiles<Q5_0Tile>(n, w, stride, nrows, act, act_stride, ntok, out, out_stride);
}
void avx2_dot_q5_1(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                   float* out, size_t out_stride) {
  run_tiles<Q5_1Tile>(n, w, stride, nrows, act, act_stride, ntok, out, out_stride);
}
void avx2_dot_iq4_nl(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                     float* out, size_t out_stride) {
  run_tiles<IQ4_NLTile>(n, w, stride, nrows, act, act_stride, ntok, out, out_stride);
}
void avx2_dot_q5_K(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                   float* out, size_t out_stride) {
  run_tiles<Q5_KTile>(n, w, stride, nrows, act, act_stride, ntok, out, out_stride);
}

}  // namespace baton::detail
