// baton model quantize's core: a synthesised f32 model quantised to every type baton
// writes loads, generates, keeps its metadata, and its weights dequantise to within a
// bound measured here; --mixed keeps what it promises; rows that do not fit a type's
// blocks fall back; the writer's filled tensors give the same bytes as in-memory ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "model/model.h"
#include "model/quantize.h"
#include "tensor/kernels.h"
#include "tensor/thread_pool.h"
#include "test_models.h"

namespace baton {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("baton-quantize-test-{}", ::getpid());
  fs::create_directories(dir);
  return (dir / name).string();
}

// Deep equality of metadata values (arrays item by item; doubles bit for bit).
bool same_value(const GgufValue& a, const GgufValue& b) {
  if (a.type != b.type || a.v.index() != b.v.index()) return false;
  if (const auto* x = std::get_if<std::shared_ptr<GgufArray>>(&a.v)) {
    const GgufArray& p = **x;
    const GgufArray& q = *std::get<std::shared_ptr<GgufArray>>(b.v);
    if (p.elem_type != q.elem_type || p.items.size() != q.items.size()) return false;
    for (size_t i = 0; i < p.items.size(); ++i) {
      if (!same_value(p.items[i], q.items[i])) return false;
    }
    return true;
  }
  if (const auto* x = std::get_if<double>(&a.v)) return std::memcmp(x, &std::get<double>(b.v), sizeof(double)) == 0;
  return a.v == b.v;
}

std::vector<float> dequantized(const GgufTensor& t) {
  const uint64_t n = t.dims[0];
  std::vector<float> out(t.elements());
  for (uint64_t r = 0; r < t.rows(); ++r) {
    dequantize_row(t.dtype, t.data + r * row_bytes(t.dtype, n), out.data() + r * n, static_cast<int64_t>(n));
  }
  return out;
}

// ||a - b|| / ||a||
double relative_rms(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(a[i]) * a[i];
  }
  return std::sqrt(num / den);
}

// Logits of a short prompt, then four steps through the KV cache: the file loads and
// generates. Each step feeds `forced[step]` when given (so two models' logits are compared
// on the same tokens), else the argmax. `generated` gets every step's argmax.
std::vector<float> generate_logits(const Model& m, std::vector<int32_t>& generated,
                                   const std::vector<int32_t>& forced = {}) {
  const HyperParams& hp = m.hparams();
  const Transformer& tf = m.transformer();
  KVCache kv(DType::F32, LayerRange{0, hp.n_layers}, 32, hp.kv_dim());
  std::vector<int32_t> tokens = {1, 17, 230, 5, 99};
  std::vector<float> all;
  int64_t pos = 0;
  for (size_t step = 0; step < 5; ++step) {
    const int64_t n = static_cast<int64_t>(tokens.size());
    std::vector<float> hidden(static_cast<size_t>(n * hp.dim)), logits(static_cast<size_t>(n * hp.vocab_size));
    tf.embed(tokens, hidden.data());
    tf.forward_layers(0, hp.n_layers, hidden.data(), n, pos, kv, nullptr);
    tf.head(hidden.data(), n, logits.data(), nullptr);
    pos += n;
    const float* last = logits.data() + (n - 1) * hp.vocab_size;
    all.insert(all.end(), last, last + hp.vocab_size);
    const int32_t next = static_cast<int32_t>(std::max_element(last, last + hp.vocab_size) - last);
    generated.push_back(next);
    tokens = {step < forced.size() ? forced[step] : next};
  }
  return all;
}

// Largest relative RMS error (||a - b|| / ||a||) of any quantised tensor's weights against
// the f32 original, and of the logits of generate_logits (fed the f32 model's tokens)
// against the f32 model's. Measured on this synthesised model (tiny, seed 7, uniform
// random weights, whose random layers amplify errors more than trained ones do), then
// rounded up by 1.5x. Measured (weights / logits): f16 2.2e-4 / 5.3e-4, bf16 1.8e-3 / 4.0e-3,
// q8_0 3.8e-3 / 1.5e-2 (the kernels also round activations to 8 bits), q6_K 1.3e-2 / 3.8e-2,
// q4_K 5.6e-2 / 1.5e-1, q4_0 6.5e-2 / 1.7e-1. f32 is a byte copy: 0 / 0.
// Types tensor/ adds later fall under `kOtherBound` (4-bit-like) until measured here.
struct Bounds {
  double weights, logits;
};
const std::map<std::string_view, Bounds> kBounds = {
    {"f32", {0.0, 0.0}},        {"f16", {3.3e-4, 8e-4}},  {"bf16", {2.7e-3, 6e-3}}, {"q8_0", {5.7e-3, 2.2e-2}},
    {"q6_K", {2e-2, 5.7e-2}},   {"q4_K", {8.4e-2, 0.22}}, {"q4_0", {9.8e-2, 0.25}},
};
const Bounds kOtherBound = {0.1, 0.3};

TEST(Quantize, TargetsComeFromTheTypeTable) {
  const auto targets = quantize_target_types();
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K}) {
    EXPECT_NE(std::find(targets.begin(), targets.end(), t), targets.end()) << dtype_name(t);
  }
  EXPECT_EQ(std::find(targets.begin(), targets.end(), DType::Q8_K), targets.end()) << "activation-only type";
  EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q8_0), 8.5);
  EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q4_K), 4.5);
  EXPECT_EQ(llama_file_type(DType::Q8_0), 7u);
  EXPECT_EQ(llama_file_type(DType::Q6_K), 18u);
  EXPECT_EQ(llama_file_type(DType::Q4_K), 14u) << "Q4_K_S: mostly q4_K";
  EXPECT_EQ(llama_file_type(DType::Q4_K, /*mixed=*/true), 15u) << "Q4_K_M";
  EXPECT_EQ(llama_file_type(DType::Q5_K, /*mixed=*/true), 17u) << "Q5_K_M";
  EXPECT_EQ(llama_file_type(DType::Q4_0, /*mixed=*/true), 2u) << "no medium variant: mostly q4_0";
}

TEST(Quantize, EveryTypeRoundTripsLoadsAndGenerates) {
  const std::string src_path = test::synth_model_path("tiny", DType::F32);
  const GgufFile src = GgufFile::open(src_path);
  const auto src_model = Model::open(src_path);
  std::vector<int32_t> ref_tokens;
  const std::vector<float> ref_logits = generate_logits(*src_model, ref_tokens);
  ThreadPool pool(2);

  for (DType type : quantize_target_types()) {
    SCOPED_TRACE(std::string(dtype_name(type)));
    const Bounds bound = kBounds.count(dtype_name(type)) ? kBounds.at(dtype_name(type)) : kOtherBound;
    QuantizeOptions o;
    o.type = type;
    const QuantizePlan plan = plan_quantization(src, o);
    const std::string out = temp_path(fmt::format("tiny-{}.gguf", dtype_name(type)));
    quantized_model_writer(src, plan, &pool).write(out);
    const GgufFile q = GgufFile::open(out);

    // Every key kept, file type set to the new type's.
    for (const auto& [key, value] : src.metadata()) {
      if (key == "general.file_type") continue;
      const GgufValue* got = q.find(key);
      ASSERT_NE(got, nullptr) << key;
      EXPECT_TRUE(same_value(value, *got)) << key;
    }
    EXPECT_EQ(q.opt_u64("general.file_type"), llama_file_type(type));
    EXPECT_EQ(q.alignment(), src.alignment());
    ASSERT_EQ(q.tensors().size(), src.tensors().size());

    double worst = 0;
    for (const GgufTensor& t : src.tensors()) {
      const GgufTensor* g = q.find_tensor(t.name);
      ASSERT_NE(g, nullptr) << t.name;
      EXPECT_EQ(g->dims, t.dims) << t.name;
      EXPECT_EQ(g->offset % q.alignment(), 0u) << t.name;
      if (t.dims.size() == 1) {
        EXPECT_EQ(g->dtype, DType::F32) << t.name << ": 1-D tensors stay f32";
        EXPECT_EQ(std::memcmp(g->data, t.data, t.nbytes), 0) << t.name;
        continue;
      }
      EXPECT_EQ(g->dtype, type) << t.name;
      worst = std::max(worst, relative_rms(dequantized(t), dequantized(*g)));
    }
    EXPECT_LE(worst, bound.weights);

    const auto m = Model::open(out);
    std::vector<int32_t> tokens;
    const std::vector<float> logits = generate_logits(*m, tokens, ref_tokens);
    for (float x : logits) ASSERT_TRUE(std::isfinite(x));
    for (int32_t t : tokens) EXPECT_TRUE(t >= 0 && t < m->hparams().vocab_size);
    const double logit_err = relative_rms(ref_logits, logits);
    EXPECT_LE(logit_err, bound.logits);
    std::printf("%-5s weights rel. RMS %.2e, logits rel. RMS %.2e, %.1f -> %.1f MB\n", dtype_name(type).data(), worst,
                logit_err, plan.bytes_in / 1e6, plan.bytes_out / 1e6);
    if (type == DType::F32 || type == DType::F16) EXPECT_EQ(tokens, ref_tokens) << "greedy tokens as the f32 model's";
  }
}

TEST(Quantize, MixedKeepsTheSensitiveTensors) {
  SynthOptions so;  // 4 blocks: 1 and 2 are the middle ones
  so.size = "four-blocks";
  so.shape = SynthShape{4, 256, 512, 8, 4, 1024, 256};
  const std::string src_path = temp_path("four-blocks.gguf");
  synth_model(so).write(src_path);
  const GgufFile src = GgufFile::open(src_path);
  QuantizeOptions o;
  o.type = DType::Q4_0;
  o.mixed = true;
  const QuantizePlan plan = plan_quantization(src, o);
  const std::string out = temp_path("small-mixed.gguf");
  quantized_model_writer(src, plan, nullptr).write(out);
  const GgufFile q = GgufFile::open(out);
  int kept = 0, quantised = 0;
  for (const GgufTensor& t : q.tensors()) {
    if (t.dims.size() == 1) {
      EXPECT_EQ(t.dtype, DType::F32) << t.name;
      continue;
    }
    const bool sensitive = t.name == "token_embd.weight" || t.name == "output.weight" || t.name.starts_with("blk.0.") ||
                           t.name.starts_with("blk.3.") || t.name.find(".attn_") != std::string::npos;
    EXPECT_EQ(t.dtype, sensitive ? DType::Q8_0 : DType::Q4_0) << t.name;
    (sensitive ? kept : quantised) += 1;
  }
  EXPECT_EQ(quantised, 2 * 3) << "the three FFN matrices of blocks 1 and 2";
  EXPECT_GT(kept, 0);
  EXPECT_EQ(q.opt_u64("general.file_type"), 2u) << "llama.cpp's MOSTLY_Q4_0: q4_0 has no medium variant";
  // The plan says why each kept tensor was kept.
  for (const TensorPlan& t : plan.tensors) {
    if (t.to == DType::Q8_0) EXPECT_NE(t.reason.find("--mixed"), std::string::npos) << t.name;
  }
  // f16 for the sensitive ones on request; never below the target type.
  o.sensitive_type = DType::F16;
  EXPECT_EQ(plan_quantization(src, o).tensors.front().to, DType::F16);
  o.type = DType::F16;
  o.sensitive_type = DType::Q8_0;
  for (const TensorPlan& t : plan_quantization(src, o).tensors) {
    if (t.dims.size() > 1) EXPECT_EQ(t.to, DType::F16) << t.name << ": --mixed never lowers precision";
  }
  EXPECT_NO_THROW(Model::open(out));
  // A mixed q4_K file says what llama.cpp's Q4_K_M says of itself.
  o.type = DType::Q4_K;
  const std::string k_out = temp_path("small-mixed-q4_K.gguf");
  quantized_model_writer(src, plan_quantization(src, o), nullptr).write(k_out);
  EXPECT_EQ(GgufFile::open(k_out).opt_u64("general.file_type"), 15u) << "llama.cpp's MOSTLY_Q4_K_M";
}

TEST(Quantize, RowsThatDoNotFitTheBlocksFallBack) {
  // ffn 352 = 11 x 32: ffn_down's rows are 352 long, no multiple of the k-quants' 256.
  SynthOptions so;
  so.size = "ffn352";
  so.shape = SynthShape{2, 256, 352, 8, 4, 1024, 256};
  const std::string src_path = temp_path("ffn352.gguf");
  synth_model(so).write(src_path);
  const GgufFile src = GgufFile::open(src_path);
  for (DType type : {DType::Q4_K, DType::Q6_K}) {
    QuantizeOptions o;
    o.type = type;
    const QuantizePlan plan = plan_quantization(src, o);
    EXPECT_EQ(plan.fallbacks, 2) << "ffn_down of both blocks";
    for (const TensorPlan& t : plan.tensors) {
      EXPECT_EQ(t.fell_back, t.name.find("ffn_down") != std::string::npos) << t.name;
      if (t.name.find("ffn_down") == std::string::npos) continue;
      EXPECT_TRUE(row_fits_blocks(t.to, 352)) << t.name;
      EXPECT_GT(bits_per_weight(t.to), bits_per_weight(type)) << t.name << ": a fallback never loses precision";
      EXPECT_NE(t.reason.find("352"), std::string::npos) << t.reason;
    }
    const std::string out = temp_path(fmt::format("ffn352-{}.gguf", dtype_name(type)));
    quantized_model_writer(src, plan, nullptr).write(out);
    const auto m = Model::open(out);
    std::vector<int32_t> tokens;
    for (float x : generate_logits(*m, tokens)) ASSERT_TRUE(std::isfinite(x));
  }
}

TEST(Quantize, RequantisingAQuantisedFileIsCountedAndSameTypeIsCopied) {
  const GgufFile q8 = GgufFile::open(test::synth_model_path("tiny", DType::Q8_0));
  QuantizeOptions o;
  o.type = DType::Q8_0;
  QuantizePlan plan = plan_quantization(q8, o);
  EXPECT_EQ(plan.requantised, 0);
  const std::string out = temp_path("tiny-q8-copy.gguf");
  quantized_model_writer(q8, plan, nullptr).write(out);
  const GgufFile copy = GgufFile::open(out);
  for (const GgufTensor& t : q8.tensors()) {
    EXPECT_EQ(std::memcmp(copy.find_tensor(t.name)->data, t.data, t.nbytes), 0) << t.name << ": copied byte for byte";
  }
  o.type = DType::Q4_0;
  plan = plan_quantization(q8, o);
  EXPECT_GT(plan.requantised, 0);
}

TEST(Quantize, UnknownTargetsAndTensorlessFilesAreRefused) {
  const GgufFile src = GgufFile::open(test::synth_model_path("tiny", DType::F32));
  QuantizeOptions o;
  o.type = DType::Q8_K;
  try {
    plan_quantization(src, o);
    FAIL() << "q8_K is not a weight type";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("q4_K"), std::string::npos) << "names the types there are: " << e.what();
  }
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.add_tensor("norm", {8}, DType::F32, std::vector<uint8_t>(32));
  const std::string only_vectors = temp_path("vectors.gguf");
  w.write(only_vectors);
  o.type = DType::Q8_0;
  EXPECT_THROW(plan_quantization(GgufFile::open(only_vectors), o), GgufError);
}

TEST(GgufWriterFill, FilledTensorsGiveTheSameBytesAsInMemoryOnes) {
  std::vector<uint8_t> a(3 * 34), b(5 * 4);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i * 7 + 1);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 13 + 5);
  GgufWriter in_memory(3, 64), filled(3, 64);
  for (GgufWriter* w : {&in_memory, &filled}) w->set_u32("general.alignment", 64);
  in_memory.add_tensor("a", {32, 3}, DType::Q8_0, a);
  in_memory.add_tensor("b", {5}, DType::F32, b);
  int calls = 0;
  filled.add_tensor_filled("a", {32, 3}, DType::Q8_0, [&](std::span<uint8_t> out) {
    ASSERT_EQ(out.size(), a.size());
    std::copy(a.begin(), a.end(), out.begin());
    ++calls;
  });
  filled.add_tensor_filled("b", {5}, DType::F32, [&](std::span<uint8_t> out) {
    std::copy(b.begin(), b.end(), out.begin());
    ++calls;
  });
  EXPECT_EQ(calls, 0) << "nothing is produced before the file is written";
  EXPECT_EQ(in_memory.serialize(), filled.serialize());
  const std::string path = temp_path("filled.gguf");
  filled.write(path);
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(std::memcmp(f.find_tensor("a")->data, a.data(), a.size()), 0);
  EXPECT_EQ(f.find_tensor("b")->offset % 64, 0u);
  EXPECT_EQ(calls, 4);
}

}  // namespace
}  // namespace baton
