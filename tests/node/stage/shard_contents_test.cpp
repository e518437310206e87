// A node without the model runs its layers from a shard: the tensors the coordinator
// lists for its range plus the model's metadata. Every architecture's shard must hold all
// its stage needs: Llama 3's rope_freqs and LongRoPE's rope_factors_long/short (tensors
// outside the blocks that every layer uses), Phi-3's fused matrices, Qwen3's head norms; and
// run exactly as the whole file does.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "model/model.h"
#include "node/model_source.h"
#include "../../model/test_models.h"

namespace baton {
namespace {

namespace fs = std::filesystem;

// The shard a node would assemble for [first, last) (see shard_fetch.cpp), written to `path`.
void write_shard(const GgufFile& file, int first, int last, bool embed, bool head, const std::string& path) {
  const GgufFile meta = GgufFile::parse(shard_metadata_image(file), "shard metadata");
  GgufWriter w;
  for (const auto& [key, value] : meta.metadata()) {
    if (key != "general.alignment") w.set(key, value);
  }
  for (const std::string& name : shard_tensor_names(file, first, last, embed, head)) {
    const GgufTensor& t = *file.find_tensor(name);
    const auto* bytes = static_cast<const uint8_t*>(t.data);
    w.add_tensor(t.name, t.dims, t.dtype, std::vector<uint8_t>(bytes, bytes + t.nbytes));
  }
  w.write(path);
}

// Hidden rows after blocks [first, last) of `model`, from `in`.
std::vector<float> run_blocks(const Model& model, int first, int last, std::vector<float> hidden, int64_t n) {
  const HyperParams& hp = model.hparams();
  KVCache kv(DType::F32, {first, last}, n, hp.kv_dim());
  model.transformer().forward_layers(first, last, hidden.data(), n, 0, kv, nullptr);
  return hidden;
}

TEST(ShardContents, EveryArchitecturesShardRunsItsBlocksAsTheWholeFileDoes) {
  auto tiny = [](Architecture arch) { return test::tiny_synth(arch, DType::Q8_0); };
  SynthOptions llama3 = tiny(Architecture::Llama);
  llama3.llama3_rope = Llama3RopeScaling{};
  llama3.tied_output = true;
  // An original context of 4, below the 6 positions run here, so the long factors apply.
  SynthOptions phi3_long = tiny(Architecture::Phi3);
  phi3_long.long_rope = LongRopeScaling{4};
  const fs::path dir = fs::temp_directory_path() / ("shard-contents-" + std::to_string(getpid()));
  fs::create_directories(dir);
  for (const SynthOptions& o : {llama3, tiny(Architecture::Qwen3), tiny(Architecture::Phi3), phi3_long}) {
    const std::string path = test::synth_model_path(o);
    const std::string label = architecture_name(o.arch) + synth_variant_name(o);
    const GgufFile file = GgufFile::open(path);
    auto whole = Model::open(path, {});
    const HyperParams& hp = whole->hparams();
    // The middle of the pipeline: block 1 alone, neither embedding nor head.
    const auto names = shard_tensor_names(file, 1, 2, false, false);
    const bool has_rope_freqs = std::find(names.begin(), names.end(), "rope_freqs.weight") != names.end();
    EXPECT_EQ(has_rope_freqs, o.llama3_rope.has_value()) << label;
    const bool has_long_rope = std::find(names.begin(), names.end(), "rope_factors_long.weight") != names.end() &&
                               std::find(names.begin(), names.end(), "rope_factors_short.weight") != names.end();
    EXPECT_EQ(has_long_rope, o.long_rope.has_value()) << label;
    for (const std::string& n : names) {
      EXPECT_TRUE(n == "rope_freqs.weight" || n == "rope_factors_long.weight" || n == "rope_factors_short.weight" ||
                  n.rfind("blk.1.", 0) == 0)
          << label << ": " << n;
    }
    EXPECT_TRUE(shard_tensor_names(file, 1, 1, false, false).empty()) << label << ": no blocks, no tensors";
    const std::string shard_path = (dir / (label + ".gguf")).string();
    write_shard(file, 1, 2, false, false, shard_path);
    ModelOpenOptions opts;
    opts.range = LayerRange{1, 2};
    opts.with_embedding = false;
    opts.with_head = false;
    opts.with_tokenizer = false;
    auto shard = Model::open(shard_path, opts);
    EXPECT_EQ(shard->weights().rope_freqs != nullptr, o.llama3_rope.has_value()) << label;
    EXPECT_EQ(shard->weights().rope_factors_long != nullptr, o.long_rope.has_value()) << label;

    const int64_t n = 6;
    std::vector<float> hidden(static_cast<size_t>(n * hp.dim));
    const std::vector<int32_t> tokens = {1, 17, 300, 42, 901, 5};
    whole->transformer().embed(tokens, hidden.data());
    const auto from_whole = run_blocks(*whole, 1, 2, hidden, n);
    const auto from_shard = run_blocks(*shard, 1, 2, hidden, n);
    ASSERT_EQ(from_whole.size(), from_shard.size());
    EXPECT_EQ(0, std::memcmp(from_whole.data(), from_shard.data(), from_whole.size() * sizeof(float))) << label;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace baton
