// quantize_row / dequantize_row / quantization_error_bound: the public entry points,
// dispatching on the dtype to the per-format code in quant_legacy.cpp and quant_kquants.cpp.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "tensor/fp16.h"
#include "tensor/kernels.h"
#include "tensor/quant_common.h"

namespace baton {

namespace {

void check_row(DType t, int64_t n, const char* what) {
  if (n < 0 || !row_fits_blocks(t, static_cast<uint64_t>(n))) {
    throw std::invalid_argument(std::string(what) + ": row of " + std::to_string(n) + " elements is not a multiple of the " +
                                std::string(dtype_name(t)) + " block size " + std::to_string(dtype_info(t).block_elems));
  }
}

}  // namespace

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  check_row(t, n, "dequantize_row");
  switch (t) {
    case DType::F32: {
      const auto* s = static_cast<const float*>(src);
      std::copy(s, s + n, dst);
      return;
    }
    case DType::F16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
      return;
    }
    case DType::BF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::Q8_0: detail::dequantize_row_q8_0(static_cast<const BlockQ8_0*>(src), dst, n); return;
    case DType::Q4_0: detail::dequantize_row_q4_0(static_cast<const BlockQ4_0*>(src), dst, n); return;
    case DType::Q5_0: detail::dequantize_row_q5_0(static_cast<const BlockQ5_0*>(src), dst, n); return;
    case DType::Q5_1: detail::dequantize_row_q5_1(static_cast<const BlockQ5_1*>(src), dst, n); return;
    case DType::IQ4_NL: detail::dequantize_row_iq4_nl(static_cast<const BlockIQ4_NL*>(src), dst, n); return;
    case DType::Q4_K: detail::dequantize_row_q4_K(static_cast<const BlockQ4_K*>(src), dst, n); return;
    case DType::Q5_K: detail::dequantize_row_q5_K(static_cast<const BlockQ5_K*>(src), dst, n); return;
    case DType::Q6_K: detail::dequantize_row_q6_K(static_cast<const BlockQ6_K*>(src), dst, n); return;
    case DType::Q8_K: detail::dequantize_row_q8_K(static_cast<const BlockQ8_K*>(src), dst, n); return;
  }
  throw std::invalid_argument("dequantize_row: unsupported dtype");
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  check_row(t, n, "quantize_row");
  switch (t) {
    case DType::F32: std::copy(src, src + n, static_cast<float*>(dst)); return;
    case DType::F16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(src[i]);
      return;
    }
    case DType::BF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::Q8_0: detail::quantize_row_q8_0_ref(src, static_cast<BlockQ8_0*>(dst), n); return;
    case DType::Q4_0: detail::quantize_row_q4_0_ref(src, static_cast<BlockQ4_0*>(dst), n); return;
    case DType::Q5_0: detail::quantize_row_q5_0_ref(src, static_cast<BlockQ5_0*>(dst), n); return;
    case DType::Q5_1: detail::quantize_row_q5_1_ref(src, static_cast<BlockQ5_1*>(dst), n); return;
    case DType::IQ4_NL: detail::quantize_row_iq4_nl_ref(src, static_cast<BlockIQ4_NL*>(dst), n); return;
    case DType::Q4_K: detail::quantize_row_q4_K_ref(src, static_cast<BlockQ4_K*>(dst), n); return;
    case DType::Q5_K: detail::quantize_row_q5_K_ref(src, static_cast<BlockQ5_K*>(dst), n); return;
    case DType::Q6_K: detail::quantize_row_q6_K_ref(src, static_cast<BlockQ6_K*>(dst), n); return;
    case DType::Q8_K: detail::quantize_row_q8_K_ref(src, static_cast<BlockQ8_K*>(dst), n); return;
  }
  throw std::invalid_argument("quantize_row: unsupported dtype");
}

// Worst-case |x - dequantize(quantize(x))| divided by the largest |x| of the block the
// element belongs to (block = 32 values for Q4_0/Q5_0/Q5_1/Q8_0/IQ4_NL, 256 for K-quants, the element
// itself for the float types), for finite inputs in the normal f16 range. The block
// scales are f16: for blocks so small that a scale becomes subnormal (block max below
// about 1e-2) an absolute 2^-25 times (largest code x scale multiplier) comes on top.
double quantization_error_bound(DType t) {
  switch (t) {
    case DType::F32: return 0.0;
    // Round to nearest: half an ulp, 2^-11 of the value for f16 and 2^-8 for bf16.
    case DType::F16: return 1.0 / 2048.0;
    case DType::BF16: return 1.0 / 256.0;
    // Half a step (amax/127/2) plus the f16 rounding of the scale over 127 steps (127 * 2^-11 / 127).
    case DType::Q8_0: return 1.0 / 254.0 + 1.0 / 2048.0;
    // Q8_K keeps an f32 scale: half a step.
    case DType::Q8_K: return 1.0 / 254.0 + 1e-6;
    // d = amax/8 and codes [-8, 7]: the extreme value on the side opposite the largest one
    // clips from +8 to +7 steps, one full step = 1/8; plus f16 scale rounding (8 * 2^-11 / 8).
    case DType::Q4_0: return 1.0 / 8.0 + 1.0 / 2048.0;
    // Q5_0 likewise with d = amax/16 and codes [-16, 15].
    case DType::Q5_0: return 1.0 / 16.0 + 1.0 / 2048.0;
    // d = (max-min)/31 and an offset: half a step is at most amax/31; the f16 rounding of d
    // (over up to 31 steps of at most 2*amax/31) and of the offset add 3 * 2^-11.
    case DType::Q5_1: return 1.0 / 31.0 + 3.0 / 2048.0;
    // Guaranteed by the quantiser's fallback to the plain fit (quant_iq4nl.cpp), which errs
    // by at most 14/127 of amax (the opposite extreme lands on level 113 instead of 127).
    case DType::IQ4_NL: return 0.125;
    // Guaranteed by quantize_row itself (quant_kquants.cpp): a super-block whose searched
    // fit errs by more than this falls back to the plain min/max fit, whose worst case is
    // half a step of 2*amax/15 plus the 6-bit scale/min rounding, about 0.07.
    case DType::Q4_K: return 0.1;
    // Same guard; the plain fit (half a step of 2*amax/31 plus scale/min rounding) is ~0.056.
    case DType::Q5_K: return 0.07;
    // Same guard; the plain fit (+-31 codes over +-amax, no clipping) stays near amax/62.
    case DType::Q6_K: return 0.03;
  }
  throw std::invalid_argument("quantization_error_bound: unsupported dtype");
}

}  // namespace baton
