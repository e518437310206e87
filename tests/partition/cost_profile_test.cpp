// The model cost profile from a small GGUF file built in the test: byte counts as stored
// (quantised sizes count), FLOPs from element counts, tied heads, and clear errors.
#include <gtest/gtest.h>

#include "model/cost_profile.h"
#include "model/gguf.h"
#include "partition/plan.h"

namespace baton {
namespace {

// Sizes by hand (ggml layouts): F32 4 bytes, F16 2 bytes, Q8_0 34 bytes per 32 elements.
uint64_t q8_bytes(uint64_t row, uint64_t rows) { return rows * (row / 32) * 34; }

struct TinyModelOptions {
  bool tied = false;
  int block_count = 3;
  std::vector<int> blocks = {0, 1, 2};  // which blocks get tensors
  bool embedding = true;
};

void add(GgufWriter& w, const std::string& name, std::vector<uint64_t> dims, DType dtype, uint64_t bytes) {
  w.add_tensor(name, std::move(dims), dtype, std::vector<uint8_t>(bytes, 0));
}

// dim 64, 4 heads (2 KV heads) of 16, ffn 128, vocab 100. Block 1 stores ffn_down as F16.
GgufFile tiny_model(const TinyModelOptions& o) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", static_cast<uint32_t>(o.block_count));
  w.set_u32("llama.embedding_length", 64);
  w.set_u32("llama.feed_forward_length", 128);
  w.set_u32("llama.attention.head_count", 4);
  w.set_u32("llama.attention.head_count_kv", 2);
  w.set_u32("llama.context_length", 512);
  if (o.embedding) add(w, "token_embd.weight", {64, 100}, DType::F16, 64 * 100 * 2);
  for (int b : o.blocks) {
    const std::string p = "blk." + std::to_string(b) + ".";
    add(w, p + "attn_norm.weight", {64}, DType::F32, 64 * 4);
    add(w, p + "attn_q.weight", {64, 64}, DType::Q8_0, q8_bytes(64, 64));
    add(w, p + "attn_k.weight", {64, 32}, DType::Q8_0, q8_bytes(64, 32));
    add(w, p + "attn_v.weight", {64, 32}, DType::Q8_0, q8_bytes(64, 32));
    add(w, p + "attn_output.weight", {64, 64}, DType::Q8_0, q8_bytes(64, 64));
    add(w, p + "ffn_norm.weight", {64}, DType::F32, 64 * 4);
    add(w, p + "ffn_gate.weight", {64, 128}, DType::Q8_0, q8_bytes(64, 128));
    add(w, p + "ffn_up.weight", {64, 128}, DType::Q8_0, q8_bytes(64, 128));
    if (b == 1) {
      add(w, p + "ffn_down.weight", {128, 64}, DType::F16, 128 * 64 * 2);
    } else {
      add(w, p + "ffn_down.weight", {128, 64}, DType::Q8_0, q8_bytes(128, 64));
    }
  }
  add(w, "output_norm.weight", {64}, DType::F32, 64 * 4);
  if (!o.tied) add(w, "output.weight", {64, 100}, DType::Q8_0, q8_bytes(64, 100));
  return GgufFile::parse(w.serialize(), "tiny.gguf");
}

// 256 + 4352 + 2176 + 2176 + 4352 + 256 + 3 * 8704 = 39680 bytes; block 1's F16 ffn_down
// is 16384 bytes instead of 8704: 47360. Elements per block: 64 + 4096 + 2048 + 2048 +
// 4096 + 64 + 3 * 8192 = 36992.
constexpr uint64_t kBlockBytes = 39680, kBlock1Bytes = 47360, kBlockElements = 36992;

TEST(PartitionCostProfile, FromGgufCountsStoredBytesAndElements) {
  const ModelCostProfile p = cost_profile_from_gguf(tiny_model({}));
  EXPECT_EQ(p.validate(), "");
  EXPECT_EQ(p.architecture, "llama");
  ASSERT_EQ(p.n_layers, 3);
  EXPECT_EQ(p.layer_weight_bytes, (std::vector<uint64_t>{kBlockBytes, kBlock1Bytes, kBlockBytes}));
  for (double f : p.layer_flops) EXPECT_DOUBLE_EQ(f, 2.0 * kBlockElements);
  EXPECT_EQ(p.embed_bytes, 12800u);
  EXPECT_EQ(p.head_bytes, 256u + 6800u);  // output_norm + Q8_0 output
  EXPECT_EQ(p.tied_shared_bytes, 0u);
  EXPECT_DOUBLE_EQ(p.head_flops, 2.0 * 6400);
  EXPECT_EQ(p.dim, 64);
  EXPECT_EQ(p.n_heads, 4);
  EXPECT_EQ(p.n_kv_heads, 2);
  EXPECT_EQ(p.head_dim, 16);
  EXPECT_EQ(p.vocab_size, 100);
  EXPECT_EQ(p.ctx_train, 512);
  EXPECT_EQ(p.total_weight_bytes(), 2 * kBlockBytes + kBlock1Bytes + 12800 + 7056);
  // K and V: 2 * 2 heads * 16 = 64 elements per token per layer.
  EXPECT_DOUBLE_EQ(p.kv_bytes_per_token_per_layer(DType::F16), 128.0);
  EXPECT_DOUBLE_EQ(p.kv_bytes_per_token_per_layer(DType::Q8_0), 68.0);
  EXPECT_DOUBLE_EQ(p.kv_bytes_per_token_per_layer(DType::F32), 256.0);
  EXPECT_DOUBLE_EQ(p.attention_flops_per_position(), 4.0 * 4 * 16);
  EXPECT_THROW(kv_bytes_per_element(DType::Q4_K), std::invalid_argument);
}

TEST(PartitionCostProfile, TiedHeadNeedsTheEmbeddingOnTheLastStage) {
  const ModelCostProfile p = cost_profile_from_gguf(tiny_model({.tied = true}));
  EXPECT_EQ(p.head_bytes, 256u + 12800u);
  EXPECT_EQ(p.tied_shared_bytes, 12800u);
  EXPECT_DOUBLE_EQ(p.head_flops, 2.0 * 6400);
  EXPECT_EQ(p.total_weight_bytes(), 2 * kBlockBytes + kBlock1Bytes + 12800 + 256);
}

TEST(PartitionCostProfile, PlansARealFile) {
  PlanRequest r;
  r.model = cost_profile_from_gguf(tiny_model({}));
  r.ctx = 512;
  r.margin = {0.0, 0.0};
  r.devices.push_back({"a", "pc", 1, 100, 10, 0.2, 1000});
  r.devices.push_back({"b", "phone", 1, 50, 20, 4, 300});
  for (Strategy s : {Strategy::Memory, Strategy::Latency}) {
    const Plan plan = make_plan(r, s);
    ASSERT_TRUE(plan.feasible) << plan.reason;
    double total = 0;
    for (const PlanStage& st : plan.stages) total += st.weight_bytes;
    // Split or not, every byte of the model is somewhere (a tied head would add a copy).
    EXPECT_DOUBLE_EQ(total, static_cast<double>(r.model.total_weight_bytes()));
  }
}

std::string error_of(const TinyModelOptions& o) {
  try {
    cost_profile_from_gguf(tiny_model(o));
  } catch (const GgufError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(PartitionCostProfile, InconsistentFilesAreNamed) {
  const std::string past_end = error_of({.block_count = 2});
  EXPECT_NE(past_end.find("blk.2."), std::string::npos) << past_end;
  EXPECT_NE(past_end.find("block_count is 2"), std::string::npos) << past_end;
  const std::string hole = error_of({.blocks = {0, 2}});
  EXPECT_NE(hole.find("block 1 has no tensors"), std::string::npos) << hole;
  const std::string no_embedding = error_of({.embedding = false});
  EXPECT_NE(no_embedding.find("token_embd.weight"), std::string::npos) << no_embedding;
  const std::string zero = error_of({.block_count = 0, .blocks = {}});
  EXPECT_NE(zero.find("block_count"), std::string::npos) << zero;
}

TEST(PartitionCostProfile, UniformProfileFromNumbers) {
  UniformModelShape s;
  s.n_layers = 5;
  s.layer_weight_bytes = 1000;
  s.layer_weight_elements = 4000;
  s.embed_bytes = 300;
  s.head_bytes = 310;
  s.tied_output = true;
  s.dim = 8;
  s.n_heads = 2;
  s.n_kv_heads = 1;
  s.head_dim = 4;
  s.vocab_size = 30;
  const ModelCostProfile p = make_uniform_cost_profile(s);
  EXPECT_EQ(p.validate(), "");
  EXPECT_EQ(p.layer_weight_bytes.size(), 5u);
  EXPECT_DOUBLE_EQ(p.layer_flops[4], 8000.0);
  EXPECT_EQ(p.tied_shared_bytes, 300u);
  EXPECT_EQ(p.total_weight_bytes(), 5000u + 300u + 10u);
  EXPECT_DOUBLE_EQ(p.head_flops, 2.0 * 30 * 8);
  s.n_layers = 0;
  EXPECT_NE(make_uniform_cost_profile(s).validate(), "");
}

}  // namespace
}  // namespace baton
