// The command line as a user meets it: every subcommand has --help, and bad input gives
// one clear line and a non-zero exit instead of a crash or a hang.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "../model/test_models.h"
#include "model/model.h"
#include "local_cluster.h"

namespace baton {
namespace {

using namespace std::chrono_literals;

RunResult baton(std::vector<std::string> args, std::vector<std::string> env = {}) {
  args.insert(args.begin(), BATON_EXECUTABLE);
  return run_command(args, 60s, std::move(env));
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* cmd : {"run", "bench", "plan", "node", "coordinator", "submit", "peers"}) {
    const auto r = baton({cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << cmd;
  }
  for (const char* sub : {"inspect", "synth", "tokenize"}) {
    const auto r = baton({"model", sub, "--help"});
    EXPECT_EQ(r.code, 0) << sub;
  }
}

TEST(Cli, MissingAndCorruptModelsGiveOneClearLine) {
  auto r = baton({"run", "--model", "/nonexistent/model.gguf", "--prompt", "hi"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("model file '/nonexistent/model.gguf' does not exist"), std::string::npos) << r.err;
  const std::string junk = test::temp_dir("cli") + "/junk.gguf";
  std::ofstream(junk) << "this is not a model at all, just text";
  r = baton({"run", "--model", junk, "--prompt", "hi"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not a GGUF file"), std::string::npos) << r.err;
  r = baton({"model", "inspect", junk});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not a GGUF file"), std::string::npos) << r.err;
}

TEST(Cli, SynthThenInspectThenRun) {
  const std::string path = test::temp_dir("cli-synth") + "/m.gguf";
  auto r = baton({"model", "synth", "--out", path, "--size", "tiny", "--dtype", "q4_K", "--arch", "qwen2"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = baton({"model", "inspect", path});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("blk.1.attn_q.bias"), std::string::npos) << "qwen2 has QKV biases";
  EXPECT_NE(r.out.find("q4_K"), std::string::npos);
  r = baton({"run", "--model", path, "--prompt", "hello", "-n", "5", "--temp", "0"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("hello", 0), 0u);
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << "status line after the reply";
}

// Each newer architecture and RoPE scaling from the command line: synth writes its own
// tensors (or keys), and the file runs. Llama 3's options belong to llama only, LongRoPE's
// to phi3.
TEST(Cli, SynthNewArchitecturesThenRun) {
  const std::string dir = test::temp_dir("cli-synth-archs");
  struct Case {
    std::vector<std::string> args;
    std::string tensor;  // one the architecture has and plain llama does not
  };
  const std::vector<Case> cases = {
      {{"--arch", "qwen3"}, "blk.1.attn_k_norm.weight"},
      {{"--arch", "phi3"}, "blk.1.attn_qkv.weight"},
      {{"--arch", "llama", "--rope-scaling", "llama3", "--rope-factor", "8", "--tied-output"}, "rope_freqs.weight"},
      {{"--rope-scaling", "longrope", "--arch", "phi3", "--rope-original-context", "64"}, "rope_factors_long.weight"},
      {{"--rope-scaling", "yarn", "--arch", "qwen3", "--rope-factor", "4", "--rope-original-context", "64"},
       "qwen3.rope.scaling.type"},
  };
  for (const Case& c : cases) {
    const std::string path = dir + "/" + c.args[1] + ".gguf";
    std::vector<std::string> cmd = {"model", "synth", "--out", path, "--size", "tiny", "--dtype", "q8_0"};
    cmd.insert(cmd.end(), c.args.begin(), c.args.end());
    auto r = baton(cmd);
    ASSERT_EQ(r.code, 0) << r.err;
    r = baton({"model", "inspect", path});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find(c.tensor), std::string::npos) << c.args[1];
    r = baton({"run", "--model", path, "--prompt", "hello", "-n", "5", "--temp", "0"});
    EXPECT_EQ(r.code, 0) << c.args[1] << ": " << r.err;
  }
  auto r = baton({"model", "synth", "--out", dir + "/bad.gguf", "--arch", "qwen3", "--rope-scaling", "llama3"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--rope-scaling llama3 needs --arch llama"), std::string::npos) << r.err;
  r = baton({"model", "synth", "--out", dir + "/bad.gguf", "--arch", "llama", "--rope-scaling", "longrope"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--rope-scaling longrope needs --arch phi3"), std::string::npos) << r.err;
}

// `model tokenize` prints the ids the library's tokenizer gives, and --decode reads them back.
TEST(Cli, TokenizeAndDecodeRoundTrip) {
  const std::string model = test::synth_model_path("tiny", DType::Q8_0);
  const std::string text = "In the beginning God created the heaven";
  auto r = baton({"model", "tokenize", model, text});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto m = Model::open(model, ModelOpenOptions::without_layers());
  const std::vector<int32_t> expected = m->tokenizer().encode(text, m->tokenizer().add_bos(), false);
  std::string want;
  for (size_t i = 0; i < expected.size(); ++i) want += (i ? " " : "") + std::to_string(expected[i]);
  EXPECT_EQ(r.out, want + "\n");
  // Without BOS, decoding the ids gives the text back.
  r = baton({"model", "tokenize", "--no-bos", model, text});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string ids = r.out;
  ids.pop_back();
  r = baton({"model", "tokenize", "--decode", model, ids});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, text + "\n");
  r = baton({"model", "tokenize", "--decode", model, "12 banana"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("token ids"), std::string::npos) << r.err;
  r = baton({"model", "tokenize", "--decode", model, "99999999"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("outside the vocabulary"), std::string::npos) << r.err;
}

// `model tokenize` reads only the tokenizer: llama.cpp's vocabulary-only falcon file (an
// architecture baton does not run) gives the ids of llama.cpp's own test vector.
TEST(Cli, TokenizeNeedsOnlyAVocabulary) {
  const std::string dir = std::string(BATON_SOURCE_DIR) + "/tests/model/data/tokenizer-vectors/";
  std::ifstream inp(dir + "ggml-vocab-falcon.gguf.inp"), out(dir + "ggml-vocab-falcon.gguf.out");
  std::string text, ids, line;
  while (std::getline(inp, line) && line != "__ggml_vocab_test__") text += (text.empty() ? "" : "\n") + line;
  std::getline(out, ids);  // the ids of the first string, after a space
  ids.erase(0, ids.find_first_not_of(' '));
  ASSERT_FALSE(text.empty());
  const auto r = baton({"model", "tokenize", "--no-bos", dir + "ggml-vocab-falcon.gguf", text});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, ids + "\n") << text;
}

TEST(Cli, PlanJsonCoversEveryLayerOnce) {
  const std::string model = test::synth_model_path("small", DType::Q8_0);
  const std::string dev = std::string(BATON_SOURCE_DIR) + "/configs/devices/";
  const auto r = baton({"plan", "--model", model, "--devices", dev + "phone.toml," + dev + "tablet.toml," + dev + "pc.toml",
                        "--strategy", "latency", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  int next = 0;
  for (const auto& s : j["plan"]["stages"]) {
    EXPECT_EQ(s["first"].get<int>(), next);
    next = s["last"].get<int>();
  }
  EXPECT_EQ(next, 6);
}

TEST(Cli, PlanRejectsBadProfilesAndReportsInfeasibility) {
  const std::string model = test::synth_model_path("small", DType::Q8_0);
  const std::string dir = test::temp_dir("cli-plan");
  const std::string bad = dir + "/bad.toml";
  std::ofstream(bad) << "id = \"x\"\nkind = \"phone\"\nmemory_mib = -5\ncompute_gflops = 10\nmemory_bandwidth_gbs = 5\n"
                        "link_latency_ms = 1\nlink_bandwidth_mbps = 100\n";
  auto r = baton({"plan", "--model", model, "--devices", bad});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.toml"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("memory_mib"), std::string::npos) << r.err;
  const std::string tiny = dir + "/tiny.toml";
  std::ofstream(tiny) << "id = \"watch\"\nkind = \"other\"\nmemory_mib = 4\ncompute_gflops = 10\n"
                         "memory_bandwidth_gbs = 5\nlink_latency_ms = 1\nlink_bandwidth_mbps = 100\n";
  r = baton({"plan", "--model", model, "--devices", tiny});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("watch"), std::string::npos) << "the reason names the device";
}

TEST(Cli, NetworkCommandsFailClearlyWithoutPeers) {
  auto r = baton({"submit", "--coordinator", "127.0.0.1:1", "hello"}, test::secret_env());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("baton: error:"), std::string::npos) << r.err;
  r = baton({"coordinator", "--no-mdns", "--discovery-wait", "0.5", "--model", test::synth_model_path("tiny", DType::F32)},
            test::secret_env());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("found 0 node(s)"), std::string::npos) << r.err;
  r = baton({"node", "--listen", "127.0.0.1:0", "--no-mdns"}, {"BATON_SECRET="});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no cluster secret"), std::string::npos) << r.err;
  r = baton({"node", "--listen", "127.0.0.1:0", "--no-mdns", "--cpus", "4096"}, test::secret_env());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--cpus: CPU 4096 does not exist"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace baton
