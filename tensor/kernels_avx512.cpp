// AVX-512 (F, BW, VL, DQ) + VNNI kernels for the quantised weight types. Compiled with
// those flags (see tensor/CMakeLists.txt) and only reached through avx512_kernels(), which
// checks the CPU first. The F16 and BF16 prefill kernels come from kernels_half_avx512.cpp,
// everything else in the table from the AVX2 table.
//
// Why: on CPUs that have it (Zen 4/5, Ice Lake and later) vpdpbusd multiplies 64 unsigned x
// signed byte pairs and adds them into 16 int32 lanes in one instruction, where AVX2 needs
// maddubs + madd (+ a sign fix) for 32 pairs. Prefill of 8-bit and 4-bit weights is
// compute-bound, so this is where llama.cpp's lead on such machines came from.
//
// Each (weight row, token) pair owns one accumulator and sees the same instruction
// sequence whatever the tile shape (DotTileFn's contract), so matvec and matmul agree bit
// for bit and results do not depend on the thread count.
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* initialises a variable
// from itself, GCC bug 105593, fixed in 13): hundreds of false -Wuninitialized lines per
// build. The pragma covers only the header, whose inlined code is where they point.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cstring>
#include <utility>

#include "tensor/kernel_tiles.h"
#include "tensor/kernels_dispatch.h"
#include "tensor/simd_avx2.h"  // half_to_float, load_u16, prefetch_l2 (kPrefetchTiles ahead)

namespace baton::detail {
namespace {

// Up to 4 rows x 4 tokens: this file's F32 tiles take twice the tokens of kernel_tiles.h's.
template <typename Kernel>
void dispatch_tile_4x4(int nrows, int ntok, Kernel k) {
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

// F32 weights against F32 activations, 16 lanes per accumulator, in tiles of up to
// 4 rows x 4 tokens: each weight vector is loaded once for four tokens. The AVX2 table's
// 4 x 2 tiles of 8 lanes spend a load per two FMAs; on a 768 x 3072 matrix at one thread
// these tiles take prefill from 47 to 81-90 GFLOP/s, and decode (one token, memory-bound)
// stays at the same GB/s. Full vectors use plain loads: masked ones on every step cost
// decode a fifth of its bandwidth. (F16 and BF16 do not use this tile: with it their
// prefill was 1.5x faster but their decode 15-25 % slower, and its 16-lane order would
// give other bits than the AVX2 kernel their decode keeps; kernels_half_avx512.cpp has
// their prefill tiles, in the AVX2 order.)
// Every (row, token) pair owns one accumulator and sees the same instructions whatever
// the tile, so matvec and matmul give the same bits.
template <int NR, int NT>
void dot_f32_tile(int64_t n, const char* w, size_t stride, const char* act, size_t act_stride, float* out,
                  size_t out_stride) {
  const size_t ahead = kPrefetchTiles * NR * stride;
  const float* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = reinterpret_cast<const float*>(act + t * act_stride);
  __m512 acc[NR][NT];
  for (auto& row : acc) {
    for (__m512& a : row) a = _mm512_setzero_ps();
  }
  // A full step reads 64 bytes of each row; the last, partial one reads only its lanes
  // (nothing past a row's end), the others loading as 0.
  auto step = [&](int64_t i, __mmask16 m) {
    const bool full = m == 0xFFFF;
    __m512 xv[NT];
    for (int t = 0; t < NT; ++t) xv[t] = full ? _mm512_loadu_ps(x[t] + i) : _mm512_maskz_loadu_ps(m, x[t] + i);
    for (int r = 0; r < NR; ++r) {
      prefetch_l2(w, ahead + r * stride + i * sizeof(float));
      const float* row = reinterpret_cast<const float*>(w + r * stride) + i;
      const __m512 wv = full ? _mm512_loadu_ps(row) : _mm512_maskz_loadu_ps(m, row);
      for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) step(i, static_cast<__mmask16>(0xFFFF));
  if (i < n) step(i, static_cast<__mmask16>((1u << (n - i)) - 1));
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) out[t * out_stride + r] = _mm512_reduce_add_ps(acc[r][t]);
  }
}

void dot_f32(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
             float* out, size_t out_stride) {
  dispatch_tile_4x4(nrows, ntok, [&]<int NR, int NT>() {
    dot_f32_tile<NR, NT>(n, static_cast<const char*>(w), stride, static_cast<const char*>(act), act_stride, out,
                         out_stride);
  });
}

// Q8_0 and Q4_0 weights with the rows across the 16 lanes: after transposing 16 rows'
// codes so that lane r of vector k holds 4 codes of row r, vpdpbusd against 4 activation
// codes broadcast to every lane adds one 4-code group of the block's dot product into each
// row's lane. Eight such steps give 16 rows' exact block sums at once, and the float work
// (convert, scale, accumulate) is then one instruction per 16 rows instead of per row:
// per (row, token, block) about a quarter of the instructions of 4 x 4 tiles of whole
// rows, which spend three float operations per row, token and block pair. A block pair's
// 16 rows are loaded and transposed once per call and used for every token (matmul
// passes them all).
//
// Each lane then does exactly what the scalar reference does for its row: the exact
// integer block sum, converted, times (row scale * activation scale), added to a running
// sum that starts at 0, block after block (a multiply then an add: this file is built
// without implicit FMA contraction). So these rows are bit-identical to the scalar
// table's, whatever the tile, token count or thread count.
constexpr int kWideRows = 16;

// In place: r[i] lane-dword j -> r[j] lane-dword i, for 16 vectors of 16 int32.
inline void transpose_16x16(__m512i r[16]) {
  __m512i a[16], b[16];
  for (int m = 0; m < 8; ++m) {
    a[2 * m] = _mm512_unpacklo_epi32(r[2 * m], r[2 * m + 1]);
    a[2 * m + 1] = _mm512_unpackhi_epi32(r[2 * m], r[2 * m + 1]);
  }
  // b[4q + c], 128-bit lane L: rows 4q..4q+3 at dword 4L + c.
  for (int q = 0; q < 4; ++q) {
    b[4 * q + 0] = _mm512_unpacklo_epi64(a[4 * q], a[4 * q + 2]);
    b[4 * q + 1] = _mm512_unpackhi_epi64(a[4 * q], a[4 * q + 2]);
    b[4 * q + 2] = _mm512_unpacklo_epi64(a[4 * q + 1], a[4 * q + 3]);
    b[4 * q + 3] = _mm512_unpackhi_epi64(a[4 * q + 1], a[4 * q + 3]);
  }
  // Dword 4L + c for all rows: lane Q of it is lane L of b[4Q + c] (a 4 x 4 transpose of lanes).
  for (int c = 0; c < 4; ++c) {
    const __m512i s0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x44);
    const __m512i s1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xEE);
    const __m512i s2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x44);
    const __m512i s3 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xEE);
    r[c] = _mm512_shuffle_i32x4(s0, s2, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(s0, s2, 0xDD);
    r[8 + c] = _mm512_shuffle_i32x4(s1, s3, 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(s1, s3, 0xDD);
  }
}

inline int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// One block of 16 rows: the codes as unsigned bytes (code + kWideBias) in 8 groups of 4 and
// the rows' scales.
struct WideBlock {
  __m512i q[8];
  __m512 d;
  __m512 m;  // Q5_1's per-block offsets; unused by the other types
};

// Lane r: the 16-bit scale at base + r * stride (rows beyond the mask read nothing).
inline __m512 gather_scales(__mmask16 rows, const __m512i offsets, const char* base) {
  const __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, offsets, base, 1);
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
}

// The weight types that go through the rows-across-lanes path: Q8_0, Q4_0; IQ4_NL, which
// is Q4_0's block with each nibble an index into a table of 16 signed levels; and Q5_0,
// whose codes are Q4_0's nibbles plus a fifth bit from qh; Q5_1, the same codes with an
// offset m per block instead of Q5_0's fixed -16.
enum class Wide { Q8_0, Q4_0, IQ4_NL, Q5_0, Q5_1 };
template <Wide K>
constexpr bool kFiveBits = K == Wide::Q5_0 || K == Wide::Q5_1;
static_assert(sizeof(BlockIQ4_NL) == sizeof(BlockQ4_0), "IQ4_NL reuses Q4_0's block layout");

template <Wide K>
constexpr size_t kWideBlockBytes = K == Wide::Q8_0   ? sizeof(BlockQ8_0)
                                   : K == Wide::Q5_0 ? sizeof(BlockQ5_0)
                                   : K == Wide::Q5_1 ? sizeof(BlockQ5_1)
                                                     : sizeof(BlockQ4_0);
// Where a block's codes start (after the f16 scale, and Q5_0's 4 bytes of high bits).
template <Wide K>
constexpr size_t kWideCodesAt = K == Wide::Q5_0 ? offsetof(BlockQ5_0, qs) : K == Wide::Q5_1 ? offsetof(BlockQ5_1, qs) : 2;
template <Wide K>
constexpr size_t kWideHighBitsAt = K == Wide::Q5_1 ? offsetof(BlockQ5_1, qh) : offsetof(BlockQ5_0, qh);
// The unsigned codes are the signed values + this; block_term takes it back exactly.
// (Q5_1's codes are unsigned already: its offset is the block's m.)
template <Wide K>
constexpr int kWideBias = K == Wide::Q4_0 ? 8 : K == Wide::Q5_0 ? 16 : K == Wide::Q5_1 ? 0 : 128;

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// What vpdpbusd takes as its unsigned operand: IQ4_NL's levels + 128 (1..241), so a code's
// byte is the level offset by the same 128 as Q8_0's codes.
inline __m512i iq4_nl_levels_biased() {
  alignas(16) uint8_t t[16];
  for (int i = 0; i < 16; ++i) t[i] = static_cast<uint8_t>(kIQ4NLValues[i] + 128);
  return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(t)));
}

// Row codes of blocks b and b+1 (when `pair`; zeros otherwise) as unsigned bytes, in the
// order of the activation's codes: bytes 0-31 are block b's codes 0-31, bytes 32-63 block
// b+1's. `block` points at the row's block b; `levels` is iq4_nl_levels_biased() (IQ4_NL only).
template <Wide K>
inline __m512i row_codes(const char* block, bool pair, [[maybe_unused]] const __m512i levels) {
  constexpr size_t kBlockBytes = kWideBlockBytes<K>;
  const char* q0 = block + kWideCodesAt<K>;
  if constexpr (K != Wide::Q8_0) {
    // [qs0 | qs0 | qs1 | qs1], the odd 128-bit lanes shifted by 4 -> [low | high] nibbles
    // of each block: codes 0-15 then 16-31, as for Q8_0.
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q0));
    const __m128i hi = pair ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(q0 + kBlockBytes)) : _mm_setzero_si128();
    const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(lo, lo)), _mm256_set_m128i(hi, hi), 1);
    __m512i codes = _mm512_and_si512(_mm512_srlv_epi64(both, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4)),
                                     _mm512_set1_epi8(0x0F));
    if constexpr (K == Wide::IQ4_NL) codes = _mm512_shuffle_epi8(levels, codes);  // nibble -> level + 128
    if constexpr (kFiveBits<K>) {
      // Bit j of a block's qh is code j's fifth bit, and code j sits in byte j of that
      // block's half: one masked add of 16 per byte whose bit is set.
      const uint64_t qh0 = load_u32(block + kWideHighBitsAt<K>);
      const uint64_t qh1 = pair ? load_u32(block + kBlockBytes + kWideHighBitsAt<K>) : 0;
      codes = _mm512_mask_add_epi8(codes, static_cast<__mmask64>(qh0 | (qh1 << 32)), codes, _mm512_set1_epi8(16));
    }
    return codes;
  } else {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q0));
    const __m256i hi = pair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q0 + kBlockBytes)) : _mm256_setzero_si256();
    return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), _mm512_set1_epi8(static_cast<char>(0x80)));
  }
}

// Blocks b and b+1 (when `pair`) of nrows rows starting at w, in lanes. Row r's codes of
// both blocks are laid out as 16 dwords (block b's 32 codes, then block b+1's), so after
// the transpose vector k < 8 is group k of block b and vector 8 + k group k of block b+1.
template <Wide K>
inline void load_block_pair(const char* w, size_t stride, int nrows, __mmask16 rows, const __m512i offsets, int64_t b,
                            bool pair, WideBlock& w0, WideBlock& w1) {
  constexpr size_t kBlockBytes = kWideBlockBytes<K>;
  const __m512i levels = iq4_nl_levels_biased();
  const char* first = w + b * kBlockBytes;
  __m512i r[16];
  for (int i = 0; i < 16; ++i) {
    if (i >= nrows) {
      r[i] = _mm512_setzero_si512();
      continue;
    }
    const char* row = first + i * stride;
    // 16 interleaved row streams are more than the hardware prefetchers follow: while
    // this tile is computed, fetch the same columns of the next tile's rows (the next tile
    // of a thread's rows).
    _mm_prefetch(row + kWideRows * stride, _MM_HINT_T0);
    _mm_prefetch(row + kWideRows * stride + 2 * kBlockBytes - 1, _MM_HINT_T0);
    r[i] = row_codes<K>(row, pair, levels);
  }
  transpose_16x16(r);
  for (int k = 0; k < 8; ++k) {
    w0.q[k] = r[k];
    w1.q[k] = r[8 + k];
  }
  w0.d = gather_scales(rows, offsets, first);
  w1.d = pair ? gather_scales(rows, offsets, first + kBlockBytes) : _mm512_setzero_ps();
  if constexpr (K == Wide::Q5_1) {
    w0.m = gather_scales(rows, offsets, first + offsetof(BlockQ5_1, m));
    w1.m = pair ? gather_scales(rows, offsets, first + kBlockBytes + offsetof(BlockQ5_1, m)) : _mm512_setzero_ps();
  }
}

// Group k of a block pairs with activation codes 4k..4k+3 (for Q4_0 too: its codes 16-31
// are the high nibbles). The weights were offset by kWideBias, taken back exactly by starting
// from -kWideBias * (sum of the activation block's codes). Q5_1 adds m * dy * that sum, as its
// scalar reference does.
template <Wide K>
inline __m512 block_term(const WideBlock& w, const BlockQ8_0& a, const Q8BlockSums& s) {
  __m512i lo = _mm512_set1_epi32(-kWideBias<K> * s.sum);
  __m512i hi = _mm512_setzero_si512();
  for (int k = 0; k < 4; ++k) {
    lo = _mm512_dpbusd_epi32(lo, w.q[k], _mm512_set1_epi32(load_i32(a.qs + 4 * k)));
    hi = _mm512_dpbusd_epi32(hi, w.q[k + 4], _mm512_set1_epi32(load_i32(a.qs + 16 + 4 * k)));
  }
  const __m512i sum = _mm512_add_epi32(lo, hi);
  const __m512 dy = _mm512_set1_ps(s.d);
  const __m512 scaled = _mm512_mul_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(w.d, dy));
  if constexpr (K == Wide::Q5_1) {
    return _mm512_add_ps(scaled, _mm512_mul_ps(_mm512_set1_ps(static_cast<float>(s.sum)), _mm512_mul_ps(w.m, dy)));
  }
  return scaled;
}

// Rows [0, nrows) of the tile against tokens [0, ntok). NT > 0: exactly NT tokens whose
// running sums stay in registers (decode, short verification frames); NT == 0: any
// number, the running sums kept in `out` between block pairs. The additions per lane are
// the same either way.
template <Wide K, int NT>
void dot_q8_0_like_wide(int64_t n, const char* w, size_t stride, int nrows, const char* act, size_t act_stride,
                        int ntok, float* out, size_t out_stride) {
  const int64_t nb = n / kQK;
  const size_t sums_at = q8_0_sums_offset(n);
  const __mmask16 rows = nrows >= kWideRows ? __mmask16(0xFFFF) : __mmask16((1u << nrows) - 1);
  // 15 * stride fits in int32 for any row under 140 MB.
  const __m512i offsets = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(static_cast<int>(stride)));
  auto blocks_of = [&](int t) { return reinterpret_cast<const BlockQ8_0*>(act + t * act_stride); };
  auto sums_of = [&](int t) { return reinterpret_cast<const Q8BlockSums*>(act + t * act_stride + sums_at); };
  __m512 acc[NT > 0 ? NT : 1];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  // Two blocks per pass over the tokens: each token's running sums are read and written
  // once per pair, and the two blocks' dot products overlap.
  for (int64_t b = 0; b < nb; b += 2) {
    const bool pair = b + 1 < nb;
    WideBlock w0, w1;
    load_block_pair<K>(w, stride, nrows, rows, offsets, b, pair, w0, w1);
    if constexpr (NT > 0) {
      for (int t = 0; t < NT; ++t) {
        acc[t] = _mm512_add_ps(acc[t], block_term<K>(w0, blocks_of(t)[b], sums_of(t)[b]));
        if (pair) acc[t] = _mm512_add_ps(acc[t], block_term<K>(w1, blocks_of(t)[b + 1], sums_of(t)[b + 1]));
      }
    } else {
      for (int t = 0; t < ntok; ++t) {
        float* o = out + t * out_stride;
        __m512 sum = b == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(rows, o);
        sum = _mm512_add_ps(sum, block_term<K>(w0, blocks_of(t)[b], sums_of(t)[b]));
        if (pair) sum = _mm512_add_ps(sum, block_term<K>(w1, blocks_of(t)[b + 1], sums_of(t)[b + 1]));
        _mm512_mask_storeu_ps(o, rows, sum);
      }
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(out + t * out_stride, rows, acc[t]);
}

// 128-bit lane j of the result: [x0, x1, x2, x3], each the sum of that lane's 4 dwords of
// x[r]. Integer adds: exact.
inline __m512i sum_lane_quads(const __m512i x[4]) {
  // Per 128-bit lane: [x0 a+c, x1 a+c, x0 b+d, x1 b+d] for dwords a, b, c, d of it.
  const __m512i x01 = _mm512_add_epi32(_mm512_unpacklo_epi32(x[0], x[1]), _mm512_unpackhi_epi32(x[0], x[1]));
  const __m512i x23 = _mm512_add_epi32(_mm512_unpacklo_epi32(x[2], x[3]), _mm512_unpackhi_epi32(x[2], x[3]));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(x01, x23), _mm512_unpackhi_epi64(x01, x23));
}

// Lane r (r < 4) of the first result: sum of the 8 int32 lanes 0-7 of x[r] (block b's
// partial sums of row r); of the second, lanes 8-15 (block b+1's). Integer adds: exact.
inline void sum_block_halves(const __m512i x[4], __m128i& block0, __m128i& block1) {
  const __m512i y = sum_lane_quads(x);
  // 128-bit lanes 0 + 1 are block b, 2 + 3 block b+1.
  const __m512i z = _mm512_add_epi32(y, _mm512_shuffle_i32x4(y, y, _MM_SHUFFLE(2, 3, 0, 1)));
  block0 = _mm512_castsi512_si128(z);
  block1 = _mm512_extracti32x4_epi32(z, 2);
}

// Lanes r and 4 + r: the f16 at row r's block b and block b+1 (+ offset), as float.
template <int NR>
inline __m256 pair_halves(const char* block, size_t stride, size_t block_bytes, size_t offset) {
  __m128i h = _mm_setzero_si128();
  [&]<int... R>(std::integer_sequence<int, R...>) {
    ((h = _mm_insert_epi16(h, load_u16(block + R * stride + offset), R)), ...);
    ((h = _mm_insert_epi16(h, load_u16(block + R * stride + block_bytes + offset), R + 4)), ...);
  }(std::make_integer_sequence<int, NR>{});
  return _mm256_cvtph_ps(h);
}

// Q4_0 and IQ4_NL in one token's kernel, four blocks at a time. Their blocks are 18 bytes
// (an f16 scale, then 16 code bytes), so a row's four blocks are one 64-byte load (plus the
// last block's codes): one vpermw lays the codes out with block j in 128-bit lane j, where
// the nibbles unpack with two ANDs and a shift, and another pulls 4 rows' scales out of
// those loads. The activation's codes 0-15 and 16-31 of the four blocks are built the same
// way. The exact sums of 4 rows x 4 blocks then reduce together into block-major lanes
// (6 shuffles for 16 sums, against 7 for 8 in a pair step) and the float steps run on all
// 16 at once. Per row these are the pair step's operations in the same order: the same bits.
template <Wide K>
constexpr bool kQuadSteps = K == Wide::Q4_0 || K == Wide::IQ4_NL;
template <Wide K>
constexpr int kBiasShift = K == Wide::Q4_0 ? 3 : 7;  // log2(kWideBias)
static_assert((1 << kBiasShift<Wide::Q4_0>) == kWideBias<Wide::Q4_0> &&
              (1 << kBiasShift<Wide::IQ4_NL>) == kWideBias<Wide::IQ4_NL>);

// The vpermw / vpermt2w indices a quad step uses (in halfwords).
struct QuadIndices {
  __m512i codes;      // of a row's 64-byte load: block j's codes (halfwords 1 + 9j ..) to lane j (j < 3)
  __m512i scales_01;  // rows 0, 1's scales (halfword 9j of each load) to halfwords 4j, 4j + 1
  __m512i scales_23;  // rows 2, 3's to 4j + 2, 4j + 3
  __m512i act_lo;     // activation codes 0-15 of block j (byte 2 + 34j) to lane j, from 128 bytes at 0
  __m512i act_hi;     // codes 16-31 (byte 18 + 34j), from 128 bytes at 8
};
inline QuadIndices quad_indices() {
  alignas(64) int16_t codes[32] = {}, s01[32] = {}, s23[32] = {}, lo[32], hi[32];
  for (int j = 0; j < 4; ++j) {
    for (int i = 0; i < 8; ++i) {
      if (j < 3) codes[8 * j + i] = static_cast<int16_t>(1 + 9 * j + i);
      lo[8 * j + i] = static_cast<int16_t>(1 + 17 * j + i);
      hi[8 * j + i] = static_cast<int16_t>(5 + 17 * j + i);
    }
    s01[4 * j] = s23[4 * j + 2] = static_cast<int16_t>(9 * j);
    s01[4 * j + 1] = s23[4 * j + 3] = static_cast<int16_t>(32 + 9 * j);
  }
  auto v = [](const int16_t* x) { return _mm512_load_si512(x); };
  return {v(codes), v(s01), v(s23), v(lo), v(hi)};
}

template <Wide K, int NR>
inline __m128 quad_step(const char* block, size_t stride, size_t ahead, const BlockQ8_0* a, const Q8BlockSums* s,
                        const __m512i levels, const QuadIndices& ix, __m128 acc) {
  static_assert(kQuadSteps<K> && kWideBlockBytes<K> == 18 && kWideCodesAt<K> == 2, "18-byte blocks, codes after the scale");
  static_assert(sizeof(BlockQ8_0) == 34 && offsetof(BlockQ8_0, qs) == 2, "act_lo / act_hi assume 34-byte blocks");
  static_assert(offsetof(Q8BlockSums, d) == 0 && offsetof(Q8BlockSums, sum) == 4 && sizeof(Q8BlockSums) == 8,
                "four blocks' {d, sum} are loaded as 8 dwords");
  constexpr size_t kBlockBytes = 18;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const char* ab = reinterpret_cast<const char*>(a);  // 136 bytes: the four activation blocks
  const __m512i y_lo = _mm512_permutex2var_epi16(_mm512_loadu_si512(ab), ix.act_lo, _mm512_loadu_si512(ab + 64));
  const __m512i y_hi = _mm512_permutex2var_epi16(_mm512_loadu_si512(ab + 8), ix.act_hi, _mm512_loadu_si512(ab + 72));
  __m512i raw[4], dots[4];
  for (int r = 0; r < 4; ++r) {
    if (r >= NR) {
      raw[r] = dots[r] = _mm512_setzero_si512();
      continue;
    }
    const char* row = block + r * stride;
    // This quad's 72 bytes touch at most 3 lines: the last byte's, the one 64 before it,
    // and (only if it is a third) the line of the previous quad's last byte.
    prefetch_l2(row, ahead + 4 * kBlockBytes - 1);
    prefetch_l2(row, ahead + 4 * kBlockBytes - 1 - 64);
    raw[r] = _mm512_loadu_si512(row);
    const __m128i last = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 3 * kBlockBytes + 2));
    const __m512i q = _mm512_inserti32x4(_mm512_permutexvar_epi16(ix.codes, raw[r]), last, 3);
    __m512i lo = _mm512_and_si512(q, low4);
    __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
    if constexpr (K == Wide::IQ4_NL) {
      lo = _mm512_shuffle_epi8(levels, lo);  // nibble -> level + 128
      hi = _mm512_shuffle_epi8(levels, hi);
    }
    dots[r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, y_lo), hi, y_hi);
  }
  // 128-bit lane j: [row 0, 1, 2, 3] sums of block j.
  const __m512i sums = sum_lane_quads(dots);
  // The four blocks' activation scales and code sums ({d, sum} pairs), to every row's lane.
  const __m512i act = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)));
  const __m512i pick_d = _mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6);
  const __m512i pick_sum = _mm512_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7);
  const __m512 dy = _mm512_castsi512_ps(_mm512_permutexvar_epi32(pick_d, act));
  const __m512i code_sums = _mm512_permutexvar_epi32(pick_sum, act);
  // The weights were offset by kWideBias; take it back exactly, as block_term does.
  const __m512i exact = _mm512_sub_epi32(sums, _mm512_slli_epi32(code_sums, kBiasShift<K>));
  const __m512i scales = _mm512_mask_blend_epi16(0xCCCCCCCC, _mm512_permutex2var_epi16(raw[0], ix.scales_01, raw[1]),
                                                 _mm512_permutex2var_epi16(raw[2], ix.scales_23, raw[3]));
  const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(scales));
  const __m512 terms = _mm512_mul_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(dw, dy));
  acc = _mm_add_ps(acc, _mm512_castps512_ps128(terms));
  acc = _mm_add_ps(acc, _mm512_extractf32x4_ps(terms, 1));
  acc = _mm_add_ps(acc, _mm512_extractf32x4_ps(terms, 2));
  return _mm_add_ps(acc, _mm512_extractf32x4_ps(terms, 3));
}

// One token (decode). The tile above transposes 16 rows' codes for every block pair, which
// one token cannot amortise, and its 16 interleaved row streams are more than the hardware
// prefetchers follow: Q8_0 matvec ran at 8-17 GB/s against 22-31 for the AVX2 kernel, and
// decode at 0.55x llama.cpp's. Here NR <= 4 rows are read front to back, two blocks of a
// row are one vpdpbusd against the token's two blocks, and the exact integer sums are
// reduced across lanes afterwards. Per row the float steps are block_term's, in the same
// order, so the bits are the wide tile's and the scalar reference's.
template <Wide K, int NR>
void dot_q8_0_like_rows_1tok(int64_t n, const char* w, size_t stride, const char* act, const Q8BlockSums* sums,
                             float* out) {
  constexpr size_t kBlockBytes = kWideBlockBytes<K>;
  const int64_t nb = n / kQK;
  const __m512i levels = iq4_nl_levels_biased();
  const auto* a = reinterpret_cast<const BlockQ8_0*>(act);
  const size_t ahead = kPrefetchTiles * NR * stride;
  __m128 acc = _mm_setzero_ps();
  // Blocks b and b + 1 (b alone when !Pair: the last of an odd count).
  auto step = [&]<bool Pair>(int64_t b) {
    const __m256i y_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256i y_hi = Pair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b + 1].qs)) : _mm256_setzero_si256();
    const __m512i y = _mm512_inserti64x4(_mm512_castsi256_si512(y_lo), y_hi, 1);
    const char* block = w + b * kBlockBytes;
    __m512i dots[4];
    for (int r = 0; r < 4; ++r) {
      if (r >= NR) {
        dots[r] = _mm512_setzero_si512();
        continue;
      }
      // The last byte's line; the first byte's too when the two blocks span more than a
      // line (otherwise the previous pair's last byte shares its line, or this one does).
      if constexpr (2 * kBlockBytes > 64) prefetch_l2(block, ahead + r * stride);
      prefetch_l2(block, ahead + r * stride + 2 * kBlockBytes - 1);
      dots[r] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), row_codes<K>(block + r * stride, Pair, levels), y);
    }
    __m128i isum[2];
    sum_block_halves(dots, isum[0], isum[1]);
    const __m256 dw = pair_halves<NR>(block, stride, Pair ? kBlockBytes : 0, 0);
    [[maybe_unused]] __m256 mw;
    if constexpr (K == Wide::Q5_1) mw = pair_halves<NR>(block, stride, Pair ? kBlockBytes : 0, offsetof(BlockQ5_1, m));
    for (int h = 0; h < (Pair ? 2 : 1); ++h) {
      const Q8BlockSums& s = sums[b + h];
      // The weights were offset by kWideBias; take it back exactly, as block_term does.
      const __m128i exact = _mm_sub_epi32(isum[h], _mm_set1_epi32(kWideBias<K> * s.sum));
      const __m128 dy = _mm_set1_ps(s.d);
      const __m128 d = h == 0 ? _mm256_castps256_ps128(dw) : _mm256_extractf128_ps(dw, 1);
      __m128 term = _mm_mul_ps(_mm_cvtepi32_ps(exact), _mm_mul_ps(d, dy));
      if constexpr (K == Wide::Q5_1) {
        const __m128 m = h == 0 ? _mm256_castps256_ps128(mw) : _mm256_extractf128_ps(mw, 1);
        term = _mm_add_ps(term, _mm_mul_ps(_mm_set1_ps(static_cast<float>(s.sum)), _mm_mul_ps(m, dy)));
      }
      acc = _mm_add_ps(acc, term);
    }
  };
  int64_t b = 0;
  if constexpr (kQuadSteps<K>) {
    const QuadIndices ix = quad_indices();
    for (; b + 4 <= nb; b += 4) acc = quad_step<K, NR>(w + b * kBlockBytes, stride, ahead, a + b, sums + b, levels, ix, acc);
  }
  for (; b + 1 < nb; b += 2) step.template operator()<true>(b);
  if (b < nb) step.template operator()<false>(b);
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, acc);
  for (int r = 0; r < NR; ++r) out[r] = lanes[r];
}

template <Wide K>
void dot_q8_0_like_rows_1tok_any(int64_t n, const char* w, size_t stride, int nrows, const char* act, float* out) {
  const auto* sums = reinterpret_cast<const Q8BlockSums*>(act + q8_0_sums_offset(n));
  for (int r = 0; r < nrows; r += 4) {
    const char* rows = w + r * stride;
    switch (std::min(4, nrows - r)) {
      case 4: dot_q8_0_like_rows_1tok<K, 4>(n, rows, stride, act, sums, out + r); break;
      case 3: dot_q8_0_like_rows_1tok<K, 3>(n, rows, stride, act, sums, out + r); break;
      case 2: dot_q8_0_like_rows_1tok<K, 2>(n, rows, stride, act, sums, out + r); break;
      default: dot_q8_0_like_rows_1tok<K, 1>(n, rows, stride, act, sums, out + r); break;
    }
  }
}

template <Wide K>
void dot_q8_0_like_wide_any(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride,
                            int ntok, float* out, size_t out_stride) {
  const auto* wc = static_cast<const char*>(w);
  const auto* ac = static_cast<const char*>(act);
  // A few tokens (short verification frames): the one-token kernel per token beats the
  // transpose, whose cost is spread over too few tokens (measured on 3072 x 768 at one
  // thread: Q8_0 2 tokens 221 against 339 us, 3 tokens 313 against 354; the 4-bit types
  // break even at 2 tokens and lose at 3). The bits are the same either way.
  if (ntok <= (K == Wide::Q8_0 ? 3 : 2)) {
    for (int t = 0; t < ntok; ++t) dot_q8_0_like_rows_1tok_any<K>(n, wc, stride, nrows, ac + t * act_stride, out + t * out_stride);
    return;
  }
  switch (ntok) {
    case 3: return dot_q8_0_like_wide<K, 3>(n, wc, stride, nrows, ac, act_stride, ntok, out, out_stride);
    case 4: return dot_q8_0_like_wide<K, 4>(n, wc, stride, nrows, ac, act_stride, ntok, out, out_stride);
    default: return dot_q8_0_like_wide<K, 0>(n, wc, stride, nrows, ac, act_stride, ntok, out, out_stride);
  }
}


// Horizontal sums of 16 vectors at once: lane j of the result = sum of x[j]'s lanes
// (exact int32). Each step adds neighbouring lanes of two vectors into one.
inline __m512i sum_lanes_16(__m512i x[16]) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int n = 16; n > 1; n /= 2) {
    for (int i = 0; i < n / 2; ++i) {
      x[i] = _mm512_add_epi32(_mm512_permutex2var_epi32(x[2 * i], even, x[2 * i + 1]),
                              _mm512_permutex2var_epi32(x[2 * i], odd, x[2 * i + 1]));
    }
  }
  return x[0];
}

// The K-quant tiles below hold (row r, token t) in lane NT * r + t (up to 16 / NT rows of
// NT tokens): each block's integer sums of all pairs are reduced together, then the
// scalar reference's float steps run on the 16 lanes at once (per lane the same
// operations in the same order, so the same bits as the reference).
template <int NT>
inline __m512 per_row_lanes(const float v[16]) {  // lane NT * r + t = v[r]
  alignas(64) int32_t idx[16];
  for (int j = 0; j < 16; ++j) idx[j] = j / NT;
  return _mm512_permutexvar_ps(_mm512_load_si512(idx), _mm512_loadu_ps(v));
}
template <int NT>
inline __m512 per_token_lanes(const float v[4]) {  // lane NT * r + t = v[t]
  alignas(64) int32_t idx[16];
  for (int j = 0; j < 16; ++j) idx[j] = j % NT;
  return _mm512_permutexvar_ps(_mm512_load_si512(idx), _mm512_castps128_ps512(_mm_loadu_ps(v)));
}
template <int NT>
inline void store_lanes(__m512 sums, int nr, float* out, size_t out_stride) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sums);
  for (int r = 0; r < nr; ++r)
    for (int t = 0; t < NT; ++t) out[t * out_stride + r] = lanes[NT * r + t];
}

// vpermw indices: int16 lanes 0-15 take element 2j, lanes 16-31 element 2j+1.
inline __m512i pick_pair_index(int j) {
  return _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(2 * j)), _mm256_set1_epi16(static_cast<short>(2 * j + 1)), 1);
}

// Q4_K against Q8_K, 64 values (two 32-value sub-blocks) per step: the 32 packed bytes
// become [low nibbles | high nibbles], which is exactly the order of the 64 activation
// bytes; maddubs gives pair sums (at most 2*15*128), vpdpwssd scales them by the
// sub-blocks' 6-bit scales and adds into int32.
template <int NT>
void dot_q4_K_tile(int64_t n, const char* w, size_t stride, int nr, const char* act, size_t act_stride, float* out,
                   size_t out_stride) {
  constexpr int NR = 16 / NT;  // rows a full tile holds; nr <= NR of them are real
  const int64_t nb = n / kQK_K;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i nibble_shift = _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4);
  __m512i pick[4];
  for (int j = 0; j < 4; ++j) pick[j] = pick_pair_index(j);
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    __m512i scaled[16];
    alignas(64) int32_t mins_sum[16] = {};
    float d[16] = {}, dmin[16] = {}, ad[4] = {};
    for (int k = nr * NT; k < 16; ++k) scaled[k] = _mm512_setzero_si512();
    for (int t = 0; t < NT; ++t) ad[t] = a[t][i].d;
    // Sums of each activation over the 32-value sub-blocks, for the "- dmin * m" term.
    __m128i sub_sums[NT];
    for (int t = 0; t < NT; ++t) {
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][i].bsums));
      sub_sums[t] = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
    }
    for (int r = 0; r < nr; ++r) {
      const size_t at = r * stride + i * sizeof(BlockQ4_K);
      prefetch_l2(w, kPrefetchTiles * NR * stride + at);
      prefetch_l2(w, kPrefetchTiles * NR * stride + at + 64);
      prefetch_l2(w, kPrefetchTiles * NR * stride + at + sizeof(BlockQ4_K) - 1);
      const BlockQ4_K& b = *reinterpret_cast<const BlockQ4_K*>(w + at);
      uint32_t utmp[4];
      q4k_unpack_scales(b.scales, utmp);
      const __m512i scales16 = _mm512_zextsi128_si512(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, int(utmp[1]), int(utmp[0]))));
      const __m128i mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, int(utmp[3]), int(utmp[2])));
      d[r] = half_to_float(b.d);
      dmin[r] = half_to_float(b.dmin);
      __m512i sumi[NT];
      for (int t = 0; t < NT; ++t) {
        const __m128i min_prod = _mm_madd_epi16(mins, sub_sums[t]);
        __m128i s = _mm_add_epi32(min_prod, _mm_unpackhi_epi64(min_prod, min_prod));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
        mins_sum[NT * r + t] = _mm_cvtsi128_si32(s);
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
      for (int t = 0; t < NT; ++t) scaled[NT * r + t] = sumi[t];
    }
    // sum += a.d * (d * scaled - dmin * mins), as the scalar reference rounds it.
    const __m512 scaled_f = _mm512_cvtepi32_ps(sum_lanes_16(scaled));
    const __m512 mins_f = _mm512_cvtepi32_ps(_mm512_load_si512(mins_sum));
    const __m512 diff =
        _mm512_sub_ps(_mm512_mul_ps(per_row_lanes<NT>(d), scaled_f), _mm512_mul_ps(per_row_lanes<NT>(dmin), mins_f));
    sum = _mm512_add_ps(sum, _mm512_mul_ps(per_token_lanes<NT>(ad), diff));
  }
  store_lanes<NT>(sum, nr, out, out_stride);
}

// Up to kWideRows rows and any number of tokens, in tiles of NT <= 4 tokens x 16 / NT
// rows (each row's result is the scalar reference's bits, so how a call is cut does not
// matter).
template <typename Tile>
void narrow_tiles(int nrows, int ntok, size_t stride, size_t act_stride, size_t out_stride, const char* w,
                  const char* act, float* out, Tile tile) {
  for (int t = 0; t < ntok; t += 4) {
    const int nt = std::min(4, ntok - t);
    const int tile_rows = 16 / nt;
    for (int r = 0; r < nrows; r += tile_rows) {
      const int nr = std::min(tile_rows, nrows - r);
      const char* wt = w + r * stride;
      const char* at = act + t * act_stride;
      float* ot = out + t * out_stride + r;
      switch (nt) {
        case 4: tile.template operator()<4>(wt, nr, at, ot); break;
        case 3: tile.template operator()<3>(wt, nr, at, ot); break;
        case 2: tile.template operator()<2>(wt, nr, at, ot); break;
        default: tile.template operator()<1>(wt, nr, at, ot); break;
      }
    }
  }
}

// Q4_K with the rows across the lanes, as dot_q8_0_like_wide does for Q8_0: a block of
// 16 rows is unpacked to one byte per code and transposed once (lane r of codes[g] holds
// codes 4g..4g+3 of row r), then every token runs 64 vpdpbusd for the 16 rows' eight
// sub-block sums, scales them with vpmulld, takes the mins term with 4 vpdpwssd, and does
// the scalar reference's float steps for 16 rows at once. Worth it from a few tokens on:
// the unpacking costs about as much as 8 tokens' dot products.
constexpr int kKLanesMinTokens = 8;

void dot_q4_K_lanes(int64_t n, const char* w, size_t stride, int nrows, const char* act, size_t act_stride, int ntok,
                    float* out, size_t out_stride) {
  const int64_t nb = n / kQK_K;
  const __mmask16 rows = nrows >= kWideRows ? __mmask16(0xFFFF) : __mmask16((1u << nrows) - 1);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i nibble_shift = _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4);
  for (int64_t b = 0; b < nb; ++b) {
    __m512i codes[64];
    for (int part = 0; part < 4; ++part) {
      // Row i's 32 bytes qs[32p..32p+31]: low nibbles are sub-block 2p, high ones 2p+1.
      __m512i r[16];
      for (int i = 0; i < 16; ++i) {
        if (i >= nrows) {
          r[i] = _mm512_setzero_si512();
          continue;
        }
        const auto& blk = *reinterpret_cast<const BlockQ4_K*>(w + i * stride + b * sizeof(BlockQ4_K));
        const __m512i bits = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 32 * part)));
        r[i] = _mm512_and_si512(_mm512_srlv_epi64(bits, nibble_shift), low4);
      }
      transpose_16x16(r);
      for (int k = 0; k < 16; ++k) codes[16 * part + k] = r[k];
    }
    // Per row: the 8 sub-block scales, the mins as int16 pairs (sub-blocks 2p, 2p+1), d, dmin.
    alignas(64) int32_t scale[8][16] = {};
    alignas(64) int32_t min_pair[4][16] = {};
    alignas(64) float d[16] = {}, dmin[16] = {};
    for (int i = 0; i < nrows; ++i) {
      const auto& blk = *reinterpret_cast<const BlockQ4_K*>(w + i * stride + b * sizeof(BlockQ4_K));
      uint32_t utmp[4];
      q4k_unpack_scales(blk.scales, utmp);
      uint8_t sc[8], mn[8];
      std::memcpy(sc, utmp, 8);
      std::memcpy(mn, utmp + 2, 8);
      for (int j = 0; j < 8; ++j) scale[j][i] = sc[j];
      for (int p = 0; p < 4; ++p) min_pair[p][i] = mn[2 * p] | (mn[2 * p + 1] << 16);
      d[i] = half_to_float(blk.d);
      dmin[i] = half_to_float(blk.dmin);
    }
    __m512i scales[8], mins[4];
    for (int j = 0; j < 8; ++j) scales[j] = _mm512_load_si512(scale[j]);
    for (int p = 0; p < 4; ++p) mins[p] = _mm512_load_si512(min_pair[p]);
    const __m512 dv = _mm512_load_ps(d);
    const __m512 dminv = _mm512_load_ps(dmin);
    for (int t = 0; t < ntok; ++t) {
      const BlockQ8_K& a = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride)[b];
      __m512i scaled = _mm512_setzero_si512();
      for (int j = 0; j < 8; ++j) {
        __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
        for (int k = 0; k < 4; ++k) {
          lo = _mm512_dpbusd_epi32(lo, codes[8 * j + k], _mm512_set1_epi32(load_i32(a.qs + 32 * j + 4 * k)));
          hi = _mm512_dpbusd_epi32(hi, codes[8 * j + 4 + k], _mm512_set1_epi32(load_i32(a.qs + 32 * j + 16 + 4 * k)));
        }
        scaled = _mm512_add_epi32(scaled, _mm512_mullo_epi32(scales[j], _mm512_add_epi32(lo, hi)));
      }
      __m512i min_sum = _mm512_setzero_si512();
      for (int p = 0; p < 4; ++p) {
        const int s0 = a.bsums[4 * p] + a.bsums[4 * p + 1];
        const int s1 = a.bsums[4 * p + 2] + a.bsums[4 * p + 3];
        min_sum = _mm512_dpwssd_epi32(min_sum, mins[p], _mm512_set1_epi32((s0 & 0xFFFF) | (s1 << 16)));
      }
      // sum += a.d * (d * scaled - dmin * mins), as the scalar reference rounds it.
      const __m512 diff = _mm512_sub_ps(_mm512_mul_ps(dv, _mm512_cvtepi32_ps(scaled)),
                                        _mm512_mul_ps(dminv, _mm512_cvtepi32_ps(min_sum)));
      float* o = out + t * out_stride;
      const __m512 prev = b == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(rows, o);
      _mm512_mask_storeu_ps(o, rows, _mm512_add_ps(prev, _mm512_mul_ps(_mm512_set1_ps(a.d), diff)));
    }
  }
}

void dot_q4_K(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  if (ntok >= kKLanesMinTokens) {
    return dot_q4_K_lanes(n, static_cast<const char*>(w), stride, nrows, static_cast<const char*>(act), act_stride, ntok,
                          out, out_stride);
  }
  narrow_tiles(nrows, ntok, stride, act_stride, out_stride, static_cast<const char*>(w), static_cast<const char*>(act),
               out, [&]<int NT>(const char* wt, int nr, const char* at, float* ot) {
                 dot_q4_K_tile<NT>(n, wt, stride, nr, at, act_stride, ot, out_stride);
               });
}
// Q6_K against Q8_K, 64 values (four 16-value sub-blocks) per step. Codes are 6 bits
// stored +32: sum sc*(q-32)*y = sum sc*q*y - 32 * sum_s sc_s * bsum_s, the second term
// taken once per block as the accumulator's starting value.
template <int NT>
void dot_q6_K_tile(int64_t n, const char* w, size_t stride, int nr, const char* act, size_t act_stride, float* out,
                   size_t out_stride) {
  constexpr int NR = 16 / NT;  // rows a full tile holds; nr <= NR of them are real
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
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    __m512i sums[16];
    float d[16] = {}, ad[4] = {};
    for (int k = nr * NT; k < 16; ++k) sums[k] = _mm512_setzero_si512();
    for (int t = 0; t < NT; ++t) ad[t] = a[t][i].d;
    for (int r = 0; r < nr; ++r) {
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
      d[r] = half_to_float(b.d);
      for (int t = 0; t < NT; ++t) sums[NT * r + t] = sumi[t];
    }
    // sum += (d * a.d) * sumi, as the scalar reference rounds it.
    const __m512 scale = _mm512_mul_ps(per_row_lanes<NT>(d), per_token_lanes<NT>(ad));
    sum = _mm512_add_ps(sum, _mm512_mul_ps(scale, _mm512_cvtepi32_ps(sum_lanes_16(sums))));
  }
  store_lanes<NT>(sum, nr, out, out_stride);
}

// Q6_K with the rows across the lanes, as dot_q4_K_lanes: codes unpacked to bytes (0-63,
// stored +32) and transposed once per block of 16 rows; per token 64 vpdpbusd give the 16
// sub-block sums, vpmulld scales them, and the +32 offset is taken back exactly with the
// activation's 16-value sums: sum sc*(q-32)*y = sum sc*q*y - 32 * sum sc*bsum.
void dot_q6_K_lanes(int64_t n, const char* w, size_t stride, int nrows, const char* act, size_t act_stride, int ntok,
                    float* out, size_t out_stride) {
  const int64_t nb = n / kQK_K;
  const __mmask16 rows = nrows >= kWideRows ? __mmask16(0xFFFF) : __mmask16((1u << nrows) - 1);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i low2 = _mm512_set1_epi8(0x03);
  for (int64_t b = 0; b < nb; ++b) {
    // Row i's codes in value order, 64 per part: part 2h + k is q[k] of half h below.
    __m512i codes[64];
    for (int part = 0; part < 4; ++part) {
      const int half = part / 2, k = part % 2;
      __m512i r[16];
      for (int i = 0; i < 16; ++i) {
        if (i >= nrows) {
          r[i] = _mm512_setzero_si512();
          continue;
        }
        const auto& blk = *reinterpret_cast<const BlockQ6_K*>(w + i * stride + b * sizeof(BlockQ6_K));
        const __m512i ql = _mm512_loadu_si512(blk.ql + 64 * half);
        const __m256i qh32 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * half));
        const __m512i qh = _mm512_inserti64x4(_mm512_zextsi256_si512(qh32), _mm256_srli_epi16(qh32, 2), 1);
        r[i] = k == 0 ? _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_slli_epi16(_mm512_and_si512(qh, low2), 4))
                      : _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                        _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 4), low2), 4));
      }
      transpose_16x16(r);
      for (int g = 0; g < 16; ++g) codes[16 * part + g] = r[g];
    }
    // Per row: the 16 sub-block scales, the same as int16 pairs (2q, 2q+1), d.
    alignas(64) int32_t scale[16][16] = {};
    alignas(64) int32_t scale_pair[8][16] = {};
    alignas(64) float d[16] = {};
    for (int i = 0; i < nrows; ++i) {
      const auto& blk = *reinterpret_cast<const BlockQ6_K*>(w + i * stride + b * sizeof(BlockQ6_K));
      for (int sb = 0; sb < 16; ++sb) scale[sb][i] = blk.scales[sb];
      for (int q = 0; q < 8; ++q) {
        scale_pair[q][i] = static_cast<int32_t>(static_cast<uint16_t>(blk.scales[2 * q]) |
                                                (static_cast<uint32_t>(static_cast<uint16_t>(blk.scales[2 * q + 1])) << 16));
      }
      d[i] = half_to_float(blk.d);
    }
    const __m512 dv = _mm512_load_ps(d);
    for (int t = 0; t < ntok; ++t) {
      const BlockQ8_K& a = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride)[b];
      __m512i sum = _mm512_setzero_si512();
      for (int sb = 0; sb < 16; ++sb) {
        __m512i q = _mm512_setzero_si512();
        for (int g = 0; g < 4; ++g) {
          q = _mm512_dpbusd_epi32(q, codes[4 * sb + g], _mm512_set1_epi32(load_i32(a.qs + 16 * sb + 4 * g)));
        }
        sum = _mm512_add_epi32(sum, _mm512_mullo_epi32(_mm512_load_si512(scale[sb]), q));
      }
      __m512i offset = _mm512_setzero_si512();
      for (int q = 0; q < 8; ++q) {
        const int32_t pair = static_cast<int32_t>(static_cast<uint16_t>(a.bsums[2 * q]) |
                                                  (static_cast<uint32_t>(static_cast<uint16_t>(a.bsums[2 * q + 1])) << 16));
        offset = _mm512_dpwssd_epi32(offset, _mm512_load_si512(scale_pair[q]), _mm512_set1_epi32(pair));
      }
      sum = _mm512_sub_epi32(sum, _mm512_slli_epi32(offset, 5));
      // sum += (d * a.d) * sumi, as the scalar reference rounds it.
      float* o = out + t * out_stride;
      const __m512 prev = b == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(rows, o);
      const __m512 term = _mm512_mul_ps(_mm512_mul_ps(dv, _mm512_set1_ps(a.d)), _mm512_cvtepi32_ps(sum));
      _mm512_mask_storeu_ps(o, rows, _mm512_add_ps(prev, term));
    }
  }
}

void dot_q6_K(int64_t n, const void* w, size_t stride, int nrows, const void* act, size_t act_stride, int ntok,
              float* out, size_t out_stride) {
  if (ntok >= kKLanesMinTokens) {
    return dot_q6_K_lanes(n, static_cast<const char*>(w), stride, nrows, static_cast<const char*>(act), act_stride, ntok,
                          out, out_stride);
  }
  narrow_tiles(nrows, ntok, stride, act_stride, out_stride, static_cast<const char*>(w), static_cast<const char*>(act),
               out, [&]<int NT>(const char* wt, int nr, const char* at, float* ot) {
                 dot_q6_K_tile<NT>(n, wt, stride, nr, at, act_stride, ot, out_stride);
               });
}
}  // namespace

// Not declared in a header on purpose: only kernels_dispatch.cpp may reach it, after the CPU check.
// kernels_half_avx512.cpp: F16 and BF16 prefill tiles with the AVX2 kernels' bits.
void add_avx512_half_kernels(KernelTable& k);

KernelTable avx512_kernel_table(const KernelTable& avx2) {
  KernelTable k = avx2;
  k.name = "avx512vnni";
  k.dot_f32 = dot_f32;
  k.dot_q8_0 = dot_q8_0_like_wide_any<Wide::Q8_0>;
  k.dot_q4_0 = dot_q8_0_like_wide_any<Wide::Q4_0>;
  k.dot_iq4_nl = dot_q8_0_like_wide_any<Wide::IQ4_NL>;
  k.dot_q5_0 = dot_q8_0_like_wide_any<Wide::Q5_0>;
  k.dot_q5_1 = dot_q8_0_like_wide_any<Wide::Q5_1>;
  k.q8_wide_rows = kWideRows;
  k.k_wide_rows = kWideRows;
  k.dot_q4_K = dot_q4_K;
  k.dot_q6_K = dot_q6_K;
  k.tile_tokens = 4;
  add_avx512_half_kernels(k);
  return k;
}

}  // namespace baton::detail
