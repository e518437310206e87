// `baton model quantize` and `baton model perplexity` as a user meets them: a quantised
// file that `baton run` generates from, a perplexity line, and one clear line (exit 1) for
// each kind of bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "../model/test_models.h"
#include "local_cluster.h"

namespace baton {
namespace {

using namespace std::chrono_literals;

RunResult baton(std::vector<std::string> args) {
  args.insert(args.begin(), BATON_EXECUTABLE);
  return run_command(args, 120s);
}

void expect_error(const RunResult& r, const std::string& needle) {
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << r.err;
}

TEST(ModelQuantizeCli, QuantisesAFileThatRunGeneratesFrom) {
  const std::string src = test::synth_model_path("tiny", DType::F32);
  const std::string out = test::temp_dir("quantize-cli") + "/tiny.q4_K.gguf";
  auto r = baton({"model", "quantize", src, out, "--type", "q4_K", "--mixed"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("token_embd.weight"), std::string::npos) << "--mixed prints the per-tensor plan: " << r.out;
  EXPECT_NE(r.out.find("token embedding: kept at q8_0 (--mixed)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wrote " + out), std::string::npos) << r.out;
  EXPECT_LT(std::filesystem::file_size(out), std::filesystem::file_size(src) / 3);
  r = baton({"run", "--model", out, "--prompt", "hello", "-n", "5", "--temp", "0"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("hello", 0), 0u) << r.out;
  // --plan writes nothing.
  const std::string planned = test::temp_dir("quantize-cli-plan") + "/never.gguf";
  r = baton({"model", "quantize", src, planned, "--type", "q8_0", "--plan"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(planned));
}

TEST(ModelQuantizeCli, BadInputGetsOneClearLine) {
  const std::string src = test::synth_model_path("tiny", DType::F32);
  const std::string dir = test::temp_dir("quantize-cli-bad");
  expect_error(baton({"model", "quantize", src, dir + "/x.gguf", "--type", "q3_K"}), "--type 'q3_K' is not a type baton can write; use one of: f32");
  expect_error(baton({"model", "quantize", src, dir + "/x.gguf", "--type", "q8_K"}), "is not a type baton can write");
  expect_error(baton({"model", "quantize", src, src, "--type", "q8_0"}), "is the input file");
  // The same file through another spelling of its path.
  const std::string other_spelling = (std::filesystem::path(src).parent_path() / "." / std::filesystem::path(src).filename()).string();
  expect_error(baton({"model", "quantize", src, other_spelling, "--type", "q8_0"}), "is the input file");
  expect_error(baton({"model", "quantize", src, dir + "/missing/x.gguf", "--type", "q8_0"}), "output folder");
  expect_error(baton({"model", "quantize", src, dir, "--type", "q8_0"}), "is a folder");
  const std::string junk = dir + "/junk.gguf";
  std::ofstream(junk) << "this is not a model at all, just text";
  expect_error(baton({"model", "quantize", junk, dir + "/x.gguf", "--type", "q8_0"}), "not a GGUF file");
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.gguf")) << "nothing written on failure";
  const auto r = baton({"model", "quantize", dir + "/absent.gguf", dir + "/x.gguf", "--type", "q8_0"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("absent.gguf"), std::string::npos) << r.err;
}

TEST(ModelPerplexityCli, PrintsPerplexityAndRefusesBadInput) {
  const std::string model = test::synth_model_path("tiny", DType::Q8_0);
  const std::string dir = test::temp_dir("perplexity-cli");
  const std::string text = dir + "/text.txt";
  {
    std::ofstream f(text);
    for (int i = 0; i < 20; ++i) f << "In the beginning God created the heaven and the earth. ";
  }
  auto r = baton({"model", "perplexity", model, "--text", text, "--context", "32", "--json", "--threads", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["context"].get<int>(), 32);
  EXPECT_EQ(j["predicted"].get<int>(), 32 * j["windows"].get<int>());
  EXPECT_NEAR(j["perplexity"].get<double>(), std::exp(j["mean_nll"].get<double>()), 1e-6 * j["perplexity"].get<double>());
  EXPECT_NE(r.err.find("window 1/"), std::string::npos) << "progress: " << r.err;
  r = baton({"model", "perplexity", model, "--text", text, "--context", "32"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("perplexity "), std::string::npos);
  EXPECT_NE(r.out.find(" ± "), std::string::npos) << r.out;

  expect_error(baton({"model", "perplexity", model, "--text", text, "--context", "100000"}), "longer than the model's context length");
  const std::string short_text = dir + "/short.txt";
  std::ofstream(short_text) << "In the beginning";
  expect_error(baton({"model", "perplexity", model, "--text", short_text, "--context", "64"}), "give a longer text");
  const auto missing = baton({"model", "perplexity", model, "--text", dir + "/absent.txt"});
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.err.find("absent.txt"), std::string::npos) << missing.err;
}

TEST(ModelQuantizeCli, HelpForBothCommands) {
  for (const char* sub : {"quantize", "perplexity"}) {
    const auto r = baton({"model", sub, "--help"});
    EXPECT_EQ(r.code, 0) << sub;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << sub;
  }
}

}  // namespace
}  // namespace baton
