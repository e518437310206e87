// K-quants on 256-element super-blocks: Q4_K and Q5_K (8 sub-blocks of 32, 6-bit scale and
// min each; 4- and 5-bit codes),
// Q6_K (16 sub-blocks of 16, 8-bit signed scales) and Q8_K (the activation side).
// Layouts follow ggml exactly; the quantisers follow ggml's reference search strategies
// (weighted scale/min search for Q4_K and Q5_K, signed-scale search for Q6_K) without being
// bit-identical to them.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quant_common.h"

namespace baton::detail {

namespace {

constexpr float kTinyGroupMax = 1e-15f;

// Fits x[i] ~= scale * L[i] - min_out with L in [0, nmax] and min_out >= 0 (the offset is
// stored as a positive "min" that is subtracted), minimising the weighted squared error.
// Tries a fan of candidate inverse scales around nmax/(max-min) and, for each rounding,
// solves the 2x2 least-squares system for (scale, offset) in closed form.
float fit_scale_and_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* min_out) {
  float lo = x[0], hi = x[0];
  float sum_w = 0.0f, sum_x = 0.0f;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (lo > 0.0f) lo = 0.0f;  // the offset can only move the grid down (min is stored >= 0)
  if (!(hi > lo)) {          // constant non-positive block (or NaN): all codes 0, offset = lo
    std::fill(L, L + n, uint8_t{0});
    *min_out = std::isfinite(lo) ? -lo : 0.0f;
    return 0.0f;
  }
  auto weighted_error = [&](const uint8_t* codes, float scale, float offset) {
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float diff = scale * codes[i] + offset - x[i];
      err += w[i] * diff * diff;
    }
    return err;
  };

  float iscale = nmax / (hi - lo);
  float best_scale = 1.0f / iscale;
  float best_offset = lo;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(clamp_int(nearest_int(iscale * (x[i] - lo)), 0, nmax));
  float best_err = weighted_error(L, best_scale, best_offset);

  uint8_t trial[32];
  constexpr int kSteps = 20;
  for (int step = 0; step <= kSteps; ++step) {
    iscale = (nmax - 1.0f + 0.1f * step) / (hi - lo);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * (x[i] - lo)), 0, nmax);
      trial[i] = static_cast<uint8_t>(l);
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det <= 0.0f) continue;
    float scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float offset = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (offset > 0.0f) {  // a positive offset cannot be stored: refit the scale alone
      offset = 0.0f;
      scale = sum_xl / sum_l2;
    }
    const float err = weighted_error(trial, scale, offset);
    if (err < best_err) {
      std::memcpy(L, trial, n);
      best_err = err;
      best_scale = scale;
      best_offset = offset;
    }
  }
  *min_out = -best_offset;
  return best_scale;
}

// Fits x[i] ~= scale * (L[i] - nmax) with L - nmax in [-nmax, nmax-1], weights x^2 (ggml's
// rmse_type 1). The scale is signed: the largest-magnitude value maps to -nmax, the code
// with no positive twin. Tries inverse scales around nmax/max and keeps the best fit.
float fit_signed_scale(int n, int nmax, const float* x, int8_t* L) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (!(amax >= kTinyGroupMax)) {
    std::fill(L, L + n, int8_t{0});
    return 0.0f;
  }
  auto fit = [&](float iscale, float* sumlx, float* suml2) {
    *sumlx = 0.0f;
    *suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      *sumlx += w * x[i] * l;
      *suml2 += w * l * l;
    }
  };
  auto assign = [&](float iscale) {
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1));
  };
  float iscale = -nmax / max;
  float sumlx, suml2;
  fit(iscale, &sumlx, &suml2);
  assign(iscale);
  float scale = suml2 > 0.0f ? sumlx / suml2 : 1.0f / iscale;
  float best = scale * sumlx;  // the explained weighted energy: larger is a better fit
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(nmax + 0.1f * step) / max;
    fit(iscale, &sumlx, &suml2);
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      assign(iscale);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

}  // namespace

namespace {

// Stores sub-block scales/mins (already fitted) as Q4_K and Q5_K do (6-bit fractions of
// the super-block maxima, packed into 12 bytes, and f16 d/dmin) and re-rounds all values
// against the scales as they will be decoded, into codes L in [0, nmax].
void finish_scales_and_codes(const float* x, const float scales[8], const float mins[8], int nmax, uint16_t* d_out,
                             uint16_t* dmin_out, uint8_t packed[12], uint8_t L[kQK_K]) {
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(clamp_int(nearest_int(inv_scale * scales[j]), 0, 63));
    lm[j] = static_cast<uint8_t>(clamp_int(nearest_int(inv_min * mins[j]), 0, 63));
  }
  q4k_pack_scale_min(ls, lm, packed);
  *d_out = f32_to_fp16(max_scale / 63.0f);
  *dmin_out = f32_to_fp16(max_min / 63.0f);

  const float d_all = fp16_to_f32(*d_out);
  const float dmin_all = fp16_to_f32(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    const float d = d_all * ls[j];
    const float dm = dmin_all * lm[j];
    for (int l = 0; l < 32; ++l) {
      // With a zero scale every code decodes to -dm; code 0 is as good as any.
      L[32 * j + l] = d != 0.0f ? static_cast<uint8_t>(clamp_int(nearest_int((x[32 * j + l] + dm) / d), 0, nmax)) : 0;
    }
  }
}

void finish_q4_K_block(const float* x, const float scales[8], const float mins[8], BlockQ4_K& y) {
  uint8_t L[kQK_K];
  finish_scales_and_codes(x, scales, mins, 15, &y.d, &y.dmin, y.scales, L);
  // 64 values per 32 bytes: low nibbles hold the first 32, high nibbles the next 32.
  uint8_t* q = y.qs;
  for (int j = 0; j < kQK_K; j += 64, q += 32) {
    for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
  }
}

void finish_q5_K_block(const float* x, const float scales[8], const float mins[8], BlockQ5_K& y) {
  uint8_t L[kQK_K];
  finish_scales_and_codes(x, scales, mins, 31, &y.d, &y.dmin, y.scales, L);
  // The low 4 bits as Q4_K packs them; bit 4 of value l of the k-th 64 goes to bit 2k of
  // qh[l] (first 32) or bit 2k+1 (second 32).
  std::memset(y.qh, 0, sizeof y.qh);
  uint8_t* q = y.qs;
  for (int j = 0, k = 0; j < kQK_K; j += 64, q += 32, ++k) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t lo = L[j + l], hi = L[j + l + 32];
      q[l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      y.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * k)) | ((hi >> 4) << (2 * k + 1)));
    }
  }
}

// Largest |x - decoded| of one block, relative to the block's largest |x| (0 for zeros).
template <typename Block, typename Decode>
float relative_max_error(const float* x, const Block& b, Decode decode) {
  float back[kQK_K];
  decode(&b, back, kQK_K);
  float amax = 0.0f, err = 0.0f;
  for (int i = 0; i < kQK_K; ++i) {
    amax = std::max(amax, std::fabs(x[i]));
    err = std::max(err, std::fabs(back[i] - x[i]));
  }
  return amax > 0.0f ? err / amax : 0.0f;
}

// The error-minimising search may clip a few extreme values when that lowers the total
// error. Where that costs more than this fraction of the block maximum, the plain fit
// (grid spanning [min, max] exactly, worst case ~0.07 by construction) is used instead,
// which is what makes quantization_error_bound(Q4_K) a guarantee rather than an estimate.
constexpr float kQ4KGuard = 0.1f;
// Q5_K's plain fit: half a step of (max-min)/31 plus the 6-bit scale and min rounding,
// about 0.056.
constexpr float kQ5KGuard = 0.07f;
// Same idea for Q6_K; its plain fit (+-31 codes spanning +-max, no clipping) stays under ~0.017.
constexpr float kQ6KGuard = 0.03f;

}  // namespace

namespace {

// Q4_K and Q5_K: 8 sub-blocks of 32 with a fitted scale and min each (codes 0..nmax), then
// the plain min/max fit for any super-block the search left with a larger error than Guard.
template <typename Block, int kNmax, void (*Finish)(const float*, const float*, const float*, Block&),
          void (*Decode)(const Block*, float*, int64_t)>
void quantize_row_scale_min(const float* x, Block* y, int64_t n, float guard) {
  const int64_t nb = n / kQK_K;
  uint8_t L[32];
  float weights[32];
  float scales[8], mins[8];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    for (int j = 0; j < 8; ++j) {
      const float* xs = x + 32 * j;
      // Weight each value by the block's RMS plus its own magnitude: large values matter
      // more to a dot product, but small ones must not be ignored entirely.
      float sum_x2 = 0.0f;
      for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
      const float rms = std::sqrt(sum_x2 / 32.0f);
      for (int l = 0; l < 32; ++l) weights[l] = rms + std::fabs(xs[l]);
      scales[j] = fit_scale_and_min(32, kNmax, xs, weights, L, &mins[j]);
    }
    Finish(x, scales, mins, y[i]);
    if (relative_max_error(x, y[i], Decode) <= guard) continue;
    for (int j = 0; j < 8; ++j) {
      float lo = 0.0f, hi = x[32 * j];
      for (int l = 0; l < 32; ++l) {
        lo = std::min(lo, x[32 * j + l]);
        hi = std::max(hi, x[32 * j + l]);
      }
      scales[j] = hi > lo ? (hi - lo) / static_cast<float>(kNmax) : 0.0f;
      mins[j] = -lo;
    }
    Finish(x, scales, mins, y[i]);
  }
}

}  // namespace

void quantize_row_q4_K_ref(const float* x, BlockQ4_K* y, int64_t n) {
  quantize_row_scale_min<BlockQ4_K, 15, finish_q4_K_block, dequantize_row_q4_K>(x, y, n, kQ4KGuard);
}

void quantize_row_q5_K_ref(const float* x, BlockQ5_K* y, int64_t n) {
  quantize_row_scale_min<BlockQ5_K, 31, finish_q5_K_block, dequantize_row_q5_K>(x, y, n, kQ5KGuard);
}

void dequantize_row_q5_K(const BlockQ5_K* x, float* y, int64_t n) {
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    const uint8_t* qh = x[i].qh;
    for (int j = 0; j < 8; j += 2, q += 32) {
      uint8_t sc, m;
      q4k_scale_min(j, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      q4k_scale_min(j + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((q[l] & 0xF) | (((qh[l] >> j) & 1) << 4)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((q[l] >> 4) | (((qh[l] >> (j + 1)) & 1) << 4)) - m2;
    }
  }
}

void dequantize_row_q4_K(const BlockQ4_K* x, float* y, int64_t n) {
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int j = 0; j < 8; j += 2, q += 32) {
      uint8_t sc, m;
      q4k_scale_min(j, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      q4k_scale_min(j + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

namespace {

// Stores sub-block scales (signed, already fitted) as int8 fractions of the largest one and
// re-rounds all values against the scales as they will be decoded.
void finish_q6_K_block(const float* x, const float scales[16], BlockQ6_K& y) {
  float max_scale = 0.0f, max_abs_scale = 0.0f;
  for (int ib = 0; ib < 16; ++ib) {
    if (std::fabs(scales[ib]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  std::memset(&y, 0, sizeof(BlockQ6_K));
  if (!(max_abs_scale >= kTinyGroupMax)) return;  // all (near) zero: d = 0 decodes to zeros

  // The largest sub-block scale maps to -128, again the code with no positive twin.
  const float iscale = -128.0f / max_scale;
  y.d = f32_to_fp16(1.0f / iscale);
  for (int ib = 0; ib < 16; ++ib) y.scales[ib] = static_cast<int8_t>(clamp_int(nearest_int(iscale * scales[ib]), -128, 127));

  int8_t L[kQK_K];
  const float d_all = fp16_to_f32(y.d);
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * y.scales[j];
    for (int l = 0; l < 16; ++l) {
      // A zero scale decodes everything to 0 whatever the code; store the "0" code.
      L[16 * j + l] = static_cast<int8_t>(d != 0.0f ? clamp_int(nearest_int(x[16 * j + l] / d), -32, 31) + 32 : 32);
    }
  }
  // Per 128 values: ql[l] holds the low nibbles of values l (bits 0-3) and l+64 (bits 4-7),
  // ql[l+32] those of l+32 and l+96; qh[l] holds the top two bits of l, l+32, l+64, l+96.
  uint8_t* ql = y.ql;
  uint8_t* qh = y.qh;
  for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q1 = static_cast<uint8_t>(L[j + l]);
      const uint8_t q2 = static_cast<uint8_t>(L[j + l + 32]);
      const uint8_t q3 = static_cast<uint8_t>(L[j + l + 64]);
      const uint8_t q4 = static_cast<uint8_t>(L[j + l + 96]);
      ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
      qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

}  // namespace

void quantize_row_q6_K_ref(const float* x, BlockQ6_K* y, int64_t n) {
  const int64_t nb = n / kQK_K;
  int8_t L[16];
  float scales[16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    for (int ib = 0; ib < 16; ++ib) scales[ib] = fit_signed_scale(16, 32, x + 16 * ib, L);
    finish_q6_K_block(x, scales, y[i]);
    if (relative_max_error(x, y[i], dequantize_row_q6_K) <= kQ6KGuard) continue;
    for (int ib = 0; ib < 16; ++ib) {
      float amax = 0.0f, max = 0.0f;
      for (int l = 0; l < 16; ++l) {
        if (std::fabs(x[16 * ib + l]) > amax) {
          amax = std::fabs(x[16 * ib + l]);
          max = x[16 * ib + l];
        }
      }
      scales[ib] = -max / 31.0f;  // +-31 codes cover +-amax: nothing clips
    }
    finish_q6_K_block(x, scales, y[i]);
  }
}

void dequantize_row_q6_K(const BlockQ6_K* x, float* y, int64_t n) {
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void quantize_row_q8_K_ref(const float* x, BlockQ8_K* y, int64_t n) {
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float amax = 0.0f;
    for (int j = 0; j < kQK_K; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    if (!(amax > 0.0f)) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = 127.0f / amax;
    for (int j = 0; j < kQK_K; ++j) y[i].qs[j] = static_cast<int8_t>(clamp_int(nearest_int(iscale * x[j]), -127, 127));
    // Sums of each 16 codes let K-quant dot products apply the per-sub-block min cheaply.
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * j + l];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.0f / iscale;
  }
}

void dequantize_row_q8_K(const BlockQ8_K* x, float* y, int64_t n) {
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    for (int j = 0; j < kQK_K; ++j) y[i * kQK_K + j] = x[i].d * x[i].qs[j];
  }
}

}  // namespace baton::detail
