// Loading a model checks hyper-parameters and every tensor's shape and dtype against the
// architecture, and names the culprit when something is wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "model/kv_cache.h"
#include "model/model.h"
#include "gguf_rewrite.h"
#include "test_models.h"

namespace baton {
namespace {

using test::Edit;
using test::load_error;
using test::rewrite;

const std::string& base() {
  static const std::string path = test::synth_model_path("tiny", DType::F32);
  return path;
}

TEST(ModelLoad, ValidModelLoads) {
  auto m = Model::open(base(), {});
  EXPECT_EQ(m->hparams().n_layers, 2);
  EXPECT_EQ(m->hparams().dim, 256);
  EXPECT_EQ(m->hparams().n_kv_heads, 4);
  EXPECT_EQ(m->hparams().head_dim, 32);
  EXPECT_EQ(m->tokenizer().vocab_size(), 1024);
}

TEST(ModelLoad, WrongTensorShapeNamesTensorAndDims) {
  const auto path = rewrite(base(), "bad-shape", {nullptr, [](GgufTensor& t, std::vector<uint8_t>&) {
                                                    if (t.name == "blk.1.attn_k.weight") t.dims = {256, 64, 2};
                                                    return true;
                                                  }});
  const std::string err = load_error(path);
  EXPECT_NE(err.find("blk.1.attn_k.weight"), std::string::npos) << err;
}

TEST(ModelLoad, MissingTensorIsNamed) {
  const auto path = rewrite(base(), "missing-tensor", {nullptr, [](GgufTensor& t, std::vector<uint8_t>&) {
                                                         return t.name != "blk.0.ffn_up.weight";
                                                       }});
  const std::string err = load_error(path);
  EXPECT_NE(err.find("blk.0.ffn_up.weight"), std::string::npos) << err;
}

TEST(ModelLoad, UnsupportedArchitectureIsNamed) {
  const auto path = rewrite(base(), "bad-arch", {[](const std::string& key, GgufValue& v) {
                                                   if (key == "general.architecture") v.v = std::string("gptj");
                                                   return true;
                                                 }, nullptr});
  const std::string err = load_error(path);
  EXPECT_NE(err.find("unsupported architecture 'gptj'"), std::string::npos) << err;
}

TEST(ModelLoad, InconsistentHeadCountsAreRejected) {
  const auto path = rewrite(base(), "bad-heads", {[](const std::string& key, GgufValue& v) {
                                                    if (key == "llama.attention.head_count_kv") v.v = uint64_t{3};
                                                    return true;
                                                  }, nullptr});
  const std::string err = load_error(path);
  EXPECT_NE(err.find("head_count_kv"), std::string::npos) << err;
}

TEST(ModelLoad, MissingHyperParameterIsNamed) {
  const auto path = rewrite(base(), "no-ffn", {[](const std::string& key, GgufValue&) {
                                                 return key != "llama.feed_forward_length";
                                               }, nullptr});
  const std::string err = load_error(path);
  EXPECT_NE(err.find("llama.feed_forward_length"), std::string::npos) << err;
}

TEST(ModelLoad, VocabularyMismatchIsRejected) {
  const auto path = rewrite(base(), "vocab-mismatch", {[](const std::string& key, GgufValue& v) {
                                                         if (key == "llama.vocab_size") v.v = uint64_t{1000};
                                                         return true;
                                                       }, nullptr});
  const std::string err = load_error(path);
  EXPECT_NE(err.find("vocab_size"), std::string::npos) << err;
}

TEST(ModelLoad, NonFiniteHyperParametersAreRefusedNamingTheKey) {
  struct Case {
    const char* key;
    GgufValue value;
  };
  const Case cases[] = {
      {"llama.rope.freq_base", {GgufType::F32, std::numeric_limits<double>::infinity()}},
      {"llama.rope.freq_base", {GgufType::F64, 1e300}},  // finite as a double, inf as the float RoPE uses
      {"llama.attention.layer_norm_rms_epsilon", {GgufType::F32, std::numeric_limits<double>::quiet_NaN()}},
      {"llama.rope.scaling.factor", {GgufType::F32, std::numeric_limits<double>::infinity()}},
  };
  for (const Case& c : cases) {
    const auto path = rewrite(base(), "non-finite", {[&](const std::string& key, GgufValue& v) {
                                                       if (key == c.key) v = c.value;
                                                       return true;
                                                     }, nullptr});
    // The key may be missing from the base model: add it.
    GgufFile f = GgufFile::open(path);
    if (!f.find(c.key)) {
      GgufWriter w;
      for (const auto& [key, value] : f.metadata()) w.set(key, value);
      w.set(c.key, c.value);
      for (const GgufTensor& t : f.tensors()) w.add_tensor(t.name, t.dims, t.dtype, {t.data, t.data + t.nbytes});
      w.write(path + ".tmp");
      std::filesystem::rename(path + ".tmp", path);
    }
    const std::string err = load_error(path);
    EXPECT_NE(err.find(std::string("'") + c.key + "' must be a finite number"), std::string::npos) << err;
  }
}

TEST(ModelLoad, StageLoadsOnlyItsRange) {
  ModelOpenOptions opt;
  opt.range = LayerRange{1, 2};
  auto stage = Model::open(base(), opt);
  EXPECT_FALSE(stage->weights().has_embedding);
  EXPECT_TRUE(stage->weights().has_head);
  EXPECT_EQ(stage->weights().layers.size(), 1u);
  auto whole = Model::open(base(), {});
  EXPECT_LT(stage->weights().bytes, whole->weights().bytes);
  opt.range = LayerRange{1, 3};
  EXPECT_THROW(Model::open(base(), opt), std::invalid_argument);
}


// The synthesiser's K-quant mixes pick each matrix's type as llama.cpp's Q4_K_M / Q5_K_M
// presets do, including the fallbacks for rows that are not whole 256-blocks (tiny-odd's
// ffn_down has 544 columns), and such a file loads and runs.
TEST(ModelLoad, KQuantMixesFollowLlamaCppPresets) {
  struct Case {
    SynthMix mix;
    DType base, fallback;
  };
  for (const Case& c : {Case{SynthMix::Q4_K_M, DType::Q4_K, DType::Q5_0}, Case{SynthMix::Q5_K_M, DType::Q5_K, DType::Q5_1}}) {
    const std::string path =
        test::synth_model_path("tiny-odd", DType::F32, Architecture::Llama, TokenizerKind::Llama, 7, c.mix);
    const GgufFile f = GgufFile::open(path);
    auto type_of = [&](const std::string& name) {
      for (const GgufTensor& t : f.tensors()) {
        if (t.name == name) return t.dtype;
      }
      ADD_FAILURE() << name << " missing";
      return DType::F32;
    };
    const std::string mix(synth_mix_name(c.mix));
    EXPECT_EQ(type_of("token_embd.weight"), c.base) << mix;
    EXPECT_EQ(type_of("output.weight"), DType::Q6_K) << mix;
    // Two layers: layer 1 is the last eighth (more bits), layer 0 is not.
    EXPECT_EQ(type_of("blk.0.attn_v.weight"), c.base) << mix;
    EXPECT_EQ(type_of("blk.1.attn_v.weight"), DType::Q6_K) << mix;
    EXPECT_EQ(type_of("blk.0.attn_q.weight"), c.base) << mix;
    EXPECT_EQ(type_of("blk.1.ffn_up.weight"), c.base) << mix;
    EXPECT_EQ(type_of("blk.0.ffn_down.weight"), c.fallback) << mix;      // base K-quant, 544 columns
    EXPECT_EQ(type_of("blk.1.ffn_down.weight"), DType::Q8_0) << mix;     // Q6_K, 544 columns
    auto m = Model::open(path, {});
    EXPECT_EQ(m->hparams().ffn_dim, 544);
    std::vector<float> logits(static_cast<size_t>(m->hparams().vocab_size));
    const int32_t tokens[] = {1, 17, 300};
    const HyperParams& hp = m->hparams();
    KVCache kv(DType::F32, {0, hp.n_layers}, 8, hp.kv_dim());
    std::vector<float> hidden(3 * static_cast<size_t>(hp.dim)), all(3 * logits.size());
    m->transformer().embed(tokens, hidden.data());
    m->transformer().forward_layers(0, hp.n_layers, hidden.data(), 3, 0, kv, nullptr);
    m->transformer().head(hidden.data(), 3, all.data(), nullptr);
    for (float v : all) ASSERT_TRUE(std::isfinite(v)) << mix;
  }
}

// Without output.weight the embedding is also the head, and llama.cpp's quantiser gives it
// the head's type (Gemma's Q4_K_M downloads carry token_embd in Q6_K); an untied embedding
// keeps the base type (above).
TEST(ModelLoad, KQuantMixesGiveATiedEmbeddingTheHeadsType) {
  for (const Architecture arch : {Architecture::Gemma2, Architecture::Llama}) {
    SynthOptions o;
    o.size = "tiny";
    o.arch = arch;
    o.mix = SynthMix::Q4_K_M;
    o.tied_output = arch == Architecture::Llama;
    const GgufFile f = GgufFile::open(test::synth_model_path(o));
    bool found = false;
    for (const GgufTensor& t : f.tensors()) {
      EXPECT_NE(t.name, "output.weight") << architecture_name(arch);
      if (t.name != "token_embd.weight") continue;
      found = true;
      EXPECT_EQ(t.dtype, DType::Q6_K) << architecture_name(arch) << ": token_embd is " << dtype_name(t.dtype);
    }
    EXPECT_TRUE(found) << architecture_name(arch);
  }
}

}  // namespace
}  // namespace baton
