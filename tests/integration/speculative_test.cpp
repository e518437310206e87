// Speculative decoding through real processes: prompt-lookup drafts verified as one
// multi-row frame on the last stage, rejected positions rolled back on every stage.
// Single node (`baton run`) and 2 and 3 node clusters over loopback, f32 wire: greedy
// text with speculation on equals plain decoding (the whole model in this process, no
// speculation), drafts were both accepted and rejected on the way, a seeded sampled
// reply equals plain seeded sampling, and the figures show in the response, /metrics
// and /v1/cluster. With a draft model on the coordinator (`--draft`, here the shipped
// model in 4 bits drafting for its 8-bit self): greedy text equals plain decoding, sampled
// drafts are verified with their distributions, and a draft of another vocabulary is
// refused before anything starts.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "local_cluster.h"
#include "model/generation.h"
#include "model/local_backend.h"
#include "model/model.h"

namespace baton {
namespace {

using nlohmann::json;

std::string model_path() { return std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf"; }

const std::vector<std::string> kPrompts = {"And God said unto Moses, Speak unto the children of Israel",
                                           "The LORD is my shepherd", "Blessed are the"};
constexpr int kTokens = 64;

// Plain decoding, the whole model in this process, no speculation.
std::string plain_text(const Model& model, const std::vector<int32_t>& prompt, float temperature, uint64_t seed) {
  LocalBackend local(model.transformer(), DType::F16, 512, nullptr);
  Generator generator(local, model.tokenizer());
  GenerationParams p;
  p.max_tokens = kTokens;
  p.sampling.temperature = temperature;
  p.sampling.top_k = 0, p.sampling.top_p = 1.0f, p.sampling.min_p = 0;  // the API's defaults
  p.sampling.seed = seed;
  return generator.generate(prompt, p, {}).text;
}

json post(int port, const json& body) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  auto r = c.Post("/v1/completions", body.dump(), "application/json");
  if (!r) return json{{"error", "no answer"}};
  EXPECT_EQ(r->status, 200) << r->body;
  return json::parse(r->body);
}

std::string get(int port, const char* path) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  auto r = c.Get(path);
  return r ? r->body : std::string();
}

TEST(Speculative, SingleNodeGreedyTextIsThePlainText) {
  for (const std::string& prompt : kPrompts) {
    std::string out[2];
    for (int on = 0; on < 2; ++on) {
      const auto r = run_command({BATON_EXECUTABLE, "run", "--model", model_path(), "--prompt", prompt, "--temp", "0",
                                  "-n", std::to_string(kTokens), "--threads", "2", "--speculative", on ? "on" : "off"},
                                 std::chrono::seconds(120));
      ASSERT_EQ(r.code, 0) << r.err;
      out[on] = r.out;
    }
    EXPECT_EQ(out[1], out[0]) << "prompt '" << prompt << "'";
  }
}

TEST(Speculative, ClusterGreedyAndSeededTextIsThePlainText) {
  auto model = Model::open(model_path());
  for (size_t n : {2u, 3u}) {
    test::LocalCluster cluster(model_path(), std::vector<test::NodeSpec>(n),
                               {"--wire", "f32", "--ctx", "512", "--speculative", "on"},
                               test::temp_dir("speculative-" + std::to_string(n)));
    ASSERT_TRUE(cluster.ok()) << cluster.error();
    ASSERT_GT(cluster.http_port(), 0);
    int64_t drafted = 0, accepted = 0;
    for (const std::string& text : kPrompts) {
      const std::vector<int32_t> prompt = model->tokenizer().encode(text, true, false);
      const json body = {{"prompt", prompt}, {"max_tokens", kTokens}, {"temperature", 0}};
      const json on = post(cluster.http_port(), body);
      ASSERT_TRUE(on.contains("choices")) << on.dump();
      EXPECT_EQ(on["choices"][0]["text"], plain_text(*model, prompt, 0, 0)) << n << " nodes, prompt '" << text << "'";
      const json& spec = on["baton"]["speculative"];
      drafted += spec["drafted_tokens"].get<int64_t>();
      accepted += spec["accepted_tokens"].get<int64_t>();
      // Per request off: the same text, nothing drafted.
      json off_body = body;
      off_body["speculative"] = false;
      const json off = post(cluster.http_port(), off_body);
      EXPECT_EQ(off["choices"][0]["text"], on["choices"][0]["text"]);
      EXPECT_EQ(off["baton"]["speculative"]["drafted_tokens"], 0);
    }
    // Drafts were verified, some accepted (fewer round trips) and some rejected (rolled
    // back on every stage): both paths ran and the text did not change.
    EXPECT_GT(accepted, 0) << n << " nodes";
    EXPECT_LT(accepted, drafted) << n << " nodes";

    // Seeded sampling: the same text as plain seeded sampling, whatever was drafted.
    const std::vector<int32_t> prompt = model->tokenizer().encode(kPrompts[0], true, false);
    const json sampled_body = {{"prompt", prompt}, {"max_tokens", kTokens}, {"temperature", 0.9}, {"seed", 11}};
    const json a = post(cluster.http_port(), sampled_body);
    const json b = post(cluster.http_port(), sampled_body);
    EXPECT_EQ(a["choices"][0]["text"], plain_text(*model, prompt, 0.9f, 11));
    EXPECT_EQ(a["choices"][0]["text"], b["choices"][0]["text"]);

    const std::string metrics = get(cluster.http_port(), "/metrics");
    EXPECT_NE(metrics.find("baton_speculative_drafted_tokens_total "), std::string::npos);
    EXPECT_EQ(metrics.find("baton_speculative_drafted_tokens_total 0\n"), std::string::npos) << metrics;
    const json status = json::parse(get(cluster.http_port(), "/v1/cluster"));
    EXPECT_TRUE(status["last_request"].contains("drafted_tokens")) << status.dump();
  }
}

TEST(Speculative, ClusterWithADraftModelGivesThePlainGreedyText) {
  auto model = Model::open(model_path());
  const std::string draft = std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q4_0.gguf";
  test::LocalCluster cluster(model_path(), std::vector<test::NodeSpec>(2),
                             {"--wire", "f32", "--ctx", "512", "--speculative", "draft", "--draft", draft},
                             test::temp_dir("speculative-draft"));
  ASSERT_TRUE(cluster.ok()) << cluster.error();
  int64_t drafted = 0, accepted = 0;
  for (const std::string& text : kPrompts) {
    const std::vector<int32_t> prompt = model->tokenizer().encode(text, true, false);
    const json on = post(cluster.http_port(), {{"prompt", prompt}, {"max_tokens", kTokens}, {"temperature", 0}});
    ASSERT_TRUE(on.contains("choices")) << on.dump();
    EXPECT_EQ(on["choices"][0]["text"], plain_text(*model, prompt, 0, 0)) << "prompt '" << text << "'";
    drafted += on["baton"]["speculative"]["drafted_tokens"].get<int64_t>();
    accepted += on["baton"]["speculative"]["accepted_tokens"].get<int64_t>();
  }
  EXPECT_GT(accepted, 0);
  EXPECT_LE(accepted, drafted);
  // Sampled: drafts come with their distributions and are verified by the speculative
  // sampling rule on the last stage. (The text is not compared across runs: which
  // numbers the rule draws depends on the draft lengths, which follow measured timings;
  // the rule's law is tested on the pure function.)
  // A sampled reply may end early, and on a loaded machine the draft length may drop to
  // its probes: several seeds, and the drafts and acceptances counted over all of them.
  const std::vector<int32_t> prompt = model->tokenizer().encode(kPrompts[1], true, false);
  int64_t sampled_drafted = 0, sampled_accepted = 0;
  for (int seed = 5; seed < 9; ++seed) {
    const json a =
        post(cluster.http_port(), {{"prompt", prompt}, {"max_tokens", kTokens}, {"temperature", 0.9}, {"seed", seed}});
    ASSERT_TRUE(a.contains("choices")) << a.dump();
    EXPECT_FALSE(a["choices"][0]["text"].get<std::string>().empty());
    sampled_drafted += a["baton"]["speculative"]["drafted_tokens"].get<int64_t>();
    sampled_accepted += a["baton"]["speculative"]["accepted_tokens"].get<int64_t>();
  }
  EXPECT_GT(sampled_drafted, 0);
  EXPECT_GT(sampled_accepted, 0);
  EXPECT_LE(sampled_accepted, sampled_drafted);
}

TEST(Speculative, ADraftModelOfAnotherVocabularyIsRefused) {
  const std::string other = test::temp_dir("speculative-other-vocab") + "/other.gguf";
  auto synth = run_command({BATON_EXECUTABLE, "model", "synth", "--size", "tiny", "--out", other}, std::chrono::seconds(60));
  ASSERT_EQ(synth.code, 0) << synth.err;
  const auto r = run_command({BATON_EXECUTABLE, "run", "--model", model_path(), "--draft", other, "--prompt", "Hi",
                              "-n", "4"},
                             std::chrono::seconds(60));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("same tokenizer"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace baton
