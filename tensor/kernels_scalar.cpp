// The portable kernel table: plain C++ that compilers vectorise for the baseline ISA
// (SSE2 on x86-64, NEON on arm64). It is also the reference the AVX2 table is tested against.
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/kernels_dispatch.h"
#include "tensor/quant_common.h"

namespace baton::detail {

namespace {

// Eight independent partial sums per row: the compiler can keep them in vector lanes
// (no reassociation needed), and the order is fixed so results are reproducible.
constexpr int kLanes = 8;

template <typename Load>
float dot_float_row(int64_t n, const float* x, Load load) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += load(i + l) * x[i + l];
  }
  float tail = 0.0f;
  for (; i < n; ++i) tail += load(i) * x[i];
  float sum = 0.0f;
  for (int l = 0; l < kLanes; ++l) sum += acc[l];
  return sum + tail;
}

float row_f32(int64_t n, const void* w, const void* act) {
  const auto* row = static_cast<const float*>(w);
  return dot_float_row(n, static_cast<const float*>(act), [row](int64_t i) { return row[i]; });
}

float row_f16(int64_t n, const void* w, const void* act) {
  const auto* row = static_cast<const uint16_t*>(w);
  return dot_float_row(n, static_cast<const float*>(act), [row](int64_t i) { return fp16_to_f32(row[i]); });
}

float row_bf16(int64_t n, const void* w, const void* act) {
  const auto* row = static_cast<const uint16_t*>(w);
  return dot_float_row(n, static_cast<const float*>(act), [row](int64_t i) { return bf16_to_f32(row[i]); });
}

float row_q8_0(int64_t n, const void* w, const void* act) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* a = static_cast<const BlockQ8_0*>(act);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += x[i].qs[j] * a[i].qs[j];
    sum += sumi * (fp16_to_f32(x[i].d) * fp16_to_f32(a[i].d));
  }
  return sum;
}

float row_q4_0(int64_t n, const void* w, const void* act) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* a = static_cast<const BlockQ8_0*>(act);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += ((x[i].qs[j] & 0x0F) - 8) * a[i].qs[j];
      sumi += ((x[i].qs[j] >> 4) - 8) * a[i].qs[j + kQK / 2];
    }
    sum += sumi * (fp16_to_f32(x[i].d) * fp16_to_f32(a[i].d));
  }
  return sum;
}

float row_q4_K(int64_t n, const void* w, const void* act) {
  const auto* x = static_cast<const BlockQ4_K*>(w);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    // sum_j d*sc_j*(q.y)_j - dmin*m_j*(sum y)_j, with the y sums taken from bsums.
    int scaled = 0, mins = 0;
    const uint8_t* q = x[i].qs;
    const int8_t* y = a[i].qs;
    for (int j = 0; j < 8; j += 2, q += 32, y += 64) {
      uint8_t sc0, m0, sc1, m1;
      q4k_scale_min(j, x[i].scales, &sc0, &m0);
      q4k_scale_min(j + 1, x[i].scales, &sc1, &m1);
      int lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l) {
        lo += (q[l] & 0xF) * y[l];
        hi += (q[l] >> 4) * y[l + 32];
      }
      scaled += sc0 * lo + sc1 * hi;
      mins += m0 * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]) + m1 * (a[i].bsums[2 * j + 2] + a[i].bsums[2 * j + 3]);
    }
    sum += a[i].d * (fp16_to_f32(x[i].d) * scaled - fp16_to_f32(x[i].dmin) * mins);
  }
  return sum;
}

float row_q6_K(int64_t n, const void* w, const void* act) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sumi = 0;
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    const int8_t* y = a[i].qs;
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128) {
      int part[8] = {};  // per 16-value sub-block
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        part[is + 0] += (((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32) * y[l];
        part[is + 2] += (((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32) * y[l + 32];
        part[is + 4] += (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * y[l + 64];
        part[is + 6] += (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * y[l + 96];
      }
      for (int s = 0; s < 8; ++s) sumi += sc[s] * part[s];
    }
    sum += (fp16_to_f32(x[i].d) * a[i].d) * sumi;
  }
  return sum;
}

// Q5_0, Q5_1, IQ4_NL and Q5_K: every table computes exactly these results (bit for bit):
// an exact integer sum per block, then the float steps below in this order, no fused
// multiply-add. The SIMD kernels put (row, token) pairs in vector lanes to do the same.

// The 5-bit codes (0..31) of a Q5_0/Q5_1 block, in value order.
inline void q5_codes(const uint8_t* qs, const uint8_t* qh_bytes, int codes[kQK]) {
  const uint32_t qh = qh_bytes[0] | (uint32_t{qh_bytes[1]} << 8) | (uint32_t{qh_bytes[2]} << 16) |
                      (uint32_t{qh_bytes[3]} << 24);
  for (int j = 0; j < kQK / 2; ++j) {
    codes[j] = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
    codes[j + kQK / 2] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + kQK / 2)) & 1) << 4);
  }
}

float row_q5_0(int64_t n, const void* w, const void* act) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* a = static_cast<const BlockQ8_0*>(act);
  float sum = 0.0f;
  int codes[kQK];
  for (int64_t i = 0; i < n / kQK; ++i) {
    q5_codes(x[i].qs, x[i].qh, codes);
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += (codes[j] - 16) * a[i].qs[j];
    sum += static_cast<float>(sumi) * (fp16_to_f32(x[i].d) * fp16_to_f32(a[i].d));
  }
  return sum;
}

float row_q5_1(int64_t n, const void* w, const void* act) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* a = static_cast<const BlockQ8_0*>(act);
  float sum = 0.0f;
  int codes[kQK];
  for (int64_t i = 0; i < n / kQK; ++i) {
    // sum_j (d*q_j + m) * dy*y_j = d*dy * sum q*y + m*dy * sum y.
    q5_codes(x[i].qs, x[i].qh, codes);
    int sumi = 0, sumy = 0;
    for (int j = 0; j < kQK; ++j) {
      sumi += codes[j] * a[i].qs[j];
      sumy += a[i].qs[j];
    }
    const float dy = fp16_to_f32(a[i].d);
    sum += static_cast<float>(sumi) * (fp16_to_f32(x[i].d) * dy) + static_cast<float>(sumy) * (fp16_to_f32(x[i].m) * dy);
  }
  return sum;
}

float row_iq4_nl(int64_t n, const void* w, const void* act) {
  const auto* x = static_cast<const BlockIQ4_NL*>(w);
  const auto* a = static_cast<const BlockQ8_0*>(act);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += kIQ4NLValues[x[i].qs[j] & 0xF] * a[i].qs[j];
      sumi += kIQ4NLValues[x[i].qs[j] >> 4] * a[i].qs[j + kQK / 2];
    }
    sum += static_cast<float>(sumi) * (fp16_to_f32(x[i].d) * fp16_to_f32(a[i].d));
  }
  return sum;
}

float row_q5_K(int64_t n, const void* w, const void* act) {
  const auto* x = static_cast<const BlockQ5_K*>(w);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    // As Q4_K, with bit 4 of each code from qh: bit j of qh[l] for the first 32 values of
    // the 64 at 32*j, bit j+1 for the second 32.
    int scaled = 0, mins = 0;
    const uint8_t* q = x[i].qs;
    const uint8_t* qh = x[i].qh;
    const int8_t* y = a[i].qs;
    for (int j = 0; j < 8; j += 2, q += 32, y += 64) {
      uint8_t sc0, m0, sc1, m1;
      q4k_scale_min(j, x[i].scales, &sc0, &m0);
      q4k_scale_min(j + 1, x[i].scales, &sc1, &m1);
      int lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l) {
        lo += ((q[l] & 0xF) | (((qh[l] >> j) & 1) << 4)) * y[l];
        hi += ((q[l] >> 4) | (((qh[l] >> (j + 1)) & 1) << 4)) * y[l + 32];
      }
      scaled += sc0 * lo + sc1 * hi;
      mins += m0 * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]) + m1 * (a[i].bsums[2 * j + 2] + a[i].bsums[2 * j + 3]);
    }
    sum += a[i].d * (fp16_to_f32(x[i].d) * static_cast<float>(scaled) - fp16_to_f32(x[i].dmin) * static_cast<float>(mins));
  }
  return sum;
}

// The scalar path computes each (row, token) independently, so tiling cannot change results.
template <float (*Row)(int64_t, const void*, const void*)>
void tile(int64_t n, const void* w, size_t row_stride, int nrows, const void* act, size_t act_stride, int ntok,
          float* out, size_t out_stride) {
  for (int t = 0; t < ntok; ++t) {
    const void* a = static_cast<const uint8_t*>(act) + t * act_stride;
    for (int r = 0; r < nrows; ++r) out[t * out_stride + r] = Row(n, static_cast<const uint8_t*>(w) + r * row_stride, a);
  }
}

void quantize_q8_0(const float* x, void* y, int64_t n) { quantize_row_q8_0_ref(x, static_cast<BlockQ8_0*>(y), n); }
void quantize_q8_K(const float* x, void* y, int64_t n) { quantize_row_q8_K_ref(x, static_cast<BlockQ8_K*>(y), n); }

float kv_dot(DType t, const void* row, const float* q, int64_t n) {
  switch (t) {
    case DType::F16: {
      const auto* h = static_cast<const uint16_t*>(row);
      return dot_float_row(n, q, [h](int64_t i) { return fp16_to_f32(h[i]); });
    }
    case DType::Q8_0: {
      const auto* b = static_cast<const BlockQ8_0*>(row);
      float sum = 0.0f;
      for (int64_t i = 0; i < n / kQK; ++i) {
        float part = 0.0f;
        for (int j = 0; j < kQK; ++j) part += b[i].qs[j] * q[i * kQK + j];
        sum += fp16_to_f32(b[i].d) * part;
      }
      return sum;
    }
    default: {
      const auto* f = static_cast<const float*>(row);
      return dot_float_row(n, q, [f](int64_t i) { return f[i]; });
    }
  }
}

void kv_scores(DType t, const void* rows, size_t row_stride, int64_t n_pos, const float* q, int n_q, int64_t head_dim,
               float scale, float* scores, size_t score_stride) {
  for (int g = 0; g < n_q; ++g) {
    for (int64_t p = 0; p < n_pos; ++p) {
      scores[g * score_stride + p] =
          scale * kv_dot(t, static_cast<const uint8_t*>(rows) + p * row_stride, q + g * head_dim, head_dim);
    }
  }
}

void kv_mix(DType t, const void* rows, size_t row_stride, int64_t n_pos, const float* w, size_t w_stride, int n_q,
            int64_t head_dim, float* out) {
  for (int g = 0; g < n_q; ++g) {
    float* o = out + g * head_dim;
    const float* wg = w + g * w_stride;
    for (int64_t d = 0; d < head_dim; ++d) o[d] = 0.0f;
    for (int64_t p = 0; p < n_pos; ++p) {
      const void* row = static_cast<const uint8_t*>(rows) + p * row_stride;
      const float a = wg[p];
      switch (t) {
        case DType::F16: {
          const auto* h = static_cast<const uint16_t*>(row);
          for (int64_t d = 0; d < head_dim; ++d) o[d] += a * fp16_to_f32(h[d]);
          break;
        }
        case DType::Q8_0: {
          const auto* b = static_cast<const BlockQ8_0*>(row);
          for (int64_t i = 0; i < head_dim / kQK; ++i) {
            const float ad = a * fp16_to_f32(b[i].d);
            for (int j = 0; j < kQK; ++j) o[i * kQK + j] += ad * b[i].qs[j];
          }
          break;
        }
        default: {
          const auto* f = static_cast<const float*>(row);
          for (int64_t d = 0; d < head_dim; ++d) o[d] += a * f[d];
          break;
        }
      }
    }
  }
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    // exp(-inf) = 0 handles masked entries; subtracting the max keeps exp <= 1.
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

constexpr KernelTable kScalarTable = {
    "scalar",      tile<row_f32>,  tile<row_f16>, tile<row_bf16>, tile<row_q8_0>, tile<row_q4_0>, tile<row_q4_K>,
    tile<row_q6_K>,
    quantize_q8_0, quantize_q8_K, kv_scores, kv_mix, softmax, silu_mul,
    4, 2, 0, 0,
    tile<row_q5_0>, tile<row_q5_1>, tile<row_iq4_nl>, tile<row_q5_K>,
};

}  // namespace

const KernelTable& scalar_kernels() { return kScalarTable; }

}  // namespace baton::detail
