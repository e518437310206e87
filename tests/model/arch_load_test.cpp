// Llama 3 (rope_freqs, tied head), Qwen3, Phi-3 (with and without LongRoPE) and YaRN files:
// what loading reads from them, and the precise refusal for each kind of inconsistent or
// unsupported file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>

#include "gguf_rewrite.h"
#include "model/kv_cache.h"
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

// Phi-3 128k / Phi-3.5 (LongRoPE) as the converter writes them: no scaling type, the two
// factor tensors, the original context and the attention factor it derives from the two
// contexts (here 512 over 256).
SynthOptions longrope(int original_context = 256) {
  SynthOptions o = tiny(Architecture::Phi3);
  o.long_rope = LongRopeScaling{original_context};
  return o;
}

TEST(Phi3, LongRopeFileLoads) {
  auto m = Model::open(test::synth_model_path(longrope()), {});
  const HyperParams& hp = m->hparams();
  EXPECT_EQ(hp.rope_scaling, RopeScaling::Linear) << "Phi-3 files carry no scaling type";
  EXPECT_EQ(hp.ctx_train, 512);
  EXPECT_EQ(hp.rope.original_context, 256);
  EXPECT_FLOAT_EQ(hp.rope.attn_factor, static_cast<float>(std::sqrt(1.0 + std::log(2.0) / std::log(256.0))));
  EXPECT_EQ(hp.rope.freq_scale, 1.0f);
  EXPECT_EQ(hp.rope.ext_factor, 0.0f);
  const StageWeights& w = m->weights();
  ASSERT_NE(w.rope_factors_long, nullptr);
  ASSERT_NE(w.rope_factors_short, nullptr);
  EXPECT_EQ(w.rope_freqs, nullptr);
  const auto want_long = longrope_factors(true, 32), want_short = longrope_factors(false, 32);
  EXPECT_EQ(0, std::memcmp(w.rope_factors_long, want_long.data(), want_long.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(w.rope_factors_short, want_short.data(), want_short.size() * sizeof(float)));
  EXPECT_EQ(want_short.front(), 1.0f);
  EXPECT_EQ(want_long.back(), 32.0f);
}

// Logits of a fixed 8-token prompt with a KV cache of `context` positions.
std::vector<float> logits_at_context(const Transformer& tf, int64_t context) {
  const HyperParams& hp = tf.hparams();
  const std::vector<int32_t> tokens = {1, 17, 300, 5, 999, 42, 7, 512};
  const auto n = static_cast<int64_t>(tokens.size());
  KVCache kv(DType::F32, {0, hp.n_layers}, context, hp.kv_dim());
  std::vector<float> hidden(tokens.size() * static_cast<size_t>(hp.dim));
  tf.embed(tokens, hidden.data());
  tf.forward_layers(0, hp.n_layers, hidden.data(), n, 0, kv, nullptr);
  std::vector<float> logits(tokens.size() * static_cast<size_t>(hp.vocab_size));
  tf.head(hidden.data(), n, logits.data(), nullptr);
  return logits;
}

// As llama.cpp chooses (llama_model::get_rope_factors): the long factors once the context in
// use exceeds the original context, the short ones up to it, decided per KV cache.
TEST(Phi3, LongRopeFactorsFollowTheContext) {
  auto m = Model::open(test::synth_model_path(longrope()), {});
  StageWeights only_short = m->weights();
  only_short.rope_factors_long = only_short.rope_factors_short;
  StageWeights only_long = m->weights();
  only_long.rope_factors_short = only_long.rope_factors_long;
  const Transformer short_tf(m->hparams(), only_short);
  const Transformer long_tf(m->hparams(), only_long);
  for (int64_t context : {8, 256, 257, 512}) {
    const bool is_long = context > 256;
    const auto got = logits_at_context(m->transformer(), context);
    EXPECT_EQ(got, logits_at_context(is_long ? long_tf : short_tf, context)) << "context " << context;
    EXPECT_NE(got, logits_at_context(is_long ? short_tf : long_tf, context)) << "context " << context;
  }
}

TEST(Phi3, LongRopeFactorsOfTheWrongLengthAreNamed) {
  const auto path = rewrite(test::synth_model_path(longrope()), "longrope-short-factors",
                            edit_tensor("rope_factors_short.weight", [](GgufTensor& t, std::vector<uint8_t>& data) {
                              t.dims = {8};
                              data.resize(8 * sizeof(float));
                            }));
  expect_error(path, {"rope_factors_short.weight", "[16]", "[8]"});
}

TEST(Phi3, NonPositiveLongRopeFactorIsNamed) {
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const auto path = rewrite(test::synth_model_path(longrope()), "longrope-bad-factor",
                              edit_tensor("rope_factors_long.weight", [bad](GgufTensor&, std::vector<uint8_t>& data) {
                                std::memcpy(data.data() + 3 * sizeof(float), &bad, sizeof(float));
                              }));
    expect_error(path, {"rope_factors_long.weight", "value 3", "finite and positive"});
  }
}

TEST(Phi3, OneLongRopeFactorTensorAloneIsRefused) {
  expect_error(rewrite(test::synth_model_path(longrope()), "longrope-no-short", drop_tensor("rope_factors_short.weight")),
               {"'rope_factors_long.weight' but not 'rope_factors_short.weight'", "needs both"});
}

TEST(Phi3, BadLongRopeMetadataIsNamed) {
  const auto zero_attn = rewrite(test::synth_model_path(longrope()), "longrope-attn-zero", {nullptr, nullptr},
                                 [](GgufWriter& w) { w.set_f32("phi3.rope.scaling.attn_factor", 0.0f); });
  expect_error(zero_attn, {"'phi3.rope.scaling.attn_factor' must be in (0, 100], found 0"});
  const auto zero_ctx = rewrite(test::synth_model_path(longrope()), "longrope-orig-zero",
                                set_key("phi3.rope.scaling.original_context_length", u32(0)));
  expect_error(zero_ctx, {"'phi3.rope.scaling.original_context_length' must be in [1, 16777216], found 0"});
}

// LongRoPE factors are read for phi3, and for llama files that say rope.scaling.type
// longrope (as llama.cpp reads them); elsewhere they are refused, not ignored.
TEST(RopeScalingMetadata, LongRopeFactorsWhereTheyDoNotApplyAreRefused) {
  auto add_factors = [](GgufWriter& w) {
    w.add_tensor("rope_factors_long.weight", {32}, DType::F32, std::vector<uint8_t>(32 * 4, 0));
    w.add_tensor("rope_factors_short.weight", {32}, DType::F32, std::vector<uint8_t>(32 * 4, 0));
  };
  expect_error(rewrite(test::synth_model_path(tiny(Architecture::Qwen3)), "qwen3-with-longrope", {nullptr, nullptr},
                       add_factors),
               {"rope_factors_long.weight", "only read for phi3 files and llama files", "qwen3"});
  expect_error(rewrite(test::synth_model_path(tiny(Architecture::Llama)), "llama-with-longrope", {nullptr, nullptr},
                       [](GgufWriter& w) {
                         w.add_tensor("rope_factors_long.weight", {16}, DType::F32, std::vector<uint8_t>(16 * 4, 0));
                         w.add_tensor("rope_factors_short.weight", {16}, DType::F32, std::vector<uint8_t>(16 * 4, 0));
                       }),
               {"rope_factors_long.weight", "rope.scaling.type is longrope", "llama"});
  expect_error(rewrite(test::synth_model_path(tiny(Architecture::Llama)), "llama-longrope-no-factors", {nullptr, nullptr},
                       [](GgufWriter& w) { w.set_string("llama.rope.scaling.type", "longrope"); }),
               {"llama.rope.scaling.type is longrope", "no 'rope_factors_long.weight'"});
}

// A llama file with rope.scaling.type longrope and both tensors runs them as Phi-3 does.
TEST(RopeScalingMetadata, LlamaWithLongRopeTypeLoadsItsFactors) {
  const auto ones = [](int n) {
    std::vector<uint8_t> bytes(static_cast<size_t>(n) * 4);
    for (int i = 0; i < n; ++i) {
      const float v = 1.0f + static_cast<float>(i);
      std::memcpy(bytes.data() + 4 * i, &v, 4);
    }
    return bytes;
  };
  const auto path = rewrite(test::synth_model_path(tiny(Architecture::Llama)), "llama-longrope", {nullptr, nullptr},
                            [&](GgufWriter& w) {
                              w.set_string("llama.rope.scaling.type", "longrope");
                              w.add_tensor("rope_factors_long.weight", {16}, DType::F32, ones(16));
                              w.add_tensor("rope_factors_short.weight", {16}, DType::F32, ones(16));
                            });
  auto m = Model::open(path, {});
  EXPECT_EQ(m->hparams().rope_scaling, RopeScaling::LongRope);
  ASSERT_NE(m->weights().rope_factors_long, nullptr);
  EXPECT_EQ(m->weights().rope_factors_long[15], 16.0f);
}

// YaRN as the converter writes it (type, factor, original context) takes llama.cpp's
// defaults for the rest: extrapolation factor 1, beta_fast 32, beta_slow 1.
SynthOptions yarn(Architecture arch) {
  SynthOptions o = tiny(arch);
  o.yarn_rope = YarnRopeScaling{4.0f, 64};
  return o;
}

TEST(Yarn, FileLoadsWithLlamaCppDefaults) {
  for (Architecture arch : {Architecture::Llama, Architecture::Qwen3, Architecture::Phi3}) {
    auto m = Model::open(test::synth_model_path(yarn(arch)), {});
    const RopeParams& r = m->hparams().rope;
    EXPECT_EQ(m->hparams().rope_scaling, RopeScaling::Yarn);
    EXPECT_EQ(r.freq_scale, 0.25f);
    EXPECT_EQ(r.ext_factor, 1.0f);
    EXPECT_EQ(r.beta_fast, 32.0f);
    EXPECT_EQ(r.beta_slow, 1.0f);
    EXPECT_EQ(r.original_context, 64);
    EXPECT_EQ(r.attn_factor, 1.0f);
  }
}

TEST(Yarn, TheFilesOwnYarnValuesAreRead) {
  const auto path = rewrite(test::synth_model_path(yarn(Architecture::Qwen3)), "yarn-own-values", {nullptr, nullptr},
                            [](GgufWriter& w) {
                              w.set_f32("qwen3.rope.scaling.yarn_ext_factor", 0.5f);
                              w.set_f32("qwen3.rope.scaling.yarn_beta_fast", 16.0f);
                              w.set_f32("qwen3.rope.scaling.yarn_beta_slow", 2.0f);
                            });
  auto m = Model::open(path, {});
  EXPECT_EQ(m->hparams().rope.ext_factor, 0.5f);
  EXPECT_EQ(m->hparams().rope.beta_fast, 16.0f);
  EXPECT_EQ(m->hparams().rope.beta_slow, 2.0f);
}

TEST(RopeScalingMetadata, MalformedScalingIsNamed) {
  const std::string base = test::synth_model_path(yarn(Architecture::Llama));
  auto with = [&](const std::string& name, std::function<void(GgufWriter&)> change) {
    return rewrite(base, name, {nullptr, nullptr}, std::move(change));
  };
  expect_error(with("scaling-dynamic", [](GgufWriter& w) { w.set_string("llama.rope.scaling.type", "dynamic"); }),
               {"llama.rope.scaling.type 'dynamic' is not supported", "none, linear, yarn, longrope"});
  expect_error(rewrite(base, "yarn-no-factor", {[](const std::string& key, GgufValue&) {
                                                  return key != "llama.rope.scaling.factor";
                                                },
                                                nullptr}),
               {"rope.scaling.type is yarn but llama.rope.scaling.factor is missing"});
  expect_error(with("yarn-factor-half", [](GgufWriter& w) { w.set_f32("llama.rope.scaling.factor", 0.5f); }),
               {"llama.rope.scaling.factor must be in [1, 1e6], found 0.5"});
  expect_error(with("yarn-ext-two", [](GgufWriter& w) { w.set_f32("llama.rope.scaling.yarn_ext_factor", 2.0f); }),
               {"'llama.rope.scaling.yarn_ext_factor' must be in [0, 1], found 2"});
  expect_error(with("yarn-beta-zero", [](GgufWriter& w) { w.set_f32("llama.rope.scaling.yarn_beta_fast", 0.0f); }),
               {"'llama.rope.scaling.yarn_beta_fast' must be in (0, 10000], found 0"});
  expect_error(with("yarn-log-mul", [](GgufWriter& w) { w.set_f32("llama.rope.scaling.yarn_log_multiplier", 0.1f); }),
               {"llama.rope.scaling.yarn_log_multiplier is set", "does not apply another one"});
  expect_error(with("yarn-orig-huge", [](GgufWriter& w) {
                 w.set_u32("llama.rope.scaling.original_context_length", 1u << 30);
               }),
               {"'llama.rope.scaling.original_context_length' must be in [1, 16777216]"});
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
