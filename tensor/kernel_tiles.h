// Pure tile helpers that every SIMD kernel file shares (AVX2, AVX-512, NEON).
//
// Internal linkage on purpose, as in simd_neon.h: each kernel file is compiled with its own
// instruction-set flags, and an inline function with external linkage would let the linker
// keep one file's copy (say the AVX-512 one) for every caller, including CPUs without
// those instructions.
#pragma once

#include <cstdint>
#include <cstring>

namespace baton::detail {
namespace {

// Tiles of up to 4 weight rows x 2 activation rows. Every (row, token) pair owns one
// accumulator and sees the same instruction sequence whatever NR and NT are, so its result
// does not depend on the tiling (see DotTileFn). Weights are loaded/decoded once per tile
// and reused for the NT tokens: that is what makes matmul compute-bound.
template <typename Kernel>
void dispatch_tile(int nrows, int ntok, Kernel k) {
  if (ntok >= 2) {
    switch (nrows) {
      case 4: k.template operator()<4, 2>(); break;
      case 3: k.template operator()<3, 2>(); break;
      case 2: k.template operator()<2, 2>(); break;
      default: k.template operator()<1, 2>(); break;
    }
  } else {
    switch (nrows) {
      case 4: k.template operator()<4, 1>(); break;
      case 3: k.template operator()<3, 1>(); break;
      case 2: k.template operator()<2, 1>(); break;
      default: k.template operator()<1, 1>(); break;
    }
  }
}

// Unpacks the 12 scale bytes of Q4_K and Q5_K (one packing) into 8 scales (bytes 0-7)
// and 8 mins (bytes 8-15).
inline void q4k_unpack_scales(const uint8_t* packed, uint32_t utmp[4]) {
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  std::memcpy(utmp, packed, 12);
  utmp[3] = ((utmp[2] >> 4) & kLow4) | (((utmp[1] >> 6) & kLow2) << 4);  // mins 4-7
  const uint32_t mins_0_3 = utmp[1] & kLow6;
  utmp[1] = (utmp[2] & kLow4) | (((utmp[0] >> 6) & kLow2) << 4);  // scales 4-7
  utmp[2] = mins_0_3;
  utmp[0] &= kLow6;  // scales 0-3
}

}  // namespace
}  // namespace baton::detail
