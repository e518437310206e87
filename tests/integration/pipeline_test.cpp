// One model across real processes: 1, 2 and 3 stages on loopback must produce exactly
// the single-node output over an f32 wire, and nearly always the same over int8+zstd.
#include <gtest/gtest.h>

#include <set>

#include "local_cluster.h"
#include "model/model.h"
#include "../model/test_models.h"

namespace baton {
namespace {

using test::LocalCluster;
using test::NodeSpec;

const std::vector<std::string> kPrompts = {"And God said", "In the beginning", "Blessed are the",
                                           "A day without sunshine", "You will", "The LORD is my shepherd",
                                           "Thou shalt", "Q: Why did the chicken"};
constexpr int kTokens = 20;

// The shipped trained model: real weights give the INT8 comparison real margins.
std::string model_path() { return std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf"; }

TEST(Pipeline, F32WireEqualsSingleNodeFor1To3Stages) {
  std::vector<std::string> reference;
  for (const auto& p : kPrompts) reference.push_back(test::single_node_continuation(model_path(), p, kTokens));
  for (size_t n : {1u, 2u, 3u}) {
    LocalCluster cluster(model_path(), std::vector<NodeSpec>(n), {"--wire", "f32", "--ctx", "256"},
                         test::temp_dir("f32-" + std::to_string(n)));
    ASSERT_TRUE(cluster.ok()) << cluster.error();
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      const auto j = cluster.submit({kPrompts[i]}, kTokens);
      EXPECT_EQ(j.value("text", std::string("<none>")), reference[i]) << n << " stage(s), prompt '" << kPrompts[i] << "'";
    }
  }
}

// Sampling happens on the last stage: with a seed, temperature 0.8 and the default chain
// (top-k, top-p, min-p, repeat penalty) the text equals `baton run --seed`'s.
TEST(Pipeline, SeededSamplingOnTheLastStageEqualsSingleNode) {
  const std::vector<std::string> sampling = {"--temp", "0.8", "--seed", "77", "-n", std::to_string(kTokens)};
  LocalCluster cluster(model_path(), std::vector<NodeSpec>(2), {"--wire", "f32", "--ctx", "256"},
                       test::temp_dir("seeded"));
  ASSERT_TRUE(cluster.ok()) << cluster.error();
  std::set<std::string> distinct;
  for (const std::string prompt : {"And God said", "You will"}) {
    std::vector<std::string> argv = {BATON_EXECUTABLE, "run", "--model", model_path(), "--prompt", prompt,
                                     "--threads", "2"};
    argv.insert(argv.end(), sampling.begin(), sampling.end());
    const auto single = run_command(argv, std::chrono::seconds(120));
    ASSERT_EQ(single.code, 0) << single.err;
    std::vector<std::string> args = sampling;
    args.push_back(prompt);
    const auto j = cluster.submit_with(args);
    EXPECT_EQ(prompt + j.value("text", std::string("<none>")), single.out) << "prompt '" << prompt << "'";
    distinct.insert(single.out);
  }
  EXPECT_EQ(distinct.size(), 2u);
}

// Teacher-forced top-1 agreement of the int8+zstd wire against the exact (f32) pipeline:
// at every step of the reference continuation, the int8 pipeline sees the same prefix
// and must pick the same next token.
TEST(Pipeline, Int8ZstdWireAgreesWithF32) {
  auto model = Model::open(model_path(), {});
  const std::string cache = test::temp_dir("int8");
  LocalCluster exact(model_path(), std::vector<NodeSpec>(1), {"--wire", "f32", "--ctx", "256"}, cache + "/exact");
  ASSERT_TRUE(exact.ok()) << exact.error();
  // Where the activations are quantised depends on the split; with detected memory the
  // split followed whatever else the machine was doing (142/144 was once measured on a
  // loaded machine). Equal, fixed offers pin it, so the figure below is the one checked.
  std::vector<NodeSpec> pinned(3);
  for (NodeSpec& n : pinned) n.extra = {"--memory", "2048"};
  LocalCluster int8(model_path(), pinned, {"--wire", "int8+zstd", "--ctx", "256"}, cache + "/int8");
  ASSERT_TRUE(int8.ok()) << int8.error();
  int steps = 0, agree = 0, identical_prompts = 0;
  for (const auto& prompt : kPrompts) {
    const auto ref = exact.submit({prompt}, kTokens);
    const auto got = int8.submit({prompt}, kTokens);
    identical_prompts += ref["completion_ids"] == got["completion_ids"];
    std::vector<int32_t> ids = model->tokenizer().encode(prompt, model->tokenizer().add_bos(), false);
    for (int32_t want : ref["completion_ids"].get<std::vector<int32_t>>()) {
      std::string list;
      for (int32_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
      const auto one = int8.submit({"--prompt-ids", list}, 1);
      const auto next = one["completion_ids"].get<std::vector<int32_t>>();
      ++steps;
      agree += !next.empty() && next[0] == want;
      ids.push_back(want);
    }
  }
  // Token ids from the client are checked against the vocabulary before anything runs.
  const auto bad = run_command({BATON_EXECUTABLE, "submit", "--coordinator", int8.address(), "--prompt-ids", "1,99999"},
                               std::chrono::seconds(30), test::secret_env());
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("token id 99999 is outside [0, 4096)"), std::string::npos) << bad.err;
  const double rate = double(agree) / steps;
  std::printf("int8+zstd: teacher-forced top-1 agreement %d/%d = %.3f; identical greedy continuations %d/%zu\n", agree,
              steps, rate, identical_prompts, kPrompts.size());
  // Measured on the shipped model with 3 stages: 144/144 steps agree, 8/8 continuations
  // identical. (On random synthetic weights, whose top-2 logits are often near-ties, the
  // same test measured 78/80.) The bounds: >= 99% per step, most prompts identical.
  EXPECT_GE(rate, 0.99);
  EXPECT_GE(identical_prompts, static_cast<int>(kPrompts.size()) - 1);
}

}  // namespace
}  // namespace baton

namespace baton {
namespace {

// Nodes without a copy of the model fetch exactly their tensors from the coordinator,
// verify them, cache them, and a restart loads from the cache instead of fetching.
TEST(Pipeline, NodesWithoutTheModelFetchVerifyAndCacheTheirShards) {
  const std::string prompt = kPrompts[0];
  const std::string reference = test::single_node_continuation(model_path(), prompt, kTokens);
  const std::string cache = test::temp_dir("fetch");
  const std::vector<NodeSpec> no_model(2, test::node_without_model());
  {
    LocalCluster cluster(model_path(), no_model, {"--wire", "f32", "--ctx", "256"}, cache);
    ASSERT_TRUE(cluster.ok()) << cluster.error();
    EXPECT_EQ(cluster.submit({prompt}, kTokens).value("text", std::string()), reference);
    EXPECT_TRUE(test::wait_for_stderr(cluster.node(0), "fetched and verified")) << cluster.node(0).err();
  }
  LocalCluster again(model_path(), no_model, {"--wire", "f32", "--ctx", "256"}, cache);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again.submit({prompt}, kTokens).value("text", std::string()), reference);
  EXPECT_TRUE(test::wait_for_stderr(again.node(1), "found in the shard cache")) << again.node(1).err();
}

}  // namespace
}  // namespace baton

namespace baton {
namespace {

// The newer architectures over two nodes that fetch their shards from the coordinator
// (Llama 3's rope_freqs and LongRoPE's factors are tensors every stage's shard needs;
// Phi-3's matrices are fused; Qwen3's heads are wider than dim / heads): the single node's
// greedy text. The LongRoPE file's original context (64) is below both runs' contexts, so
// both use the long factors.
TEST(Pipeline, NewArchitecturesOverFetchedShardsEqualSingleNode) {
  auto tiny = [](Architecture arch) { return test::tiny_synth(arch, DType::Q8_0); };
  SynthOptions llama3 = tiny(Architecture::Llama);
  llama3.llama3_rope = Llama3RopeScaling{32.0f, 1.0f, 4.0f, 64};
  llama3.tied_output = true;
  SynthOptions phi3_long = tiny(Architecture::Phi3);
  phi3_long.long_rope = LongRopeScaling{64};
  for (const SynthOptions& o : {llama3, tiny(Architecture::Qwen3), tiny(Architecture::Phi3), phi3_long}) {
    const std::string name = architecture_name(o.arch) + synth_variant_name(o);
    const std::string path = test::synth_model_path(o);
    const std::string prompt = "In the beginning";
    const std::string reference = test::single_node_continuation(path, prompt, kTokens);
    LocalCluster cluster(path, std::vector<NodeSpec>(2, test::node_without_model()), {"--wire", "f32", "--ctx", "256"},
                         test::temp_dir("arch-" + name));
    ASSERT_TRUE(cluster.ok()) << name << ": " << cluster.error();
    EXPECT_EQ(cluster.submit({prompt}, kTokens).value("text", std::string("<none>")), reference) << name;
    EXPECT_TRUE(test::wait_for_stderr(cluster.node(1), "fetched and verified")) << name << ": " << cluster.node(1).err();
  }
}

}  // namespace
}  // namespace baton
