// Gemma 3 across two node processes whose sliding-window layers keep only the positions
// they can read (model/sliding_window.h; the synthesised window is 6 positions, the rows
// kept 133): a generation that slides those rows many times, with speculation rolling
// drafts back on every stage, gives the single node's greedy text; the prompt cache
// reuses a prefix the stages still hold and recomputes one whose keys they dropped, with
// the same text either way.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../model/test_models.h"
#include "local_cluster.h"
#include "model/model.h"
#include "model/sliding_window.h"

namespace baton {
namespace {

using nlohmann::json;

TEST(SlidingWindowPipeline, TwoStagesEqualOneNodeAndThePromptCacheNeverUsesDroppedKeys) {
  SynthOptions o = test::tiny_synth(Architecture::Gemma3, DType::Q8_0);
  o.size = "tiny6";
  const std::string path = test::synth_model_path(o);
  std::string prompt;
  for (int i = 0; i < 14; ++i) prompt += "In the beginning God created the heaven and the earth. ";
  const int long_run = 200, short_run = 10;
  const std::string long_reference = test::single_node_continuation(path, prompt, long_run);
  const std::string short_reference = test::single_node_continuation(path, prompt, short_run);

  test::LocalCluster cluster(path, std::vector<test::NodeSpec>(2), {"--wire", "f32", "--ctx", "512"},
                             test::temp_dir("sliding"));
  ASSERT_TRUE(cluster.ok()) << cluster.error();
  ASSERT_GT(cluster.http_port(), 0);
  auto complete = [&](int max_tokens) {
    httplib::Client c("127.0.0.1", cluster.http_port());
    c.set_read_timeout(120, 0);
    const json body = {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
    auto r = c.Post("/v1/completions", body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : std::string("no reply"));
    return r && r->status == 200 ? json::parse(r->body) : json::object();
  };
  auto text = [](const json& j) { return j.value("choices", json::array()).empty() ? std::string("<none>")
                                                                                   : j["choices"][0]["text"].get<std::string>(); };

  // A prompt longer than the rows kept, and a short reply: repeating it goes back only the
  // reply's positions and reuses all of the prompt but its last token.
  const json a = complete(short_run);
  EXPECT_EQ(text(a), short_reference);
  const int prompt_tokens = a["usage"]["prompt_tokens"];
  ASSERT_GT(prompt_tokens, 140) << "the prompt should be longer than the rows a sliding layer keeps";
  const json b = complete(short_run);
  EXPECT_EQ(text(b), short_reference);
  EXPECT_EQ(b["baton"]["cached_tokens"], prompt_tokens - 1) << "within kSlidingRollback of what the slot held";

  // A long generation slides the rows; repeating it then goes back more than
  // kSlidingRollback positions: recomputed from the start, same text.
  const json c = complete(long_run);
  EXPECT_EQ(text(c), long_reference);
  ASSERT_GT(c["usage"]["completion_tokens"].get<int>(), kSlidingRollback + 1) << "the generation ended early";
  const json d = complete(long_run);
  EXPECT_EQ(text(d), long_reference);
  EXPECT_EQ(d["baton"]["cached_tokens"], 0);
}

}  // namespace
}  // namespace baton
