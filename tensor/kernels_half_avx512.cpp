// AVX-512 prefill kernels for F16 and BF16 weights that give the AVX2 kernels' bits.
// Compiled with the AVX-512 flags (see tensor/CMakeLists.txt) and only reached through the
// AVX-512 table, which checks the CPU first.
//
// The AVX2 kernel (dot_float_tile in kernels_avx2.cpp) gives each (row, token) pair one
// 8-lane accumulator: lane j adds w[i + j] * x[i + j] for i = 0, 8, 16, ... by FMA, then
// hsum() and a scalar tail, each tail product fused. Here one zmm holds two of those
// accumulators, the same token against two rows (row a in lanes 0-7, row b in lanes
// 8-15): it is fed the two rows' 8 weights side by side and the token's 8 activations
// broadcast to both halves, and at the end each half goes through the same hsum() and
// tail. Every (row, token) pair thus sees exactly the AVX2 instruction sequence, so
// matmul gives the AVX2 table's bits, and matvec (one token, memory-bound) keeps the AVX2
// kernel (the table's dot_f16/dot_bf16), whose decode speed the 16-lane tiles of dot_f32
// (kernels_avx512.cpp) lost. These kernels are the table's dot_f16_prefill/dot_bf16_prefill.
//
// Why it is faster: the 32 zmm registers hold 6 rows x 8 tokens of accumulators where
// AVX2's 16 ymm hold 4 x 2, so each weight is loaded and converted to f32 once per 8
// tokens instead of once per 2, each activation load serves 6 rows instead of 4, and one
// instruction does two pairs' FMAs.
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* initialises a variable
// from itself, GCC bug 105593, fixed in 13) wherever cvtepu16/cvtph/broadcast/extract are
// inlined; the pragma covers only the header, whose inlined code is where the warning points.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cmath>
#include <utility>

#include "tensor/kernels_dispatch.h"
#include "tensor/simd_avx2.h"

namespace baton::detail {

// kernels_avx2.cpp: the AVX2 kernels, which this file reproduces bit for bit.
void avx2_dot_f16(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                  float* out, size_t out_stride);
void avx2_dot_bf16(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
                   float* out, size_t out_stride);

namespace {

// Tiles of 6 rows x 8 tokens: 24 zmm accumulators, 3 for the weights, 1 for the activations.
// On a 768 x 3072 BF16 matrix at one thread (64 tokens, GFLOP/s, one interleaved run):
// 4 x 8 89, 6 x 8 102, 8 x 6 99, 8 x 5 94, 6 x 6 91, 4 x 6 85; the AVX2 kernel 75.
constexpr int kRowPairs = 3;
constexpr int kRows = 2 * kRowPairs;

inline __m256i load_u16x8_pair(const char* a, const char* b, int64_t i) {
  const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(a) + i));
  const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(b) + i));
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

// Weights i..i+7 of row a (lanes 0-7) and of row b (lanes 8-15) as f32: the values
// load_f16x8 / load_bf16x8 give the AVX2 kernels.
struct F16 {
  static __m512 load_pair(const char* a, const char* b, int64_t i) { return _mm512_cvtph_ps(load_u16x8_pair(a, b, i)); }
  static float load1(const char* row, int64_t i) { return half_to_float(reinterpret_cast<const uint16_t*>(row)[i]); }
};
struct BF16 {
  static __m512 load_pair(const char* a, const char* b, int64_t i) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load_u16x8_pair(a, b, i)), 16));
  }
  static float load1(const char* row, int64_t i) { return bf16_to_float(reinterpret_cast<const uint16_t*>(row)[i]); }
};

// Rows [0, nrows) x NT tokens. Rows past nrows repeat the last one (nothing is read past
// the matrix) and their results are dropped.
template <typename T, int NT>
void dot_half_tile(int64_t n, const char* w, size_t stride, int nrows, const char* act, size_t act_stride, float* out,
                   size_t out_stride) {
  const char* row[kRows];
  for (int r = 0; r < kRows; ++r) row[r] = w + static_cast<size_t>(std::min(r, nrows - 1)) * stride;
  const float* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = reinterpret_cast<const float*>(act + t * act_stride);
  const size_t ahead = kPrefetchTiles * kRows * stride;
  __m512 acc[kRowPairs][NT];
  for (auto& pair : acc) {
    for (__m512& a : pair) a = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (((i * 2) & 63) == 0) {
      for (int r = 0; r < kRows; ++r) prefetch_l2(w, ahead + r * stride + i * 2);
    }
    __m512 wv[kRowPairs];
    for (int p = 0; p < kRowPairs; ++p) wv[p] = T::load_pair(row[2 * p], row[2 * p + 1], i);
    for (int t = 0; t < NT; ++t) {
      const __m512 xv = _mm512_broadcast_f32x8(_mm256_loadu_ps(x[t] + i));
      for (int p = 0; p < kRowPairs; ++p) acc[p][t] = _mm512_fmadd_ps(wv[p], xv, acc[p][t]);
    }
  }
  for (int p = 0; p < kRowPairs; ++p) {
    for (int t = 0; t < NT; ++t) {
      const __m256 halves[2] = {_mm512_castps512_ps256(acc[p][t]), _mm512_extractf32x8_ps(acc[p][t], 1)};
      for (int h = 0; h < 2; ++h) {
        const int r = 2 * p + h;
        if (r >= nrows) continue;
        float tail = 0.0f;
        for (int64_t j = i; j < n; ++j) tail = std::fma(T::load1(row[r], j), x[t][j], tail);
        out[t * out_stride + r] = hsum(halves[h]) + tail;
      }
    }
  }
}

constexpr int kTileTokens = 8;
// Matmuls with fewer tokens (and decode) keep the table's dot_f16/dot_bf16, the AVX2
// kernel: its 4 x 2 tiles were as fast or faster for 2 tokens (768 x 3072, one thread:
// F16 0.73-0.78x, BF16 0.93-0.98x with 6 x 2 zmm tiles), the zmm tiles faster from 3
// tokens on (1.2-1.5x). What a matmul leaves over past its last full tile (1 or 2 tokens)
// goes to the AVX2 kernel here.
constexpr int kMinTileTokens = 3;

template <typename T, void (*Avx2)(int64_t, const void*, size_t, int, const void*, size_t, int, float*, size_t)>
void dot_half(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  // The AVX2 kernel in its tiles of up to 4 rows (it takes any number of tokens).
  auto avx2 = [&](const char* a, int nt, float* o) {
    for (int r = 0; r < nrows; r += 4) {
      Avx2(n, static_cast<const char*>(w) + r * stride, stride, std::min(4, nrows - r), a, act_stride, nt, o + r,
           out_stride);
    }
  };
  const char* wc = static_cast<const char*>(w);
  for (int t0 = 0; t0 < ntok; t0 += kTileTokens) {
    const char* a = static_cast<const char*>(act) + t0 * act_stride;
    float* o = out + t0 * out_stride;
    const int nt = std::min(kTileTokens, ntok - t0);
    if (nt < kMinTileTokens) {
      avx2(a, nt, o);
      continue;
    }
    // dot_half_tile<T, nt>, nt in [kMinTileTokens, kTileTokens].
    [&]<int... K>(std::integer_sequence<int, K...>) {
      ((nt == K + kMinTileTokens ? dot_half_tile<T, K + kMinTileTokens>(n, wc, stride, nrows, a, act_stride, o, out_stride)
                                 : void()),
       ...);
    }(std::make_integer_sequence<int, kTileTokens - kMinTileTokens + 1>{});
  }
}

void dot_f16(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
             float* out, size_t out_stride) {
  dot_half<F16, avx2_dot_f16>(n, w, stride, nrows, act, act_stride, ntok, out, out_stride);
}

void dot_bf16(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  dot_half<BF16, avx2_dot_bf16>(n, w, stride, nrows, act, act_stride, ntok, out, out_stride);
}

}  // namespace

void add_avx512_half_kernels(KernelTable& k) {
  k.dot_f16_prefill = dot_f16;
  k.dot_bf16_prefill = dot_bf16;
  k.prefill_tile_rows = kRows;
  k.prefill_tile_tokens = kTileTokens;
  k.prefill_min_tokens = kMinTileTokens;
}

}  // namespace baton::detail
