// Llama 3 (rope_freqs, tied head), Qwen3 and Phi-3 files: what loading reads from them, and
// the precise refusal for each kind of inconsistent or unsupported file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>

#include "gguf_rewrite.h"
#include "model/model.h"
#include "test_models.h"

namespace baton {
namespace {

using test::Edit;
using test::load_error;
using test::rewrite;

SynthOptions tiny(Architecture arch) {
  SynthOptions o;
  o.size = "tiny";
  o.dtype = DType::F32;
  o.arch = arch;
  return o;
}

SynthOptions llama3(float factor = 32.0f, int original_context = 8192) {
  SynthOptions o = tiny(Architecture::Llama);
  o.llama3_rope = Llama3RopeScaling{factor, 1.0f, 4.0f, original_context};
  o.tied_output = true;
  return o;
}

Edit set_key(const std::string& name, GgufValue value) {
  return {[name, value](const std::string& key, GgufValue& v) {
            if (key == name) v = value;
            return true;
          },
          nullptr};
}

Edit edit_tensor(const std::string& name, std::function<void(GgufTensor&, std::vector<uint8_t>&)> change) {
  return {nullptr, [name, change](GgufTensor& t, std::vector<uint8_t>& data) {
            if (t.name == name) change(t, data);
            return true;
          }};
}

Edit drop_tensor(const std::string& name) {
  return {nullptr, [name](GgufTensor& t, std::vector<uint8_t>&) { return t.name != name; }};
}

GgufValue u32(uint64_t v) { return GgufValue{GgufType::U32, v}; }

void expect_error(const std::string& path, const std::vector<std::string>& parts) {
  const std::string err = load_error(path);
  ASSERT_FALSE(err.empty()) << path << " loaded";
  for (const auto& p : parts) EXPECT_NE(err.find(p), std::string::npos) << "'" << p << "' not in: " << err;
}

// The converter's values for Llama 3.2 (factor 32) and 3.1 (factor 8) at head size 32,
// base 500000, original context 8192: 1 for the 8 fastest pairs (wavelengths below 2048),
// the factor for the slowest 7 (above 8192), and 1 / ((1 - s) / factor + s) between, where
// s = (8192 / wavelength - 1) / 3.
TEST(Llama3Rope, FactorsFollowTheConverter) {
  for (float factor : {32.0f, 8.0f}) {
    const auto f = llama3_rope_factors(Llama3RopeScaling{factor, 1.0f, 4.0f, 8192}, 500000.0f, 32);
    ASSERT_EQ(f.size(), 16u);
    for (int i = 0; i < 16; ++i) {
      const double wavelen = 2.0 * std::numbers::pi * std::pow(500000.0, i / 16.0);
      if (wavelen < 2048) {
        EXPECT_EQ(f[i], 1.0f) << i;
      } else if (wavelen > 8192) {
        EXPECT_EQ(f[i], factor) << i;
      } else {
        const double s = (8192 / wavelen - 1) / 3;
        EXPECT_NEAR(f[i], 1 / ((1 - s) / factor + s), 1e-4) << i;
        EXPECT_GT(f[i], 1.0f);
        EXPECT_LT(f[i], factor);
      }
    }
    EXPECT_EQ(f.front(), 1.0f);
    EXPECT_EQ(f.back(), factor);
  }
  EXPECT_THROW(llama3_rope_factors(Llama3RopeScaling{0.5f, 1.0f, 4.0f, 8192}, 500000.0f, 32), std::invalid_argument);
  EXPECT_THROW(llama3_rope_factors(Llama3RopeScaling{8.0f, 4.0f, 4.0f, 8192}, 500000.0f, 32), std::invalid_argument);
  EXPECT_THROW(llama3_rope_factors(Llama3RopeScaling{8.0f, 1.0f, 4.0f, 0}, 500000.0f, 32), std::invalid_argument);
}

TEST(Llama3Rope, TiedFileWithRopeFreqsLoads) {
  auto m = Model::open(test::synth_model_path(llama3()), {});
  const StageWeights& w = m->weights();
  ASSERT_NE(w.rope_freqs, nullptr);
  const auto want = llama3_rope_factors(Llama3RopeScaling{}, 500000.0f, 32);
  EXPECT_EQ(0, std::memcmp(w.rope_freqs, want.data(), want.size() * sizeof(float)));
  EXPECT_TRUE(m->hparams().tied_output);
  EXPECT_EQ(w.output.data, w.token_embedding.data) << "the head is the embedding";
  EXPECT_FLOAT_EQ(m->hparams().rope.theta, 500000.0f);
}

TEST(Llama3Rope, RopeFreqsOfTheWrongLengthAreNamed) {
  const auto path = rewrite(test::synth_model_path(llama3()), "rope-freqs-short",
                            edit_tensor("rope_freqs.weight", [](GgufTensor& t, std::vector<uint8_t>& data) {
                              t.dims = {8};
                              data.resize(8 * sizeof(float));
                            }));
  expect_error(path, {"rope_freqs.weight", "[16]", "[8]"});
}

TEST(Llama3Rope, NonPositiveFactorIsNamed) {
  for (float bad : {0.0f, -2.0f, std::numeric_limits<float>::quiet_NaN()}) {
    const auto path = rewrite(test::synth_model_path(llama3()), "rope-freqs-bad",
                              edit_tensor("rope_freqs.weight", [bad](GgufTensor&, std::vector<uint8_t>& data) {
                                std::memcpy(data.data() + 3 * sizeof(float), &bad, sizeof(float));
                              }));
    expect_error(path, {"rope_freqs.weight", "value 3", "finite and positive"});
  }
}

TEST(Llama3Rope, RopeFreqsOutsideLlamaAreRefused) {
  const auto path = rewrite(test::synth_model_path(tiny(Architecture::Qwen3)), "qwen3-with-rope-freqs", {nullptr, nullptr},
                            [](GgufWriter& w) {
                              w.add_tensor("rope_freqs.weight", {32}, DType::F32, std::vector<uint8_t>(32 * 4, 0));
                            });
  expect_error(path, {"rope_freqs.weight", "only defined for llama", "qwen3"});
}

TEST(Qwen3, HeadSizeComesFromKeyLength) {
  auto m = Model::open(test::synth_model_path(tiny(Architecture::Qwen3)), {});
  const HyperParams& hp = m->hparams();
  EXPECT_EQ(hp.head_dim, 64);
  EXPECT_EQ(hp.q_dim(), 512);
  EXPECT_EQ(hp.dim, 256);
  EXPECT_TRUE(hp.qk_norm);
  EXPECT_FALSE(hp.qkv_bias);
  EXPECT_EQ(hp.rope.layout, RopeLayout::NeoX);
  ASSERT_NE(m->weights().layers[0].attn_q_norm, nullptr);
  ASSERT_NE(m->weights().layers[0].attn_k_norm, nullptr);
}

TEST(Qwen3, ValueLengthOtherThanKeyLengthIsRefused) {
  const auto path = rewrite(test::synth_model_path(tiny(Architecture::Qwen3)), "qwen3-value-length",
                            set_key("qwen3.attention.value_length", u32(32)));
  expect_error(path, {"qwen3.attention.value_length 32", "key head size 64"});
}

TEST(Qwen3, PartialRopeIsRefused) {
  const auto path = rewrite(test::synth_model_path(tiny(Architecture::Qwen3)), "qwen3-partial-rope",
                            set_key("qwen3.rope.dimension_count", u32(32)));
  expect_error(path, {"qwen3.rope.dimension_count 32", "head size 64"});
}

TEST(Qwen3, MissingOrMisshapenHeadNormIsNamed) {
  expect_error(rewrite(test::synth_model_path(tiny(Architecture::Qwen3)), "qwen3-no-k-norm",
                       drop_tensor("blk.1.attn_k_norm.weight")),
               {"blk.1.attn_k_norm.weight"});
  expect_error(rewrite(test::synth_model_path(tiny(Architecture::Qwen3)), "qwen3-short-q-norm",
                       edit_tensor("blk.0.attn_q_norm.weight",
                                   [](GgufTensor& t, std::vector<uint8_t>& data) {
                                     t.dims = {32};
                                     data.resize(32 * sizeof(float));
                                   })),
               {"blk.0.attn_q_norm.weight", "[64]", "[32]"});
}

TEST(Phi3, FusedMatricesAreViewsOfOneTensor) {
  auto m = Model::open(test::synth_model_path(tiny(Architecture::Phi3)), {});
  const GgufFile& file = m->file();
  const uint8_t* qkv = file.find_tensor("blk.1.attn_qkv.weight")->data;
  const uint8_t* up = file.find_tensor("blk.1.ffn_up.weight")->data;
  const LayerWeights& L = m->weights().layer(1);
  const uint64_t row = 256 * sizeof(float);
  // Row ranges pointing into the mapped tensor (q: 256 rows, k and v: 128; gate, up: 512).
  EXPECT_EQ(L.attn_q.data, qkv);
  EXPECT_EQ(L.attn_k.data, qkv + row * 256);
  EXPECT_EQ(L.attn_v.data, qkv + row * 384);
  EXPECT_EQ(L.ffn_gate.data, up);
  EXPECT_EQ(L.ffn_up.data, up + row * 512);
  EXPECT_EQ(L.attn_q.rows, 256);
  EXPECT_EQ(L.attn_k.rows, 128);
  EXPECT_EQ(L.attn_v.rows, 128);
  EXPECT_EQ(L.ffn_gate.rows, 512);
  EXPECT_EQ(L.ffn_up.rows, 512);
  // The views add up to the fused tensors: each byte counted once, as the planner counts them.
  uint64_t file_bytes = file.find_tensor("output.weight")->nbytes;
  for (const GgufTensor& t : file.tensors()) {
    if (t.name.rfind("blk.", 0) == 0 && t.dims.size() == 2) file_bytes += t.nbytes;
  }
  EXPECT_EQ(decode_weight_bytes(m->weights()), file_bytes);
}

TEST(Phi3, LongRopeVariantIsRefused) {
  const auto path = rewrite(test::synth_model_path(tiny(Architecture::Phi3)), "phi3-longrope", {nullptr, nullptr},
                            [](GgufWriter& w) {
                              w.add_tensor("rope_factors_long.weight", {16}, DType::F32, std::vector<uint8_t>(16 * 4, 0));
                              w.add_tensor("rope_factors_short.weight", {16}, DType::F32, std::vector<uint8_t>(16 * 4, 0));
                            });
  expect_error(path, {"long-context Phi-3", "4k-context"});
}

TEST(Phi3, QueryWidthOtherThanModelWidthIsRefused) {
  const auto path = rewrite(test::synth_model_path(tiny(Architecture::Phi3)), "phi3-key-length", {nullptr, nullptr},
                            [](GgufWriter& w) { w.set_u32("phi3.attention.key_length", 64); });
  expect_error(path, {"phi3 needs head_count * head size == embedding_length", "8 * 64 != 256"});
}

TEST(Phi3, FusedTensorsAreNamedWhenMissingOrMisshapen) {
  expect_error(rewrite(test::synth_model_path(tiny(Architecture::Phi3)), "phi3-no-qkv", drop_tensor("blk.0.attn_qkv.weight")),
               {"blk.0.attn_qkv.weight"});
  expect_error(rewrite(test::synth_model_path(tiny(Architecture::Phi3)), "phi3-short-up",
                       edit_tensor("blk.1.ffn_up.weight",
                                   [](GgufTensor& t, std::vector<uint8_t>& data) {
                                     t.dims = {256, 512};
                                     data.resize(256 * 512 * sizeof(float));
                                   })),
               {"blk.1.ffn_up.weight", "[256, 1024]", "[256, 512]"});
}

}  // namespace
}  // namespace baton
