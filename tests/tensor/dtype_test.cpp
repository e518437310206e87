// dtype table, parse_dtype, row_bytes, and the scalar f16/bf16 conversions.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "tensor/dtype.h"
#include "tensor/fp16.h"

namespace baton {
namespace {

TEST(DType, TableMatchesGgmlIdsAndBlockSizes) {
  struct Expected {
    uint32_t id;
    const char* name;
    uint32_t elems;
    uint32_t bytes;
  };
  // ggml type ids and block layouts (ggml.h / ggml-common.h).
  const Expected expected[] = {
      {0, "f32", 1, 4},      {1, "f16", 1, 2},        {2, "q4_0", 32, 18},    {8, "q8_0", 32, 34},
      {12, "q4_K", 256, 144}, {14, "q6_K", 256, 210}, {15, "q8_K", 256, 292}, {30, "bf16", 1, 2},
      {6, "q5_0", 32, 22},    {7, "q5_1", 32, 24},    {13, "q5_K", 256, 176}, {20, "iq4_nl", 32, 18},
  };
  for (const auto& e : expected) {
    auto info = dtype_info(e.id);
    ASSERT_TRUE(info.has_value()) << e.name;
    EXPECT_EQ(static_cast<uint32_t>(info->type), e.id);
    EXPECT_EQ(info->name, e.name);
    EXPECT_EQ(info->block_elems, e.elems) << e.name;
    EXPECT_EQ(info->block_bytes, e.bytes) << e.name;
    EXPECT_EQ(dtype_name(info->type), e.name);
  }
}

TEST(DType, UnsupportedIdsAreRejected) {
  for (uint32_t id : {3u, 9u, 10u, 11u, 16u, 21u, 23u, 29u, 31u, 1000u, 0xffffffffu}) {
    EXPECT_FALSE(dtype_info(id).has_value()) << id;
  }
}

TEST(DType, ParseIsCaseInsensitiveAndStrict) {
  EXPECT_EQ(parse_dtype("f32"), DType::F32);
  EXPECT_EQ(parse_dtype("F16"), DType::F16);
  EXPECT_EQ(parse_dtype("BF16"), DType::BF16);
  EXPECT_EQ(parse_dtype("q8_0"), DType::Q8_0);
  EXPECT_EQ(parse_dtype("Q4_0"), DType::Q4_0);
  EXPECT_EQ(parse_dtype("q4_k"), DType::Q4_K);
  EXPECT_EQ(parse_dtype("Q6_K"), DType::Q6_K);
  EXPECT_FALSE(parse_dtype("").has_value());
  EXPECT_FALSE(parse_dtype("q4").has_value());
  EXPECT_FALSE(parse_dtype("q4_K_M").has_value());
  EXPECT_FALSE(parse_dtype("f32 ").has_value());
  EXPECT_EQ(parse_dtype("q5_1"), DType::Q5_1);
  EXPECT_EQ(parse_dtype("Q5_K"), DType::Q5_K);
  EXPECT_EQ(parse_dtype("IQ4_NL"), DType::IQ4_NL);
  EXPECT_FALSE(parse_dtype("q4_1").has_value());
}

TEST(DType, RowBytes) {
  EXPECT_EQ(row_bytes(DType::F32, 7), 28u);
  EXPECT_EQ(row_bytes(DType::F16, 7), 14u);
  EXPECT_EQ(row_bytes(DType::BF16, 3), 6u);
  EXPECT_EQ(row_bytes(DType::Q8_0, 96), 3u * 34u);
  EXPECT_EQ(row_bytes(DType::Q4_0, 4096), 128u * 18u);
  EXPECT_EQ(row_bytes(DType::Q4_K, 768), 3u * 144u);
  EXPECT_EQ(row_bytes(DType::Q6_K, 256), 210u);
  EXPECT_EQ(row_bytes(DType::Q8_K, 512), 584u);
  EXPECT_TRUE(row_fits_blocks(DType::Q8_0, 64));
  EXPECT_FALSE(row_fits_blocks(DType::Q8_0, 48));
  EXPECT_FALSE(row_fits_blocks(DType::Q4_K, 288));
  EXPECT_TRUE(row_fits_blocks(DType::F16, 1));
}

// Independent decoding of a half: sign * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024.
double half_value(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int e = (h >> 10) & 31;
  const int m = h & 1023;
  if (e == 0) return sign * std::ldexp(m / 1024.0, -14);
  if (e == 31) return m ? std::nan("") : sign * INFINITY;
  return sign * std::ldexp(1.0 + m / 1024.0, e - 15);
}

TEST(Fp16, AllHalvesDecodeAndRoundTrip) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = fp16_to_f32(h);
    const double expect = half_value(h);
    if (std::isnan(expect)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      const uint16_t back = f32_to_fp16(f);
      EXPECT_EQ(back & 0x8000, h & 0x8000) << std::hex << i;
      EXPECT_EQ(back & 0x7c00, 0x7c00) << std::hex << i;
      EXPECT_NE(back & 0x03ff, 0) << "NaN must stay NaN " << std::hex << i;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), expect) << std::hex << i;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << i;
    ASSERT_EQ(f32_to_fp16(f), h) << std::hex << i;
  }
}

TEST(Fp16, MidpointsRoundToEven) {
  // Between every pair of adjacent finite non-negative halves: the exact midpoint goes to
  // the even code, anything a float-ulp off goes to the nearer one.
  for (uint32_t i = 0; i < 0x7bff; ++i) {
    const auto lo = static_cast<uint16_t>(i), hi = static_cast<uint16_t>(i + 1);
    const float mid = static_cast<float>((half_value(lo) + half_value(hi)) / 2);  // exact in float
    ASSERT_EQ(static_cast<double>(mid), (half_value(lo) + half_value(hi)) / 2);
    const uint16_t even = (lo & 1) ? hi : lo;
    ASSERT_EQ(f32_to_fp16(mid), even) << std::hex << i;
    ASSERT_EQ(f32_to_fp16(-mid), even | 0x8000) << std::hex << i;
    ASSERT_EQ(f32_to_fp16(std::nextafter(mid, 0.0f)), lo) << std::hex << i;
    ASSERT_EQ(f32_to_fp16(std::nextafter(mid, INFINITY)), hi) << std::hex << i;
  }
}

TEST(Fp16, OverflowAndUnderflowEdges) {
  EXPECT_EQ(f32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_fp16(65519.99f), 0x7bff);
  EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);  // the midpoint to "65536" rounds to even = inf
  EXPECT_EQ(f32_to_fp16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_fp16(-INFINITY), 0xfc00);
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);       // half the smallest subnormal: tie to 0
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.5f, -25)), 0x0001);       // above the tie
  EXPECT_EQ(f32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);       // 1.5 subnormal steps: tie to even 2
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(f32_to_fp16(-std::ldexp(1.0f, -30)), 0x8000);
  EXPECT_EQ(f32_to_fp16(std::ldexp(1023.5f, -24)), 0x0400);    // rounds up into the smallest normal
}

TEST(Bf16, AllValuesRoundTripAndTiesToEven) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = bf16_to_f32(h);
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    ASSERT_EQ(bits, i << 16);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f)))) << std::hex << i;
      continue;
    }
    ASSERT_EQ(f32_to_bf16(f), h) << std::hex << i;
    if ((i & 0x7f80) == 0x7f80) continue;  // inf: no upper neighbour
    // Exact midpoint to the next bf16 goes to the even one; just above goes up.
    const float mid = std::bit_cast<float>((i << 16) | 0x8000u);
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : h;
    ASSERT_EQ(f32_to_bf16(mid), even) << std::hex << i;
    ASSERT_EQ(f32_to_bf16(std::bit_cast<float>((i << 16) | 0x8001u)), static_cast<uint16_t>(h + 1)) << std::hex << i;
    ASSERT_EQ(f32_to_bf16(std::bit_cast<float>((i << 16) | 0x7fffu)), h) << std::hex << i;
  }
  // A NaN whose payload sits only in the low 16 bits must not become infinity.
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::bit_cast<float>(0x7f800001u)))));
}

}  // namespace
}  // namespace baton
