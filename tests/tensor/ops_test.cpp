// Element-wise kernels and RoPE against double-precision references.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "tensor/fp16.h"
#include "tensor/kernels.h"
#include "tensor/kernels_dispatch.h"
#include "tests/tensor/tensor_test_util.h"

namespace baton {
namespace {

using detail::KernelTable;
using testing::random_floats;
using testing::random_uniform;

const int64_t kSizes[] = {1, 2, 7, 8, 9, 33, 1000};

std::vector<const KernelTable*> tables() {
  std::vector<const KernelTable*> t = {&detail::scalar_kernels()};
  if (detail::avx2_kernels() != nullptr) t.push_back(detail::avx2_kernels());
  if (detail::neon_kernels() != nullptr) t.push_back(detail::neon_kernels());
  if (detail::neon_dotprod_kernels() != nullptr) t.push_back(detail::neon_dotprod_kernels());
  return t;
}

TEST(Ops, RmsNorm) {
  for (int64_t n : kSizes) {
    const auto x = random_floats(n, 10 + static_cast<uint32_t>(n), 3.0f);
    const auto w = random_floats(n, 20 + static_cast<uint32_t>(n));
    for (float eps : {1e-6f, 1e-5f, 0.5f}) {
      double ss = 0;
      for (float v : x) ss += static_cast<double>(v) * v;
      const double inv = 1.0 / std::sqrt(ss / n + eps);
      std::vector<float> out(n);
      rmsnorm(x.data(), w.data(), out.data(), n, eps);
      for (int64_t i = 0; i < n; ++i) {
        const double expect = x[i] * inv * w[i];
        ASSERT_NEAR(out[i], expect, 1e-6 * std::fabs(expect) + 1e-12) << "n=" << n << " i=" << i;
      }
      // In place (out aliases x).
      std::vector<float> y = x;
      rmsnorm(y.data(), w.data(), y.data(), n, eps);
      EXPECT_EQ(0, std::memcmp(y.data(), out.data(), n * sizeof(float)));
    }
  }
}

void check_softmax(void (*fn)(float*, int64_t), const char* name) {
  for (int64_t n : kSizes) {
    for (float scale : {1.0f, 30.0f}) {
      auto x = random_floats(n, 30 + static_cast<uint32_t>(n), scale);
      if (n > 3) {
        x[1] = -INFINITY;  // a masked entry
        x[2] = 1000.0f;    // would overflow a naive exp
      }
      double max = -INFINITY;
      for (float v : x) max = std::max(max, static_cast<double>(v));
      std::vector<double> e(n);
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += (e[i] = std::exp(static_cast<double>(x[i]) - max));
      fn(x.data(), n);
      double total = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double expect = e[i] / sum;
        ASSERT_NEAR(x[i], expect, 2e-6 * expect + 1e-9) << name << " n=" << n << " i=" << i;
        total += x[i];
      }
      EXPECT_NEAR(total, 1.0, 1e-5) << name;
      if (n > 3) {
        EXPECT_EQ(x[1], 0.0f) << name;
      }
    }
  }
}

TEST(Ops, SoftmaxBothTables) {
  for (const KernelTable* k : tables()) check_softmax(k->softmax, k->name);
  check_softmax(softmax_inplace, "public");
}

void check_silu_mul(void (*fn)(const float*, const float*, float*, int64_t), const char* name) {
  for (int64_t n : kSizes) {
    auto g = random_uniform(n, 40 + static_cast<uint32_t>(n), -20.0f, 20.0f);
    const auto u = random_floats(n, 50 + static_cast<uint32_t>(n));
    if (n > 3) {
      g[0] = -100.0f;  // exp(100) overflows float: the result must still be ~0, not NaN
      g[1] = 100.0f;
      g[2] = 0.0f;
    }
    std::vector<float> out(n);
    fn(g.data(), u.data(), out.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double gd = g[i];
      const double expect = gd / (1.0 + std::exp(-gd)) * u[i];
      ASSERT_NEAR(out[i], expect, 2e-6 * std::fabs(expect) + 1e-30) << name << " n=" << n << " i=" << i;
    }
    // out aliasing gate.
    std::vector<float> alias = g;
    fn(alias.data(), u.data(), alias.data(), n);
    EXPECT_EQ(0, std::memcmp(alias.data(), out.data(), n * sizeof(float))) << name;
  }
}

TEST(Ops, SiluMulBothTables) {
  for (const KernelTable* k : tables()) check_silu_mul(k->silu_mul, k->name);
  check_silu_mul(silu_mul, "public");
}

// GELU at llama.cpp's precision (ggml's f16 table): the output (with up = 1) is an f16
// value, it is the same for every input that rounds to the same f16, it is within one f16
// step of the tanh approximation taken in double, and at or beyond +-10 it is x or 0.
TEST(Ops, GeluMulIsGeluOfTheF16InputRoundedToF16) {
  std::vector<float> x;
  for (int i = 0; i < 4000; ++i) x.push_back(-12.0f + 24.0f * static_cast<float>(i) / 4000.0f);
  for (float v : {-10.0f, 10.0f, -9.999f, 9.999f, 0.0f, -0.0f, 1e-6f, -3.0f}) x.push_back(v);
  const std::vector<float> ones(x.size(), 1.0f);
  std::vector<float> out(x.size());
  gelu_mul(x.data(), ones.data(), out.data(), static_cast<int64_t>(x.size()));
  int differs_from_f32_formula = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float v = x[i];
    if (v <= -10.0f) {
      ASSERT_EQ(out[i], 0.0f) << v;
      continue;
    }
    if (v >= 10.0f) {
      ASSERT_EQ(out[i], v) << v;
      continue;
    }
    ASSERT_EQ(out[i], fp16_to_f32(f32_to_fp16(out[i]))) << "not an f16 value at " << v;
    const double h = fp16_to_f32(f32_to_fp16(v));
    const double exact = 0.5 * h * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (h + 0.044715 * h * h * h)));
    // One f16 step (2^-24 among f16's subnormals), or for large negative x (where 1 + tanh
    // cancels in float, in llama.cpp as here) the float rounding of 1 + tanh scaled by x / 2.
    const double step = std::max({std::abs(exact) * std::ldexp(1.0, -10), std::abs(h) * std::ldexp(1.0, -23),
                                  std::ldexp(1.0, -24)});
    ASSERT_LE(std::abs(out[i] - exact), step) << v;
    // Another input in the same f16 bucket gives the same output.
    const float neighbour = std::nextafter(v, v > 0 ? 0.0f : 1.0f);
    if (f32_to_fp16(neighbour) == f32_to_fp16(v)) {
      float again = 0.0f;
      const float one = 1.0f;
      gelu_mul(&neighbour, &one, &again, 1);
      ASSERT_EQ(again, out[i]) << v;
    }
    const float f32_gelu = 0.5f * v * (1.0f + std::tanh(0.7978845608f * v * (1.0f + 0.044715f * v * v)));
    if (f32_gelu != out[i]) ++differs_from_f32_formula;
  }
  // The f32 formula (what this was before) fails the comparisons above for most inputs.
  EXPECT_GT(differs_from_f32_formula, 1000);

  // The product with up, aliasing gate.
  auto gate = random_floats(257, 70, 4.0f);
  const auto up = random_floats(257, 71, 2.0f);
  std::vector<float> want(gate.size()), unit(gate.size(), 1.0f);
  gelu_mul(gate.data(), unit.data(), want.data(), 257);
  for (size_t i = 0; i < want.size(); ++i) want[i] *= up[i];
  gelu_mul(gate.data(), up.data(), gate.data(), 257);
  EXPECT_EQ(0, std::memcmp(gate.data(), want.data(), want.size() * sizeof(float)));
}

TEST(Ops, AddInplace) {
  for (int64_t n : kSizes) {
    auto a = random_floats(n, 60);
    const auto b = random_floats(n, 61);
    const auto a0 = a;
    add_inplace(a.data(), b.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a[i], a0[i] + b[i]);
  }
}

// Reference RoPE straight from the definition, in double.
std::vector<double> rope_reference(const std::vector<float>& x, int n_heads, int pos, const RopeParams& p) {
  std::vector<double> out(x.begin(), x.end());
  const int half = p.rope_dims / 2;
  for (int h = 0; h < n_heads; ++h) {
    for (int i = 0; i < half; ++i) {
      const double factor = p.freq_factors ? p.freq_factors[i] : 1.0;
      const double angle =
          pos * static_cast<double>(p.freq_scale) * std::pow(static_cast<double>(p.theta), -2.0 * i / p.rope_dims) / factor;
      const int a = h * p.head_dim + (p.layout == RopeLayout::Normal ? 2 * i : i);
      const int b = h * p.head_dim + (p.layout == RopeLayout::Normal ? 2 * i + 1 : i + half);
      out[a] = x[a] * std::cos(angle) - x[b] * std::sin(angle);
      out[b] = x[a] * std::sin(angle) + x[b] * std::cos(angle);
    }
  }
  return out;
}

TEST(Rope, MatchesDefinitionForBothLayouts) {
  for (RopeLayout layout : {RopeLayout::Normal, RopeLayout::NeoX}) {
    for (int head_dim : {2, 64, 80, 128}) {
      for (int rope_dims : {head_dim, head_dim / 2}) {
        if (rope_dims % 2) continue;
        for (float theta : {10000.0f, 500000.0f}) {
          for (float freq_scale : {1.0f, 0.25f}) {
            for (int pos : {0, 1, 17, 4095, 100000}) {
              const RopeParams p{head_dim, rope_dims, theta, freq_scale, layout};
              const int n_heads = 3;
              const auto x = random_floats(n_heads * head_dim, 70 + pos + head_dim);
              auto y = x;
              rope_inplace(y.data(), n_heads, pos, p);
              const auto ref = rope_reference(x, n_heads, pos, p);
              for (int i = 0; i < n_heads * head_dim; ++i) {
                const int d = i % head_dim;
                const bool rotated = d < rope_dims;  // both layouts rotate exactly the first rope_dims values
                if (!rotated) {
                  ASSERT_EQ(y[i], x[i]) << "dims past rope_dims must be untouched";
                } else {
                  ASSERT_NEAR(y[i], ref[i], 2e-6 * (1 + std::fabs(ref[i])))
                      << (layout == RopeLayout::Normal ? "normal" : "neox") << " head_dim " << head_dim << " rope_dims "
                      << rope_dims << " pos " << pos << " i " << i;
                }
              }
            }
          }
        }
      }
    }
  }
}

TEST(Rope, LayoutsDiffer) {
  // Guards against a reference that is wrong in the same way as the kernel: with more
  // than one pair, the two layouts rotate different coordinates together.
  const auto x = random_floats(8, 5);
  auto a = x, b = x;
  rope_inplace(a.data(), 1, 3, RopeParams{8, 8, 10000.0f, 1.0f, RopeLayout::Normal});
  rope_inplace(b.data(), 1, 3, RopeParams{8, 8, 10000.0f, 1.0f, RopeLayout::NeoX});
  EXPECT_NE(a, b);
  // Position 0 is the identity; pair (0,1) in Normal layout rotates by exactly `pos` radians.
  auto c = x;
  rope_inplace(c.data(), 1, 0, RopeParams{8, 8, 10000.0f, 1.0f, RopeLayout::Normal});
  EXPECT_EQ(c, x);
  EXPECT_NEAR(a[0], x[0] * std::cos(3.0) - x[1] * std::sin(3.0), 1e-6);
}

// Llama 3's rope_freqs: each pair's frequency divided by its own factor, in both layouts.
TEST(Rope, FrequencyFactorsDivideEachPairsFrequency) {
  const int head_dim = 64, n_heads = 2;
  std::vector<float> factors(head_dim / 2);
  for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0f + 31.0f * static_cast<float>(i) / 31.0f;  // 1 .. 32
  for (RopeLayout layout : {RopeLayout::Normal, RopeLayout::NeoX}) {
    for (int pos : {0, 5, 23, 8191, 100000}) {
      RopeParams p{head_dim, head_dim, 500000.0f, 1.0f, layout};
      p.freq_factors = factors.data();
      const auto x = random_floats(n_heads * head_dim, 300 + pos);
      auto y = x;
      rope_inplace(y.data(), n_heads, pos, p);
      const auto ref = rope_reference(x, n_heads, pos, p);
      for (int i = 0; i < n_heads * head_dim; ++i) ASSERT_NEAR(y[i], ref[i], 2e-6 * (1 + std::fabs(ref[i]))) << pos << " " << i;
      // All-ones factors are the plain rotation, bit for bit.
      std::vector<float> ones(head_dim / 2, 1.0f);
      p.freq_factors = ones.data();
      auto a = x, b = x;
      rope_inplace(a.data(), n_heads, pos, p);
      p.freq_factors = nullptr;
      rope_inplace(b.data(), n_heads, pos, p);
      ASSERT_EQ(a, b);
      if (pos > 0) ASSERT_NE(y, b) << "factors other than 1 must change the rotation";
    }
  }
}

// ggml's CPU rope with YaRN (ggml-cpu/ops.cpp: ggml_rope_yarn_corr_dims, rope_yarn_ramp,
// rope_yarn, ggml_rope_cache_init), transcribed in float as ggml computes it, for one head.
std::vector<float> rope_ggml_reference(const std::vector<float>& x, int pos, const RopeParams& p) {
  const int n_dims = p.rope_dims;
  auto corr_dim = [&](float n_rot) {
    return n_dims * std::log(p.original_context / (n_rot * 2 * std::numbers::pi_v<float>)) / (2 * std::log(p.theta));
  };
  const float low = std::max(0.0f, std::floor(corr_dim(p.beta_fast)));
  const float high = std::min(static_cast<float>(n_dims - 1), std::ceil(corr_dim(p.beta_slow)));
  const float theta_scale = std::pow(p.theta, -2.0f / n_dims);
  std::vector<float> out = x;
  float theta_base = static_cast<float>(pos);
  for (int i0 = 0; i0 < n_dims; i0 += 2, theta_base *= theta_scale) {
    const float ff = p.freq_factors ? p.freq_factors[i0 / 2] : 1.0f;
    const float theta_extrap = theta_base / ff;
    const float theta_interp = p.freq_scale * theta_extrap;
    float theta = theta_interp;
    float mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) {
      const float y = (i0 / 2 - low) / std::max(0.001f, high - low);
      const float ramp_mix = (1 - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
      theta = theta_interp * (1 - ramp_mix) + theta_extrap * ramp_mix;
      mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
    }
    const float c = std::cos(theta) * mscale, s = std::sin(theta) * mscale;
    const int a = p.layout == RopeLayout::Normal ? i0 : i0 / 2;
    const int b = p.layout == RopeLayout::Normal ? i0 + 1 : i0 / 2 + n_dims / 2;
    out[a] = x[a] * c - x[b] * s;
    out[b] = x[a] * s + x[b] * c;
  }
  return out;
}

// YaRN against ggml's formula, in both layouts, with and without frequency factors: the
// ramp between the correction dims, the interpolated pairs above them and the magnitude
// factor. Positions stay small enough that ggml's float angles are accurate to ~1e-6.
TEST(Rope, YarnMatchesGgml) {
  const int head_dim = 64;
  std::vector<float> factors(head_dim / 2);
  for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0f + 0.5f * static_cast<float>(i % 5);
  for (RopeLayout layout : {RopeLayout::Normal, RopeLayout::NeoX}) {
    for (const float* ff : {static_cast<const float*>(nullptr), static_cast<const float*>(factors.data())}) {
      for (float theta : {10000.0f, 1000000.0f}) {
        for (int original : {64, 4096}) {
          RopeParams p{head_dim, head_dim, theta, 0.25f, layout};
          p.freq_factors = ff;
          p.ext_factor = 1.0f;
          p.original_context = original;
          const RopeTable table(p);
          EXPECT_FLOAT_EQ(table.mscale(), 1.0f + 0.1f * std::log(4.0f));
          for (int pos : {0, 1, 7, 23, 100}) {
            const auto x = random_floats(head_dim, 500 + pos);
            auto y = x;
            rope_inplace(y.data(), 1, pos, table);
            const auto ref = rope_ggml_reference(x, pos, p);
            for (int i = 0; i < head_dim; ++i) {
              ASSERT_NEAR(y[i], ref[i], 2e-5 * (1 + std::fabs(ref[i])))
                  << (layout == RopeLayout::Normal ? "normal" : "neox") << " theta " << theta << " original "
                  << original << " pos " << pos << " i " << i;
            }
          }
        }
      }
    }
  }
}

// The YaRN table pair by pair: extrapolated (as trained) below the low correction dim,
// interpolated (times freq_scale) above the high one, blended between; ext_factor 0 is
// plain linear scaling with no magnitude factor.
TEST(Rope, YarnTableBlendsBetweenTheCorrectionDims) {
  RopeParams p{64, 64, 10000.0f, 0.25f, RopeLayout::NeoX};
  p.ext_factor = 1.0f;
  p.original_context = 64;
  // corr dims: floor(64 ln(64 / (32 * 2 pi)) / (2 ln 10000)) < 0 -> 0, ceil(64 ln(64 / 2 pi) / (2 ln 10000)) = 9.
  const RopeTable yarn(p);
  for (int i = 0; i < 32; ++i) {
    const double base = std::pow(10000.0, -2.0 * i / 64);
    const double ramp = 1.0 - std::min(1.0, std::max(0.0, i / 9.0));
    EXPECT_NEAR(yarn.freq(i), base * (0.25 * (1 - ramp) + ramp), 1e-7 * base) << i;  // the ramp is float, as in ggml
  }
  EXPECT_NEAR(yarn.freq(0), 1.0, 1e-15);
  p.ext_factor = 0.0f;
  const RopeTable linear(p);
  EXPECT_EQ(linear.mscale(), 1.0f);
  for (int i = 0; i < 32; ++i) EXPECT_NEAR(linear.freq(i), 0.25 * std::pow(10000.0, -2.0 * i / 64), 1e-15) << i;
}

// attn_factor scales cos and sin: a factor of 2 doubles every rotated value exactly and
// leaves the others alone.
TEST(Rope, AttnFactorScalesTheRotatedValues) {
  RopeParams p{64, 32, 10000.0f, 1.0f, RopeLayout::NeoX};
  const auto x = random_floats(2 * 64, 9);
  auto plain = x, scaled = x;
  rope_inplace(plain.data(), 2, 17, p);
  p.attn_factor = 2.0f;
  rope_inplace(scaled.data(), 2, 17, p);
  for (int i = 0; i < 2 * 64; ++i) {
    if (i % 64 < 32) {
      ASSERT_EQ(scaled[i], 2.0f * plain[i]) << i;
    } else {
      ASSERT_EQ(scaled[i], x[i]) << i;
    }
  }
}

TEST(Rope, RejectsBadParams) {
  float x[8] = {};
  EXPECT_THROW(rope_inplace(x, 1, 0, RopeParams{8, 10, 10000.0f, 1.0f, RopeLayout::Normal}), std::invalid_argument);
  EXPECT_THROW(rope_inplace(x, 1, 0, RopeParams{8, 3, 10000.0f, 1.0f, RopeLayout::Normal}), std::invalid_argument);
  EXPECT_THROW(rope_inplace(x, 1, 0, RopeParams{0, 0, 10000.0f, 1.0f, RopeLayout::Normal}), std::invalid_argument);
  RopeParams p{8, 8, 10000.0f, 1.0f, RopeLayout::Normal};
  p.attn_factor = 0.0f;
  EXPECT_THROW(RopeTable{p}, std::invalid_argument);
  p.attn_factor = 1.0f;
  p.ext_factor = 1.0f;  // YaRN without an original context
  EXPECT_THROW(RopeTable{p}, std::invalid_argument);
  p.original_context = 64;
  EXPECT_NO_THROW(RopeTable{p});
  const float bad[4] = {1.0f, 0.0f, 1.0f, 1.0f};
  p.freq_factors = bad;
  EXPECT_THROW(RopeTable{p}, std::invalid_argument);
}

}  // namespace
}  // namespace baton
