// Quantise/dequantise: hand-built blocks with known values (layout), round trips within
// the stated bound on varied data, and the activation quantisers of both kernel tables.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tensor/dtype.h"
#include "tensor/fp16.h"
#include "tensor/kernels.h"
#include "tensor/kernels_dispatch.h"
#include "tests/tensor/tensor_test_util.h"

namespace baton {
namespace {

using testing::expected_error_bound;
using testing::random_floats;
using testing::random_uniform;

// ---- known answers: blocks written byte by byte, values worked out by hand ----

TEST(QuantLayout, Q8_0KnownBlock) {
  BlockQ8_0 b;
  b.d = 0x3800;  // f16 0.5
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j - 16);
  b.qs[31] = 127;
  b.qs[0] = -128;
  float out[32];
  dequantize_row(DType::Q8_0, &b, out, 32);
  EXPECT_EQ(out[0], -64.0f);
  EXPECT_EQ(out[1], -7.5f);
  EXPECT_EQ(out[16], 0.0f);
  EXPECT_EQ(out[20], 2.0f);
  EXPECT_EQ(out[31], 63.5f);
}

TEST(QuantLayout, Q4_0KnownBlock) {
  BlockQ4_0 b;
  b.d = 0x4000;  // f16 2.0
  // Byte j: low nibble is element j, high nibble is element j + 16.
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float out[32];
  dequantize_row(DType::Q4_0, &b, out, 32);
  EXPECT_EQ(out[0], -16.0f);   // (0 - 8) * 2
  EXPECT_EQ(out[8], 0.0f);     // (8 - 8) * 2
  EXPECT_EQ(out[15], 14.0f);   // (15 - 8) * 2
  EXPECT_EQ(out[16], 14.0f);   // high nibble of byte 0 = 15
  EXPECT_EQ(out[31], -16.0f);  // high nibble of byte 15 = 0
  EXPECT_EQ(out[20], 6.0f);    // high nibble of byte 4 = 11 -> (11 - 8) * 2
}

// Q4_K with scales {1, 2, 3, 4, 17, 33, 50, 63} and mins {0, 5, 10, 63, 16, 31, 48, 7}:
// the values >= 16 exercise the split 6-bit packing. Bytes packed by hand (see comments).
BlockQ4_K known_q4k_block() {
  BlockQ4_K b;
  b.d = 0x3C00;     // 1.0
  b.dmin = 0x3800;  // 0.5
  const uint8_t scales[12] = {
      0x41, 0x82, 0xC3, 0xC4,  // scales 0-3 = 1,2,3,4 | top bits of scales 4-7 (01,10,11,11) << 6
      0x40, 0x45, 0xCA, 0x3F,  // mins 0-3 = 0,5,10,63 | top bits of mins 4-7 (01,01,11,00) << 6
      0x01, 0xF1, 0x02, 0x7F,  // low nibbles: scales 4-7 (1,1,2,15) | mins 4-7 (0,15,0,7) << 4
  };
  std::memcpy(b.scales, scales, 12);
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>((i % 16) | (((i * 7) % 16) << 4));
  return b;
}

TEST(QuantLayout, Q4_KKnownBlock) {
  const BlockQ4_K b = known_q4k_block();
  float out[256];
  dequantize_row(DType::Q4_K, &b, out, 256);
  // Element 0: sub-block 0 (scale 1, min 0), low nibble of qs[0] = 0.
  EXPECT_EQ(out[0], 0.0f);
  // Element 5: low nibble of qs[5] = 5 -> 1*1*5 - 0.
  EXPECT_EQ(out[5], 5.0f);
  // Element 40: sub-block 1 (scale 2, min 5): high nibble of qs[8] = 56 % 16 = 8 -> 16 - 2.5.
  EXPECT_EQ(out[40], 13.5f);
  // Element 100: sub-block 3 (scale 4, min 63): high nibble of qs[36] = 252 % 16 = 12 -> 48 - 31.5.
  EXPECT_EQ(out[100], 16.5f);
  // Element 140: sub-block 4 (scale 17, min 16): low nibble of qs[76] = 12 -> 204 - 8.
  EXPECT_EQ(out[140], 196.0f);
  // Element 160: sub-block 5 (scale 33, min 31): high nibble of qs[64] = 448 % 16 = 0 -> -15.5.
  EXPECT_EQ(out[160], -15.5f);
  // Element 200: sub-block 6 (scale 50, min 48): low nibble of qs[104] = 8 -> 400 - 24.
  EXPECT_EQ(out[200], 376.0f);
  // Element 255: sub-block 7 (scale 63, min 7): high nibble of qs[127] = 889 % 16 = 9 -> 567 - 3.5.
  EXPECT_EQ(out[255], 563.5f);
}

TEST(QuantLayout, Q4_KAllElementsFollowTheLayout) {
  const BlockQ4_K b = known_q4k_block();
  const int sc[8] = {1, 2, 3, 4, 17, 33, 50, 63};
  const int mn[8] = {0, 5, 10, 63, 16, 31, 48, 7};
  float out[256];
  dequantize_row(DType::Q4_K, &b, out, 256);
  for (int e = 0; e < 256; ++e) {
    const int chunk = e / 64, within = e % 64;
    const int byte = b.qs[32 * chunk + within % 32];
    const int nibble = within < 32 ? (byte & 15) : (byte >> 4);
    const int sub = e / 32;
    EXPECT_EQ(out[e], 1.0f * sc[sub] * nibble - 0.5f * mn[sub]) << e;
  }
}

TEST(QuantLayout, Q6_KKnownBlock) {
  BlockQ6_K b;
  for (int i = 0; i < 128; ++i) b.ql[i] = static_cast<uint8_t>(i * 37 % 256);
  for (int i = 0; i < 64; ++i) b.qh[i] = static_cast<uint8_t>(i * 101 % 256);
  for (int i = 0; i < 16; ++i) b.scales[i] = static_cast<int8_t>((i % 2 ? -1 : 1) * (i * 9 + 1));
  b.scales[15] = -128;
  b.d = 0x3400;  // 0.25
  float out[256];
  dequantize_row(DType::Q6_K, &b, out, 256);
  // Element 0: low 4 bits = ql[0] & 15 = 0, high 2 bits = qh[0] & 3 = 0 -> q = 0 - 32;
  // scale 1 -> 0.25 * 1 * -32.
  EXPECT_EQ(out[0], -8.0f);
  // Element 33: ql[33] = 1221 % 256 = 197 (low nibble 5), qh[1] = 101 bits 2-3 = 01 -> q = 21 - 32 = -11;
  // sub-block 2, scale 19 -> 0.25 * 19 * -11.
  EXPECT_EQ(out[33], -52.25f);
  // Element 70: ql[6] = 222 (high nibble 13), qh[6] = 606 % 256 = 94 = 0b01011110, bits 4-5 = 01
  // -> q = 29 - 32 = -3; sub-block 4, scale 37 -> -27.75.
  EXPECT_EQ(out[70], -27.75f);
  // Element 255: second half, ql[64+32+31] = ql[127] = 4699 % 256 = 91 (high nibble 5), qh[32+31] = qh[63]
  // = 6363 % 256 = 219 = 0b11011011, bits 6-7 = 11 -> q = 53 - 32 = 21; sub-block 15, scale -128 -> -672.
  EXPECT_EQ(out[255], -672.0f);
  // Every element against the layout written out directly.
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, r = e % 128, k = r / 32, l = r % 32;
    const int byte = b.ql[64 * h + (k % 2) * 32 + l];
    const int low = k < 2 ? (byte & 15) : (byte >> 4);
    const int high = (b.qh[32 * h + l] >> (2 * k)) & 3;
    EXPECT_EQ(out[e], 0.25f * b.scales[e / 16] * ((low | (high << 4)) - 32)) << e;
  }
}

// Q5_0: codes 0..31 from a nibble and bit j of qh (little-endian), value = d * (code - 16).
TEST(QuantLayout, Q5_0KnownBlock) {
  BlockQ5_0 b;
  b.d = 0x3800;  // f16 0.5
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  // qh = 0x80010003: bits 0, 1 (elements 0, 1), 16 (element 16) and 31 (element 31).
  b.qh[0] = 0x03; b.qh[1] = 0x00; b.qh[2] = 0x01; b.qh[3] = 0x80;
  float out[32];
  dequantize_row(DType::Q5_0, &b, out, 32);
  EXPECT_EQ(out[0], 0.0f);    // (0 + 16 - 16) * 0.5
  EXPECT_EQ(out[1], 0.5f);    // (1 + 16 - 16) * 0.5
  EXPECT_EQ(out[2], -7.0f);   // (2 - 16) * 0.5
  EXPECT_EQ(out[15], -0.5f);  // (15 - 16) * 0.5
  EXPECT_EQ(out[16], 7.5f);   // high nibble of byte 0 = 15, + 16: (31 - 16) * 0.5
  EXPECT_EQ(out[17], -1.0f);  // (14 - 16) * 0.5
  EXPECT_EQ(out[31], 0.0f);   // high nibble of byte 15 = 0, + 16
}

// Q5_1: value = d * code + m.
TEST(QuantLayout, Q5_1KnownBlock) {
  BlockQ5_1 b;
  b.d = 0x4000;  // 2.0
  b.m = 0xC400;  // -4.0
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  b.qh[0] = 0x00; b.qh[1] = 0x80; b.qh[2] = 0x00; b.qh[3] = 0x40;  // bits 15 and 30
  float out[32];
  dequantize_row(DType::Q5_1, &b, out, 32);
  EXPECT_EQ(out[0], -4.0f);   // 0 * 2 - 4
  EXPECT_EQ(out[3], 2.0f);    // 3 * 2 - 4
  EXPECT_EQ(out[15], 58.0f);  // (15 + 16) * 2 - 4
  EXPECT_EQ(out[16], 26.0f);  // 15 * 2 - 4
  EXPECT_EQ(out[30], 30.0f);  // (1 + 16) * 2 - 4
  EXPECT_EQ(out[31], -4.0f);
}

// IQ4_NL: value = d * level[nibble], with ggml's 16 levels.
TEST(QuantLayout, IQ4_NLKnownBlock) {
  BlockIQ4_NL b;
  b.d = 0x3C00;  // 1.0
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float out[32];
  dequantize_row(DType::IQ4_NL, &b, out, 32);
  const float levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], levels[j]) << j;
    EXPECT_EQ(out[j + 16], levels[15 - j]) << j;
  }
}

// Q5_K: Q4_K's scales and nibbles, bit 4 of value l of the k-th 64 from bit 2k (first 32)
// or 2k+1 (second 32) of qh[l].
TEST(QuantLayout, Q5_KAllElementsFollowTheLayout) {
  const BlockQ4_K q4 = known_q4k_block();
  BlockQ5_K b;
  b.d = q4.d;        // 1.0
  b.dmin = q4.dmin;  // 0.5
  std::memcpy(b.scales, q4.scales, 12);
  std::memcpy(b.qs, q4.qs, sizeof b.qs);
  for (int l = 0; l < 32; ++l) b.qh[l] = static_cast<uint8_t>(l * 37 + 11);
  const int sc[8] = {1, 2, 3, 4, 17, 33, 50, 63};
  const int mn[8] = {0, 5, 10, 63, 16, 31, 48, 7};
  float out[256];
  dequantize_row(DType::Q5_K, &b, out, 256);
  for (int e = 0; e < 256; ++e) {
    const int chunk = e / 64, within = e % 64, l = within % 32;
    const int byte = b.qs[32 * chunk + l];
    const int nibble = within < 32 ? (byte & 15) : (byte >> 4);
    const int high = (b.qh[l] >> (2 * chunk + within / 32)) & 1;
    const int sub = e / 32;
    EXPECT_EQ(out[e], 1.0f * sc[sub] * (nibble | (high << 4)) - 0.5f * mn[sub]) << e;
  }
}

TEST(QuantLayout, Q8_KKnownBlock) {
  BlockQ8_K b{};
  b.d = 0.125f;
  for (int j = 0; j < 256; ++j) b.qs[j] = static_cast<int8_t>(j % 255 - 127);
  float out[256];
  dequantize_row(DType::Q8_K, &b, out, 256);
  EXPECT_EQ(out[0], -127 * 0.125f);
  EXPECT_EQ(out[127], 0.0f);
  EXPECT_EQ(out[254], 127 * 0.125f);
  EXPECT_EQ(out[255], -127 * 0.125f);
}

TEST(QuantLayout, Q8_KBlockSumsMatchCodes) {
  const auto x = random_floats(512, 7);
  BlockQ8_K b[2];
  quantize_row(DType::Q8_K, x.data(), b, 512);
  for (const auto& blk : b) {
    for (int s = 0; s < 16; ++s) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += blk.qs[16 * s + j];
      EXPECT_EQ(blk.bsums[s], sum);
    }
  }
}

TEST(QuantLayout, FloatRowsAreStoredAsIs) {
  const float x[3] = {1.0f, -2.5f, 65504.0f};
  uint16_t h[3];
  quantize_row(DType::F16, x, h, 3);
  EXPECT_EQ(h[0], 0x3C00);
  EXPECT_EQ(h[1], 0xC100);
  EXPECT_EQ(h[2], 0x7BFF);
  uint16_t b[3];
  quantize_row(DType::BF16, x, b, 3);
  EXPECT_EQ(b[0], 0x3F80);
  EXPECT_EQ(b[1], 0xC020);
}

// ---- round trips within the stated bound ----

struct Dataset {
  std::string name;
  std::vector<float> values;
};

std::vector<Dataset> datasets(size_t n) {
  std::vector<Dataset> out;
  out.push_back({"gaussian", random_floats(n, 1)});
  out.push_back({"tiny gaussian", random_floats(n, 2, 1e-3f)});
  out.push_back({"uniform", random_uniform(n, 3, -1.0f, 1.0f)});
  out.push_back({"all positive", random_uniform(n, 4, 0.5f, 2.0f)});
  out.push_back({"all negative", random_uniform(n, 5, -3.0f, -1.0f)});
  auto outliers = random_floats(n, 6, 0.05f);
  for (size_t i = 0; i < n; i += 37) outliers[i] = (i % 2 ? 4.0f : -6.0f);
  out.push_back({"outliers", outliers});
  // Sub-blocks of very different magnitudes inside one super-block.
  auto mixed = random_floats(n, 8);
  for (size_t i = 0; i < n; ++i) mixed[i] *= std::pow(10.0f, static_cast<float>(static_cast<int>((i / 32) % 4) - 2));
  out.push_back({"mixed scales", mixed});
  std::vector<float> zeros(n, 0.0f);
  out.push_back({"zeros", zeros});
  std::vector<float> constant(n, 0.75f);
  out.push_back({"constant", constant});
  std::vector<float> ramp(n);
  for (size_t i = 0; i < n; ++i) ramp[i] = static_cast<float>(i % 256) - 128.0f;
  out.push_back({"ramp", ramp});
  return out;
}

// When a block is so small that its f16 scale is subnormal, the scale's rounding error is
// absolute (up to 2^-25) instead of relative; it is multiplied by the largest code times
// the largest sub-block scale multiplier of the format.
double subnormal_scale_slack(DType t) {
  switch (t) {
    case DType::Q8_0: return 127 * std::ldexp(1.0, -25);
    case DType::Q4_0: return 8 * std::ldexp(1.0, -25);
    case DType::Q4_K: return (15 * 63 + 63) * std::ldexp(1.0, -25);
    case DType::Q6_K: return 32 * 128 * std::ldexp(1.0, -25);
    case DType::Q5_0: return 16 * std::ldexp(1.0, -25);
    case DType::Q5_1: return 32 * std::ldexp(1.0, -25);
    case DType::IQ4_NL: return 127 * std::ldexp(1.0, -25);
    case DType::Q5_K: return (31 * 63 + 63) * std::ldexp(1.0, -25);
    default: return 0.0;
  }
}

void check_round_trip(DType t, size_t n) {
  const size_t block = dtype_info(t).block_elems == 1 ? 1 : dtype_info(t).block_elems;
  const double bound = expected_error_bound(t);
  const double slack = subnormal_scale_slack(t);
  for (const auto& ds : datasets(n)) {
    std::vector<uint8_t> q(row_bytes(t, n));
    std::vector<float> back(n);
    quantize_row(t, ds.values.data(), q.data(), static_cast<int64_t>(n));
    dequantize_row(t, q.data(), back.data(), static_cast<int64_t>(n));
    double worst = 0.0;
    for (size_t b0 = 0; b0 < n; b0 += block) {
      double amax = 0.0;
      for (size_t i = b0; i < b0 + block; ++i) amax = std::max(amax, std::fabs(static_cast<double>(ds.values[i])));
      for (size_t i = b0; i < b0 + block; ++i) {
        const double err = std::fabs(static_cast<double>(back[i]) - ds.values[i]);
        ASSERT_TRUE(std::isfinite(back[i])) << ds.name;
        if (amax == 0.0) {
          ASSERT_EQ(back[i], 0.0f) << dtype_name(t) << " " << ds.name << " element " << i;
        } else if (t == DType::F16 && amax < std::ldexp(1.0, -14)) {
          // Below the normal f16 range the spacing is fixed: half of 2^-24.
          ASSERT_LE(err, std::ldexp(1.0, -25)) << ds.name << " element " << i;
        } else {
          worst = std::max(worst, std::max(0.0, err - slack) / amax);
        }
      }
    }
    EXPECT_LE(worst, bound) << dtype_name(t) << " on " << ds.name;
    // The bound must also not be vacuous for lossy types on real data.
    if (ds.name == "gaussian" && bound > 0.0) {
      EXPECT_GT(worst, bound / 50) << dtype_name(t);
    }
  }
}

// The library states the same bounds (its users size tolerances with them).
TEST(QuantRoundTrip, LibraryStatesTheBoundsDerivedHere) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q8_K, DType::Q4_0, DType::Q4_K, DType::Q6_K,
                 DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::Q5_K}) {
    EXPECT_EQ(quantization_error_bound(t), expected_error_bound(t)) << dtype_name(t);
  }
}

TEST(QuantRoundTrip, F32IsExact) { check_round_trip(DType::F32, 1000); }
TEST(QuantRoundTrip, F16) { check_round_trip(DType::F16, 1000); }
TEST(QuantRoundTrip, BF16) { check_round_trip(DType::BF16, 1000); }
TEST(QuantRoundTrip, Q8_0) { check_round_trip(DType::Q8_0, 32 * 40); }
TEST(QuantRoundTrip, Q4_0) { check_round_trip(DType::Q4_0, 32 * 40); }
TEST(QuantRoundTrip, Q4_K) { check_round_trip(DType::Q4_K, 256 * 8); }
TEST(QuantRoundTrip, Q6_K) { check_round_trip(DType::Q6_K, 256 * 8); }
TEST(QuantRoundTrip, Q8_K) { check_round_trip(DType::Q8_K, 256 * 8); }
TEST(QuantRoundTrip, Q5_0) { check_round_trip(DType::Q5_0, 32 * 40); }
TEST(QuantRoundTrip, Q5_1) { check_round_trip(DType::Q5_1, 32 * 40); }
TEST(QuantRoundTrip, IQ4_NL) { check_round_trip(DType::IQ4_NL, 32 * 40); }
TEST(QuantRoundTrip, Q5_K) { check_round_trip(DType::Q5_K, 256 * 8); }

// Mean error is what model quality feels: K-quants must beat the legacy types of the same width.
double rms_error(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_bytes(t, x.size()));
  std::vector<float> back(x.size());
  quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
  dequantize_row(t, q.data(), back.data(), static_cast<int64_t>(x.size()));
  double s = 0.0;
  for (size_t i = 0; i < x.size(); ++i) s += (back[i] - x[i]) * static_cast<double>(back[i] - x[i]);
  return std::sqrt(s / static_cast<double>(x.size()));
}

TEST(QuantRoundTrip, KQuantsAreAtLeastAsGoodAsLegacyOnGaussianData) {
  const auto x = random_floats(256 * 32, 11);
  const double q4_0 = rms_error(DType::Q4_0, x), q4_k = rms_error(DType::Q4_K, x);
  const double q8_0 = rms_error(DType::Q8_0, x), q6_k = rms_error(DType::Q6_K, x);
  EXPECT_LT(q4_k, q4_0);
  EXPECT_LT(q6_k, q4_k / 3);
  EXPECT_LT(q8_0, q6_k);
  // Typical 4-bit and 6-bit RMS errors for unit Gaussians are around 0.07-0.1 and 0.02.
  EXPECT_LT(q4_k, 0.1);
  EXPECT_LT(q6_k, 0.03);
  // One more bit halves the step: the 5-bit types sit between the 4- and 6-bit ones, and
  // IQ4_NL's non-uniform levels beat the uniform 4-bit Q4_0 on bell-shaped data.
  const double q5_0 = rms_error(DType::Q5_0, x), q5_1 = rms_error(DType::Q5_1, x);
  const double q5_k = rms_error(DType::Q5_K, x), iq4_nl = rms_error(DType::IQ4_NL, x);
  EXPECT_LT(q5_0, q4_0 * 0.6);
  EXPECT_LT(q5_1, q4_0 * 0.6);
  EXPECT_LT(q5_k, q4_k * 0.6);
  EXPECT_LT(q6_k, q5_k);
  EXPECT_LT(iq4_nl, q4_0);
}

TEST(QuantRoundTrip, Q4_KBlocksAreValid) {
  // Quantiser output must decode through the same code paths: scales 6-bit, d/dmin finite.
  const auto x = random_floats(256 * 4, 12, 3.0f);
  std::vector<BlockQ4_K> q(4);
  quantize_row(DType::Q4_K, x.data(), q.data(), 1024);
  for (const auto& b : q) {
    EXPECT_TRUE(std::isfinite(fp16_to_f32(b.d)));
    EXPECT_TRUE(std::isfinite(fp16_to_f32(b.dmin)));
    EXPECT_GE(fp16_to_f32(b.d), 0.0f);
    EXPECT_GE(fp16_to_f32(b.dmin), 0.0f);
  }
}

TEST(QuantRoundTrip, BadRowLengthsThrow) {
  float x[64] = {};
  uint8_t buf[512];
  EXPECT_THROW(quantize_row(DType::Q8_0, x, buf, 48), std::invalid_argument);
  EXPECT_THROW(quantize_row(DType::Q4_K, x, buf, 64), std::invalid_argument);
  EXPECT_THROW(dequantize_row(DType::Q6_K, buf, x, 32), std::invalid_argument);
  EXPECT_THROW(dequantize_row(DType::Q4_0, buf, x, -32), std::invalid_argument);
  EXPECT_NO_THROW(quantize_row(DType::Q8_0, x, buf, 0));
}

// ---- activation quantisers of both tables produce identical codes ----

TEST(ActivationQuant, ScalarAndAvx2ProduceIdenticalCodes) {
  const auto* avx2 = detail::avx2_kernels();
  if (avx2 == nullptr) GTEST_SKIP() << "CPU lacks AVX2/FMA/F16C (or BATON_FORCE_SCALAR is set)";
  const auto& scalar = detail::scalar_kernels();
  for (uint32_t seed = 0; seed < 20; ++seed) {
    auto x = random_floats(1024, 100 + seed, seed % 2 ? 1.0f : 1e-4f);
    if (seed == 3) std::fill(x.begin(), x.begin() + 256, 0.0f);  // an all-zero block
    std::vector<uint8_t> a(row_bytes(DType::Q8_0, 1024)), b(a.size());
    scalar.quantize_q8_0(x.data(), a.data(), 1024);
    avx2->quantize_q8_0(x.data(), b.data(), 1024);
    EXPECT_EQ(a, b) << "q8_0 seed " << seed;
    std::vector<uint8_t> c(row_bytes(DType::Q8_K, 1024)), d(c.size());
    scalar.quantize_q8_K(x.data(), c.data(), 1024);
    avx2->quantize_q8_K(x.data(), d.data(), 1024);
    EXPECT_EQ(c, d) << "q8_K seed " << seed;
    // And the table quantiser is the public one.
    std::vector<uint8_t> e(a.size());
    quantize_row(DType::Q8_0, x.data(), e.data(), 1024);
    EXPECT_EQ(a, e);
  }
}

TEST(ActivationQuant, ScalarAndNeonProduceIdenticalCodes) {
  if (detail::neon_kernels() == nullptr) GTEST_SKIP() << "not an aarch64 build (or BATON_FORCE_SCALAR is set)";
  const auto& scalar = detail::scalar_kernels();
  for (const auto* k : {detail::neon_kernels(), detail::neon_dotprod_kernels()}) {
    if (k == nullptr) continue;
    for (uint32_t seed = 0; seed < 20; ++seed) {
      auto x = random_floats(1024, 200 + seed, seed % 2 ? 1.0f : 1e-4f);
      if (seed == 3) std::fill(x.begin(), x.begin() + 256, 0.0f);  // an all-zero block
      std::vector<uint8_t> a(row_bytes(DType::Q8_0, 1024)), b(a.size());
      scalar.quantize_q8_0(x.data(), a.data(), 1024);
      k->quantize_q8_0(x.data(), b.data(), 1024);
      EXPECT_EQ(a, b) << "q8_0 seed " << seed << " " << k->name;
      std::vector<uint8_t> c(row_bytes(DType::Q8_K, 1024)), d(c.size());
      scalar.quantize_q8_K(x.data(), c.data(), 1024);
      k->quantize_q8_K(x.data(), d.data(), 1024);
      EXPECT_EQ(c, d) << "q8_K seed " << seed << " " << k->name;
    }
  }
}

}  // namespace
}  // namespace baton
