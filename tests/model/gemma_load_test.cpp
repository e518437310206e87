// Gemma 2 / 3 files: what their metadata means to baton (sliding-window pattern, RoPE of
// the sliding layers, soft-capping, scales), and clear errors for keys or tensors that are
// wrong or missing. Agreement of the math with llama.cpp is arch_reference_test's job.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "model/model.h"
#include "test_models.h"

namespace baton {
namespace {

// Copies a GGUF file, letting the test change or drop keys (return false to drop), add
// keys afterwards, and drop tensors by name.
std::string rewrite(const std::string& src, const std::string& name,
                    const std::function<bool(const std::string&, GgufValue&)>& edit,
                    const std::vector<std::pair<std::string, GgufValue>>& add = {},
                    const std::string& drop_tensor = "") {
  GgufFile f = GgufFile::open(src);
  GgufWriter w;
  for (const auto& [key, value] : f.metadata()) {
    GgufValue v = value;
    if (edit && !edit(key, v)) continue;
    w.set(key, v);
  }
  for (const auto& [key, value] : add) w.set(key, value);
  for (const GgufTensor& t : f.tensors()) {
    if (t.name != drop_tensor) w.add_tensor(t.name, t.dims, t.dtype, {t.data, t.data + t.nbytes});
  }
  const auto path = std::filesystem::path(BATON_BINARY_DIR) / "test-models" / ("gemma-" + name + ".gguf");
  w.write(path.string());
  return path.string();
}

std::string load_error(const std::string& path) {
  try {
    Model::open(path, {});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

const std::string& gemma2() {
  static const std::string path = test::synth_model_path("tiny", DType::F32, Architecture::Gemma2);
  return path;
}
const std::string& gemma3() {
  static const std::string path = test::synth_model_path("tiny6", DType::F32, Architecture::Gemma3);
  return path;
}

GgufValue u32(uint64_t v) { return {GgufType::U32, v}; }
GgufValue f32(double v) { return {GgufType::F32, v}; }

TEST(GemmaLoad, Gemma2HyperParameters) {
  auto m = Model::open(gemma2(), {});
  const HyperParams& hp = m->hparams();
  EXPECT_EQ(hp.arch, Architecture::Gemma2);
  EXPECT_TRUE(hp.gemma.enabled);
  EXPECT_FLOAT_EQ(hp.gemma.embed_scale, 16.0f);  // sqrt(256)
  EXPECT_FLOAT_EQ(hp.gemma.attn_scale, 1.0f / std::sqrt(32.0f));
  EXPECT_FLOAT_EQ(hp.gemma.attn_softcap, 5.0f);
  EXPECT_FLOAT_EQ(hp.gemma.final_softcap, 30.0f);
  EXPECT_FALSE(hp.gemma.qk_norm);
  EXPECT_EQ(hp.gemma.sliding_window, 6);
  EXPECT_EQ(hp.gemma.sliding, (std::vector<bool>{true, false}));  // even layers slide
  EXPECT_EQ(hp.rope.layout, RopeLayout::NeoX);
  EXPECT_FLOAT_EQ(hp.gemma.rope_sliding.theta, hp.rope.theta);
  EXPECT_TRUE(hp.tied_output);
}

TEST(GemmaLoad, Gemma3HyperParameters) {
  auto m = Model::open(gemma3(), {});
  const HyperParams& hp = m->hparams();
  EXPECT_EQ(hp.arch, Architecture::Gemma3);
  EXPECT_TRUE(hp.gemma.qk_norm);
  EXPECT_EQ(hp.gemma.attn_softcap, 0.0f);
  EXPECT_EQ(hp.gemma.final_softcap, 0.0f);
  EXPECT_EQ(hp.gemma.sliding, (std::vector<bool>{true, true, true, true, true, false}));
  // Global layers: the file's base and linear scaling; sliding layers: base 10000, unscaled.
  EXPECT_FLOAT_EQ(hp.rope.theta, 1e6f);
  EXPECT_FLOAT_EQ(hp.rope.freq_scale, 0.125f);
  EXPECT_FLOAT_EQ(hp.gemma.rope_sliding.theta, 10000.0f);
  EXPECT_FLOAT_EQ(hp.gemma.rope_sliding.freq_scale, 1.0f);
  EXPECT_EQ(hp.gemma.rope_sliding.layout, RopeLayout::NeoX);
}

TEST(GemmaLoad, Gemma3WithoutSlidingWindowHasOnlyGlobalLayers) {
  const auto path = rewrite(gemma3(), "no-window", [](const std::string& key, GgufValue&) {
    return key != "gemma3.attention.sliding_window";
  });
  auto m = Model::open(path, {});
  for (int il = 0; il < m->hparams().n_layers; ++il) EXPECT_FALSE(m->hparams().gemma.is_sliding(il)) << il;
}

TEST(GemmaLoad, PatternKeyOverridesTheDefault) {
  const auto period = rewrite(gemma3(), "period-2", nullptr, {{"gemma3.attention.sliding_window_pattern", u32(2)}});
  EXPECT_EQ(Model::open(period, {})->hparams().gemma.sliding, (std::vector<bool>{true, false, true, false, true, false}));

  auto flags = std::make_shared<GgufArray>();
  flags->elem_type = GgufType::BOOL;
  for (bool b : {false, true, true, false, false, true}) flags->items.push_back({GgufType::BOOL, b});
  const auto listed = rewrite(gemma3(), "flags", nullptr, {{"gemma3.attention.sliding_window_pattern", {GgufType::ARRAY, flags}}});
  EXPECT_EQ(Model::open(listed, {})->hparams().gemma.sliding, (std::vector<bool>{false, true, true, false, false, true}));

  flags->items.pop_back();
  const auto short_list = rewrite(gemma3(), "flags-short", nullptr, {{"gemma3.attention.sliding_window_pattern", {GgufType::ARRAY, flags}}});
  const std::string err = load_error(short_list);
  EXPECT_NE(err.find("'gemma3.attention.sliding_window_pattern' has 5 entries, expected one per layer (6)"), std::string::npos)
      << err;
}

TEST(GemmaLoad, BadValuesAreRefusedNamingTheKey) {
  struct Case {
    const std::string* file;
    const char* key;
    GgufValue value;
    const char* expected;
  };
  const Case cases[] = {
      {&gemma2(), "gemma2.attention.sliding_window", u32(0), "'gemma2.attention.sliding_window' must be in [1, "},
      {&gemma3(), "gemma3.attention.sliding_window", u32(0), "'gemma3.attention.sliding_window' must be in [1, "},
      {&gemma2(), "gemma2.attn_logit_softcapping", f32(-5), "'gemma2.attn_logit_softcapping' must be a positive finite"},
      {&gemma2(), "gemma2.final_logit_softcapping", f32(std::numeric_limits<double>::quiet_NaN()),
       "'gemma2.final_logit_softcapping' must be a positive finite"},
      {&gemma3(), "gemma3.rope.freq_base_swa", f32(0), "'gemma3.rope.freq_base_swa' must be a positive finite"},
      {&gemma3(), "gemma3.attention.sliding_window_pattern", u32(0), "'gemma3.attention.sliding_window_pattern' must be in [1, 1024]"},
  };
  for (const Case& c : cases) {
    const auto path = rewrite(*c.file, "bad-value", [&](const std::string& key, GgufValue&) { return key != c.key; },
                              {{c.key, c.value}});
    const std::string err = load_error(path);
    EXPECT_NE(err.find(c.expected), std::string::npos) << c.key << ": " << err;
  }
}

TEST(GemmaLoad, MissingGemmaTensorsAreNamed) {
  for (const auto& [file, tensor] : {std::pair{&gemma2(), "blk.1.post_attention_norm.weight"},
                                     std::pair{&gemma2(), "blk.0.post_ffw_norm.weight"},
                                     std::pair{&gemma3(), "blk.4.attn_q_norm.weight"},
                                     std::pair{&gemma3(), "blk.5.attn_k_norm.weight"}}) {
    const auto path = rewrite(*file, "missing-tensor", nullptr, {}, tensor);
    const std::string err = load_error(path);
    EXPECT_NE(err.find(tensor), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace baton
