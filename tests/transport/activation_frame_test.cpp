// Activation frames: every codec round-trips within its bound, and every kind of bad
// frame is refused with a precise reason before any large allocation.
#include <gtest/gtest.h>
#include <zstd.h>

#include <cmath>
#include <random>

#include "transport/activation_frame.h"

namespace baton {
namespace {

std::vector<float> random_hidden(uint32_t rows, uint32_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(rows) * cols);
  for (auto& x : v) x = nd(rng);
  v[3] = 25.0f;  // an outlier channel, as real hidden states have
  return v;
}

std::string error_of(const ActivationFrame& f, FrameLimits limits) {
  try {
    decode_frame(f, limits);
  } catch (const FrameError& e) {
    return e.what();
  }
  return "";
}

TEST(ActivationFrame, EveryFormatRoundTripsWithinItsBound) {
  const uint32_t rows = 5, cols = 96;
  const auto x = random_hidden(rows, cols, 1);
  for (const char* name : {"f32", "f16", "int8", "f32+zstd", "f16+zstd", "int8+zstd"}) {
    const WireFormat w = parse_wire_format(name);
    const auto frame = encode_frame(7, 3, x.data(), rows, cols, w);
    const auto y = decode_frame(frame, {cols, 64});
    ASSERT_EQ(y.size(), x.size());
    for (uint32_t r = 0; r < rows; ++r) {
      // Bounds per block of 32: f32 exact; f16 relative 2^-11; int8 half a step of amax/127.
      for (uint32_t b = 0; b < cols; b += 32) {
        float amax = 0;
        for (uint32_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(x[r * cols + i]));
        for (uint32_t i = b; i < b + 32; ++i) {
          const float xi = x[r * cols + i], yi = y[r * cols + i];
          const double err = std::fabs(double(xi) - double(yi));
          if (w.codec == ActivationCodec::F32) EXPECT_EQ(xi, yi);
          if (w.codec == ActivationCodec::F16) EXPECT_LE(err, std::fabs(xi) * 0x1p-11 + 1e-7) << name;
          if (w.codec == ActivationCodec::Int8) EXPECT_LE(err, amax / 127.0 * 0.5 * 1.01 + amax * 1e-3) << name;
        }
      }
    }
  }
}

TEST(ActivationFrame, WireBytesPerElementComeFromTheCodec) {
  EXPECT_DOUBLE_EQ(wire_bytes_per_element(parse_wire_format("f32")), 4.0);
  EXPECT_DOUBLE_EQ(wire_bytes_per_element(parse_wire_format("f16+zstd")), 2.0);
  EXPECT_DOUBLE_EQ(wire_bytes_per_element(parse_wire_format("int8")), 34.0 / 32.0);  // ggml's Q8_0 block
}

TEST(ActivationFrame, Int8PutsAboutAQuarterOfF32OnTheWire) {
  const uint32_t cols = 768;
  const auto x = random_hidden(1, cols, 2);
  const auto f32 = encode_frame(1, 1, x.data(), 1, cols, parse_wire_format("f32"));
  const auto int8 = encode_frame(1, 1, x.data(), 1, cols, parse_wire_format("int8"));
  EXPECT_EQ(f32.payload.size(), 4u * cols);
  EXPECT_EQ(int8.payload.size(), cols / 32 * 34u);  // 1.0625 bytes per value
}

TEST(ActivationFrame, ZstdIsUsedOnlyWhenItShrinksThePayload) {
  const uint32_t cols = 768;
  const auto noisy = random_hidden(1, cols, 9);
  const auto int8 = encode_frame(1, 1, noisy.data(), 1, cols, parse_wire_format("int8+zstd"));
  EXPECT_FALSE(int8.zstd) << "random INT8 codes do not compress; the frame must go raw";
  EXPECT_EQ(int8.payload.size(), cols / 32 * 34u);
  std::vector<float> smooth(cols, 0.5f);  // every block identical: compresses well
  const auto f32 = encode_frame(1, 1, smooth.data(), 1, cols, parse_wire_format("f32+zstd"));
  EXPECT_TRUE(f32.zstd);
  EXPECT_LT(f32.payload.size(), 4u * cols / 4);
  EXPECT_EQ(decode_frame(f32, {cols, 1}), smooth);
  EXPECT_EQ(decode_frame(int8, {cols, 1}).size(), cols);
}

TEST(ActivationFrame, RefusesUnknownCodec) {
  const auto x = random_hidden(1, 64, 3);
  auto f = encode_frame(1, 1, x.data(), 1, 64, parse_wire_format("f32"));
  f.codec = 9;
  EXPECT_NE(error_of(f, {64, 8}).find("unknown codec id 9"), std::string::npos);
}

TEST(ActivationFrame, RefusesWrongShapes) {
  const auto x = random_hidden(2, 64, 4);
  auto f = encode_frame(1, 1, x.data(), 2, 64, parse_wire_format("int8"));
  EXPECT_NE(error_of(f, {128, 8}).find("64 columns, the model's dim is 128"), std::string::npos);
  EXPECT_NE(error_of(f, {64, 1}).find("2 rows, allowed 1..1"), std::string::npos);
  auto g = f;
  g.rows = 0;
  EXPECT_NE(error_of(g, {64, 8}).find("0 rows"), std::string::npos);
}

TEST(ActivationFrame, RefusesPayloadOfWrongSize) {
  const auto x = random_hidden(2, 64, 5);
  auto f = encode_frame(1, 1, x.data(), 2, 64, parse_wire_format("f16"));
  f.payload.pop_back();
  EXPECT_NE(error_of(f, {64, 8}).find("payload is 255 bytes, expected 256"), std::string::npos);
  auto g = encode_frame(1, 1, x.data(), 2, 64, parse_wire_format("f16"));
  g.rows = 1;  // declared shape disagrees with the bytes
  EXPECT_NE(error_of(g, {64, 8}).find("expected 128"), std::string::npos);
}

TEST(ActivationFrame, RefusesCorruptedPayloads) {
  const auto x = random_hidden(2, 64, 6);
  auto f = encode_frame(1, 1, x.data(), 2, 64, parse_wire_format("f32"));
  f.payload[10] ^= 0x40;
  EXPECT_NE(error_of(f, {64, 8}).find("checksum"), std::string::npos);
  std::vector<float> smooth(2 * 64, 1.25f);  // compressible, so the frame really is zstd
  auto z = encode_frame(1, 1, smooth.data(), 2, 64, parse_wire_format("f32+zstd"));
  ASSERT_TRUE(z.zstd);
  z.payload[z.payload.size() / 2] ^= 0xff;
  EXPECT_NE(error_of(z, {64, 8}).find("zstd"), std::string::npos);
}

std::vector<uint8_t> zstd_of_zeros(size_t n, bool declare_size) {
  std::vector<uint8_t> zeros(n, 0), out(ZSTD_compressBound(n));
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, declare_size ? 1 : 0);
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  ZSTD_inBuffer ib{zeros.data(), zeros.size(), 0};
  ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
  ZSTD_freeCCtx(c);
  out.resize(ob.pos);
  return out;
}

// Three layers of defence, each tested: a payload larger than zstd could ever produce for
// the declared shape; a frame header declaring more than the shape; and, when the header
// declares nothing, decompression into a buffer of exactly the shape's size.
TEST(ActivationFrame, RefusesDecompressionBombs) {
  ActivationFrame f;
  f.rows = 1;
  f.cols = 64;
  f.codec = 0;  // f32: 256 bytes expected
  f.zstd = true;
  f.payload = zstd_of_zeros(64u << 20, true);
  EXPECT_NE(error_of(f, {64, 8}).find("exceeds the bound"), std::string::npos) << error_of(f, {64, 8});

  f.payload = zstd_of_zeros(1u << 20, true);
  ASSERT_LT(f.payload.size(), 320u) << "the small bomb must pass the size bound to reach the next check";
  EXPECT_NE(error_of(f, {64, 8}).find("declares 1048576 bytes, expected 256"), std::string::npos) << error_of(f, {64, 8});

  f.payload = zstd_of_zeros(1u << 20, false);
  ASSERT_LT(f.payload.size(), 320u);
  EXPECT_NE(error_of(f, {64, 8}).find("zstd payload rejected"), std::string::npos) << error_of(f, {64, 8});
}

TEST(ActivationFrame, RefusesNonFiniteValues) {
  std::vector<float> x(64, 1.0f);
  x[5] = std::nanf("");
  auto f = encode_frame(1, 1, x.data(), 1, 64, parse_wire_format("f32"));
  EXPECT_NE(error_of(f, {64, 8}).find("non-finite"), std::string::npos);
}

// One codec serves a stage for its lifetime: reused zstd contexts must carry nothing from
// one frame to the next, not even after a frame was rejected half-way.
TEST(FrameCodec, ReusedAcrossFormatsAndAfterRejectedFrames) {
  FrameCodec codec;
  std::vector<float> smooth(3 * 64, 0.75f);
  for (int round = 0; round < 3; ++round) {
    for (const char* name : {"f32+zstd", "int8+zstd", "f16", "f16+zstd"}) {
      const auto x = random_hidden(3, 64, static_cast<uint32_t>(round + 20));
      const auto f = codec.encode(1, 1, x.data(), 3, 64, parse_wire_format(name));
      EXPECT_EQ(codec.decode(f, {64, 8}), decode_frame(f, {64, 8})) << name;
    }
    auto bad = codec.encode(1, 2, smooth.data(), 3, 64, parse_wire_format("f32+zstd"));
    ASSERT_TRUE(bad.zstd);
    bad.payload[bad.payload.size() / 2] ^= 0x5a;
    EXPECT_THROW(codec.decode(bad, {64, 8}), FrameError);
    const auto good = codec.encode(1, 3, smooth.data(), 3, 64, parse_wire_format("f32+zstd"));
    EXPECT_EQ(codec.decode(good, {64, 8}), smooth);
  }
}

TEST(WireFormat, ParsesAndNamesFormats) {
  EXPECT_EQ(wire_format_name(parse_wire_format("int8+zstd")), "int8+zstd");
  EXPECT_EQ(wire_format_name(parse_wire_format("f16")), "f16");
  EXPECT_THROW(parse_wire_format("int4"), std::invalid_argument);
  EXPECT_THROW(parse_wire_format("int8+lz4"), std::invalid_argument);
}

TEST(Crc32c, KnownAnswer) {
  const std::string s = "123456789";
  EXPECT_EQ(crc32c(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0xe3069283u);  // RFC 3720 check value
}

}  // namespace
}  // namespace baton
