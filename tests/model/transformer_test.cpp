// Engine correctness: layer-range composition, KV-cached decode vs recomputation,
// architectures, and agreement of quantised models with the F32 model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>

#include "model/local_backend.h"
#include "model/model.h"
#include "model/sampler.h"
#include "tensor/thread_pool.h"
#include "test_models.h"

namespace baton {
namespace {

std::vector<int32_t> fixed_tokens(int n, int vocab, int salt = 0) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<size_t>(i)] = (i * 131 + 17 + salt * 7) % vocab;
  return t;
}

ModelOpenOptions stage(int first, int last) {
  ModelOpenOptions o;
  o.range = LayerRange{first, last};
  o.with_tokenizer = false;
  return o;
}

// Runs tokens through stages split at `cuts` (each its own Model and KV cache, as
// pipeline stages are) and returns the final hidden rows and the logits of every row.
std::vector<float> run_split(const std::string& path, const std::vector<int>& cuts, const std::vector<int32_t>& tokens,
                             ThreadPool* pool, int chunk) {
  auto full = Model::open(path, stage(0, 0));  // for hparams only
  const HyperParams hp = full->hparams();
  std::vector<std::unique_ptr<Model>> stages;
  std::vector<std::unique_ptr<KVCache>> caches;
  std::vector<int> bounds = {0};
  bounds.insert(bounds.end(), cuts.begin(), cuts.end());
  bounds.push_back(hp.n_layers);
  for (size_t s = 0; s + 1 < bounds.size(); ++s) {
    auto opts = stage(bounds[s], bounds[s + 1]);
    opts.with_embedding = s == 0;
    opts.with_head = s + 2 == bounds.size();
    stages.push_back(Model::open(path, opts));
    caches.push_back(std::make_unique<KVCache>(DType::F16, LayerRange{bounds[s], bounds[s + 1]}, 128, hp.kv_dim()));
  }
  std::vector<float> logits;
  for (size_t i = 0; i < tokens.size(); i += static_cast<size_t>(chunk)) {
    const size_t n = std::min(static_cast<size_t>(chunk), tokens.size() - i);
    std::vector<float> hidden(n * static_cast<size_t>(hp.dim));
    stages.front()->transformer().embed(std::span(tokens).subspan(i, n), hidden.data());
    for (size_t s = 0; s < stages.size(); ++s) {
      stages[s]->transformer().forward_layers(bounds[s], bounds[s + 1], hidden.data(), static_cast<int64_t>(n),
                                              static_cast<int64_t>(i), *caches[s], pool);
    }
    std::vector<float> out(n * static_cast<size_t>(hp.vocab_size));
    stages.back()->transformer().head(hidden.data(), static_cast<int64_t>(n), out.data(), pool);
    logits.insert(logits.end(), out.begin(), out.end());
  }
  return logits;
}

TEST(Transformer, LayerRangeCompositionIsBitExact) {
  const std::string path = test::synth_model_path("small", DType::Q8_0);
  ThreadPool pool(2);
  const auto tokens = fixed_tokens(20, 4096);
  const auto whole = run_split(path, {}, tokens, &pool, 8);
  for (std::vector<int> cuts : {std::vector<int>{1}, {3}, {5}, {2, 4}, {1, 2, 3, 4, 5}}) {
    const auto split = run_split(path, cuts, tokens, &pool, 8);
    ASSERT_EQ(split.size(), whole.size());
    EXPECT_EQ(0, std::memcmp(split.data(), whole.data(), whole.size() * sizeof(float)))
        << "cuts at " << cuts.front() << " (" << cuts.size() << " cuts) differ from the full forward";
  }
}

TEST(Transformer, SplittingARangeOverOneCacheIsBitExact) {
  const std::string path = test::synth_model_path("small", DType::F32);
  auto model = Model::open(path, stage(0, 6));
  const HyperParams& hp = model->hparams();
  const auto tokens = fixed_tokens(5, hp.vocab_size);
  auto run = [&](std::vector<int> cuts) {
    KVCache kv(DType::F32, {0, hp.n_layers}, 16, hp.kv_dim());
    std::vector<float> hidden(tokens.size() * static_cast<size_t>(hp.dim));
    model->transformer().embed(tokens, hidden.data());
    int prev = 0;
    cuts.push_back(hp.n_layers);
    for (int c : cuts) {
      model->transformer().forward_layers(prev, c, hidden.data(), 5, 0, kv, nullptr);
      prev = c;
    }
    EXPECT_EQ(kv.size(), 5);
    return hidden;
  };
  const auto whole = run({});
  EXPECT_EQ(run({2}), whole);
  EXPECT_EQ(run({1, 4}), whole);
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double max_abs = 0, max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(double(a[i])));
    max_diff = std::max(max_diff, std::fabs(double(a[i]) - double(b[i])));
  }
  return max_diff / std::max(max_abs, 1e-30);
}

class CachedDecode : public ::testing::TestWithParam<std::tuple<DType, DType>> {};

// Decoding one token at a time through the KV cache gives exactly the logits of
// recomputing the whole sequence in one prefill: every row is computed the same way
// whichever batch it is in (the kernels' per-row sums do not depend on the tile), so the
// check is bit for bit, not a tolerance.
TEST_P(CachedDecode, MatchesFullRecomputation) {
  const auto [weights, kv_dtype] = GetParam();
  const std::string path = test::synth_model_path("tiny", weights);
  auto model = Model::open(path, {});
  ThreadPool pool(2);
  const auto tokens = fixed_tokens(24, model->hparams().vocab_size, 3);
  for (int len : {2, 9, 24}) {
    const std::span<const int32_t> seq(tokens.data(), static_cast<size_t>(len));
    LocalBackend full(model->transformer(), kv_dtype, 64, &pool);
    const auto ref = full.forward(seq, 0);
    LocalBackend step(model->transformer(), kv_dtype, 64, &pool);
    std::vector<float> got;
    for (int i = 0; i < len; ++i) got = step.forward(seq.subspan(static_cast<size_t>(i), 1), i);
    ASSERT_EQ(ref.size(), got.size());
    EXPECT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float)))
        << "length " << len << ": max relative difference " << max_rel_diff(ref, got);
  }
}

INSTANTIATE_TEST_SUITE_P(WeightAndKvTypes, CachedDecode,
                         ::testing::Values(std::tuple{DType::F32, DType::F32}, std::tuple{DType::F32, DType::F16},
                                           std::tuple{DType::Q8_0, DType::F16}, std::tuple{DType::Q4_K, DType::F16}));

// INT8 keys and values (one f16 scale per 32) against f16 ones, on the last logits of a
// prompt, relative to the largest |logit|. Measured with every kernel table (scalar, AVX2,
// AVX-512; the test prints it): 0.00388 on the synthetic tiny model (32 tokens), and on the
// shipped trained model (real weights, the first verses of Genesis) 0.00108 with f32 weights and
// 0.00197 with q8_0 weights. Bounds about 1.5x (before: 0.05, synthetic model only).
double int8_kv_deviation(const std::string& path, const std::vector<int32_t>& tokens) {
  auto model = Model::open(path, {});
  LocalBackend f16(model->transformer(), DType::F16, 64, nullptr);
  LocalBackend q8(model->transformer(), DType::Q8_0, 64, nullptr);
  const auto a = f16.forward(tokens, 0);
  const auto b = q8.forward(tokens, 0);
  return max_rel_diff(a, b);
}

TEST(Transformer, Int8KvCacheStaysCloseToF16) {
  const double synthetic = int8_kv_deviation(test::synth_model_path("tiny", DType::F32), fixed_tokens(32, 1024, 5));
  std::printf("int8 KV vs f16: synthetic %.3g\n", synthetic);
  EXPECT_LT(synthetic, 0.0058);
}

TEST(Transformer, Int8KvCacheStaysCloseToF16OnRealWeights) {
  const std::string models = std::string(BATON_SOURCE_DIR) + "/models/";
  auto tok_model = Model::open(models + "baton-kjv-5m.q8_0.gguf", {});
  const auto tokens = tok_model->tokenizer().encode(
      "In the beginning God created the heaven and the earth. And the earth was without form, and void; and "
      "darkness was upon the face of the deep.", true, false);
  ASSERT_GE(tokens.size(), 24u);
  for (const auto& [file, bound] : {std::pair{"baton-kjv-5m.f32.gguf", 0.0016}, std::pair{"baton-kjv-5m.q8_0.gguf", 0.003}}) {
    const double d = int8_kv_deviation(models + file, tokens);
    std::printf("int8 KV vs f16: %s %.3g\n", file, d);
    EXPECT_LT(d, bound) << file;
  }
}

// Each architecture's file runs, has the hyper-parameters its block needs, and split at a
// layer boundary (each stage binding only its own blocks, and Llama 3's rope_freqs, Phi-3's
// fused matrices and LongRoPE factors) gives exactly the whole model's logits. The LongRoPE
// file's original context (64) is below run_split's context (128), so the stages use the
// long factors; the YaRN files blend pairs that turn within the 10 positions.
TEST(Transformer, ArchitecturesRunAndCompose) {
  auto tiny = [](Architecture arch) { return test::tiny_synth(arch, DType::F32, 7); };
  SynthOptions llama3 = tiny(Architecture::Llama);
  llama3.llama3_rope = Llama3RopeScaling{32.0f, 1.0f, 4.0f, 64};
  llama3.tied_output = true;
  SynthOptions phi3_q4 = tiny(Architecture::Phi3);
  phi3_q4.dtype = DType::Q4_K;  // fused views into quantised rows
  SynthOptions phi3_long = tiny(Architecture::Phi3);
  phi3_long.long_rope = LongRopeScaling{64};
  SynthOptions qwen3_yarn = tiny(Architecture::Qwen3);
  qwen3_yarn.yarn_rope = YarnRopeScaling{4.0f, 64};
  SynthOptions llama_yarn = tiny(Architecture::Llama);
  llama_yarn.yarn_rope = YarnRopeScaling{4.0f, 64};
  for (const SynthOptions& o : {tiny(Architecture::Qwen2), tiny(Architecture::Mistral), tiny(Architecture::Qwen3),
                                tiny(Architecture::Phi3), phi3_q4, llama3, phi3_long, qwen3_yarn, llama_yarn}) {
    const std::string path = test::synth_model_path(o);
    const std::string label = architecture_name(o.arch) + " " + synth_variant_name(o);
    auto model = Model::open(path, {});
    const HyperParams& hp = model->hparams();
    EXPECT_EQ(hp.arch, o.arch);
    EXPECT_EQ(hp.qkv_bias, o.arch == Architecture::Qwen2);
    EXPECT_EQ(hp.qk_norm, o.arch == Architecture::Qwen3);
    EXPECT_EQ(hp.fused_qkv, o.arch == Architecture::Phi3);
    EXPECT_EQ(hp.fused_gate_up, o.arch == Architecture::Phi3);
    const bool neox = o.arch == Architecture::Qwen2 || o.arch == Architecture::Qwen3 || o.arch == Architecture::Phi3;
    EXPECT_EQ(hp.rope.layout, neox ? RopeLayout::NeoX : RopeLayout::Normal);
    EXPECT_EQ(model->weights().rope_freqs != nullptr, o.llama3_rope.has_value()) << label;
    EXPECT_EQ(model->weights().rope_factors_long != nullptr, o.long_rope.has_value()) << label;
    EXPECT_EQ(hp.rope_scaling == RopeScaling::Yarn, o.yarn_rope.has_value()) << label;
    EXPECT_EQ(hp.tied_output, o.tied_output) << label;
    if (o.arch == Architecture::Qwen3) EXPECT_NE(hp.q_dim(), hp.dim) << "qwen3 synth has a head size != dim / heads";
    const auto tokens = fixed_tokens(10, hp.vocab_size);
    const auto whole = run_split(path, {}, tokens, nullptr, 4);
    EXPECT_EQ(run_split(path, {1}, tokens, nullptr, 4), whole) << label;
    for (float v : whole) ASSERT_TRUE(std::isfinite(v)) << label;
  }
}

// Gemma 2 (layers: sliding, global) and Gemma 3 (five sliding, one global): pipeline
// stages equal the whole model bit for bit, and so does decoding one token at a time.
// 20 tokens in chunks of 3 reach well past the synthesised window of 6, so the windowed
// layers of every stage attend over cached positions and skip the oldest ones.
TEST(Transformer, GemmaSplitsAndCachedDecodeAreBitExact) {
  ThreadPool pool(2);
  const std::vector<std::tuple<Architecture, std::string, std::vector<std::vector<int>>>> cases = {
      {Architecture::Gemma2, "tiny", {{1}}}, {Architecture::Gemma3, "tiny6", {{2}, {5}, {1, 3, 5}}}};
  for (const auto& [arch, size, cut_sets] : cases) {
    const std::string path = test::synth_model_path(size, DType::F32, arch);
    auto model = Model::open(path, {});
    const HyperParams& hp = model->hparams();
    ASSERT_TRUE(hp.gemma.enabled);
    ASSERT_GT(hp.gemma.sliding_window, 0);
    ASSERT_LT(hp.gemma.sliding_window, 20);
    const auto tokens = fixed_tokens(20, hp.vocab_size);
    const auto whole = run_split(path, {}, tokens, &pool, 20);
    for (float v : whole) ASSERT_TRUE(std::isfinite(v));
    EXPECT_EQ(run_split(path, {}, tokens, &pool, 3), whole) << architecture_name(arch) << " in chunks of 3";
    for (const auto& cuts : cut_sets) {
      EXPECT_EQ(run_split(path, cuts, tokens, &pool, 3), whole)
          << architecture_name(arch) << ": cut at " << cuts.front() << " (" << cuts.size() << " cuts)";
    }
    LocalBackend full(model->transformer(), DType::F16, 64, &pool);
    const auto ref = full.forward(tokens, 0);
    LocalBackend step(model->transformer(), DType::F16, 64, &pool);
    std::vector<float> got;
    for (size_t i = 0; i < tokens.size(); ++i) got = step.forward(std::span(tokens).subspan(i, 1), static_cast<int64_t>(i));
    EXPECT_EQ(got, ref) << architecture_name(arch) << ": cached decode differs from recomputation";
    // Rolling back past the window and decoding again gives the same answer (at a context
    // of 64 the windowed layers' rows cover the whole context, so nothing is dropped;
    // model/sliding_kv_test covers caches that slide).
    step.forward(std::span(tokens).subspan(5, 8), 5);
    got = step.forward(std::span(tokens).subspan(13), 13);
    EXPECT_EQ(got, ref) << architecture_name(arch) << ": rollback to position 5";
  }
}

// Teacher-forced top-1 agreement with the F32 model over 96 positions of a fixed token
// sequence. The synthetic model's output head is scaled so top-1 margins are meaningful.
// Measured (deterministic: fixed seeds): f16, bf16, q8_0 1.000; q6_K 0.948; q4_0 0.760;
// q4_K 0.719. The 4-bit formats flip near-ties on random weights (the trained model's
// reference test in issue 8 is the check on real weights). Bounds sit just below. This
// compares baton with itself; the independent checks of every weight type are
// arch_reference_test (llama.cpp) and reference_model_test (PyTorch).
TEST(Transformer, QuantisedModelsAgreeWithF32) {
  const auto tokens = fixed_tokens(96, 1024, 11);
  auto top1 = [&](DType dt) {
    auto model = Model::open(test::synth_model_path("tiny", dt), {});
    std::vector<int32_t> out;
    LocalBackend backend(model->transformer(), DType::F32, 128, nullptr);
    for (size_t i = 0; i < tokens.size(); ++i) {
      out.push_back(argmax(backend.forward(std::span(tokens).subspan(i, 1), static_cast<int64_t>(i))));
    }
    return out;
  };
  const auto ref = top1(DType::F32);
  const std::vector<std::pair<DType, double>> expected = {
      {DType::F16, 0.98}, {DType::BF16, 0.98}, {DType::Q8_0, 0.98}, {DType::Q6_K, 0.92}, {DType::Q4_K, 0.68}, {DType::Q4_0, 0.72}};
  for (const auto& [dt, min_rate] : expected) {
    const auto got = top1(dt);
    int same = 0;
    for (size_t i = 0; i < ref.size(); ++i) same += got[i] == ref[i];
    const double rate = double(same) / double(ref.size());
    EXPECT_GE(rate, min_rate) << dtype_name(dt) << " top-1 agreement " << rate;
    std::printf("top-1 agreement %s vs f32: %.3f\n", std::string(dtype_name(dt)).c_str(), rate);
  }
}

// Sessions batched through one stage (decode rows of several sequences at once, and a
// prefill mixed with decodes) give exactly what each gives alone: batching is a
// throughput optimisation that must never change an answer.
TEST(Transformer, BatchedSequencesEqualSeparateForwardsBitForBit) {
  auto model = Model::open(test::synth_model_path("small", DType::Q8_0), {});
  const HyperParams& hp = model->hparams();
  const Transformer& tf = model->transformer();
  ThreadPool pool(2);
  const std::vector<std::vector<int32_t>> prompts = {fixed_tokens(7, hp.vocab_size, 1), fixed_tokens(3, hp.vocab_size, 2),
                                                     fixed_tokens(12, hp.vocab_size, 3)};
  auto new_cache = [&] { return std::make_unique<KVCache>(DType::F16, LayerRange{0, hp.n_layers}, 64, hp.kv_dim()); };
  // Alone: prefill each prompt, then one decode row each.
  std::vector<std::vector<float>> alone;
  for (const auto& p : prompts) {
    auto kv = new_cache();
    std::vector<float> h(p.size() * static_cast<size_t>(hp.dim));
    tf.embed(p, h.data());
    tf.forward_layers(0, hp.n_layers, h.data(), static_cast<int64_t>(p.size()), 0, *kv, &pool);
    const int32_t next[1] = {p.back()};
    std::vector<float> d(static_cast<size_t>(hp.dim));
    tf.embed(next, d.data());
    tf.forward_layers(0, hp.n_layers, d.data(), 1, static_cast<int64_t>(p.size()), *kv, &pool);
    h.insert(h.end(), d.begin(), d.end());
    alone.push_back(h);
  }
  // Together: all prefills in one batch, then all decode rows in one batch.
  std::vector<std::unique_ptr<KVCache>> caches;
  std::vector<std::vector<float>> pre(prompts.size()), dec(prompts.size());
  std::vector<Transformer::Sequence> batch;
  for (size_t i = 0; i < prompts.size(); ++i) {
    caches.push_back(new_cache());
    pre[i].resize(prompts[i].size() * static_cast<size_t>(hp.dim));
    tf.embed(prompts[i], pre[i].data());
    batch.push_back({pre[i].data(), static_cast<int64_t>(prompts[i].size()), 0, caches[i].get()});
  }
  tf.forward_layers_batch(0, hp.n_layers, batch, &pool);
  batch.clear();
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int32_t next[1] = {prompts[i].back()};
    dec[i].resize(static_cast<size_t>(hp.dim));
    tf.embed(next, dec[i].data());
    batch.push_back({dec[i].data(), 1, static_cast<int64_t>(prompts[i].size()), caches[i].get()});
  }
  tf.forward_layers_batch(0, hp.n_layers, batch, &pool);
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<float> together = pre[i];
    together.insert(together.end(), dec[i].begin(), dec[i].end());
    EXPECT_EQ(together, alone[i]) << "sequence " << i;
    EXPECT_EQ(caches[i]->size(), static_cast<int64_t>(prompts[i].size()) + 1);
  }
}

TEST(Transformer, RejectsTokensOutsideVocabAndContextOverflow) {
  auto model = Model::open(test::synth_model_path("tiny", DType::F32), {});
  LocalBackend backend(model->transformer(), DType::F16, 8, nullptr);
  const int32_t bad[1] = {model->hparams().vocab_size};
  EXPECT_THROW(backend.forward(bad, 0), std::out_of_range);
  const auto tokens = fixed_tokens(9, model->hparams().vocab_size);
  EXPECT_THROW(backend.forward(tokens, 0), std::out_of_range);
}

}  // namespace
}  // namespace baton
