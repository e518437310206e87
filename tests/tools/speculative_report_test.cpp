// `baton simulate --speculative off,on`: each run's entry holds its mode, decode tokens/s,
// acceptance over its requests, the speed-up and whether every reply equals the `off`
// run's of the same strategy.
#include <gtest/gtest.h>

#include "tools/simulate/report.h"

namespace baton::sim {
namespace {

RunReport run(const std::string& mode, const std::string& strategy, double tps, std::vector<std::string> texts,
              int drafted = 0, int accepted = 0) {
  RunReport r;
  r.speculative = mode;
  r.strategy = strategy;
  r.measured_tokens_per_s = tps;
  for (auto& t : texts) {
    RequestReport q;
    q.text = t;
    q.drafted_tokens = drafted;
    q.accepted_tokens = accepted;
    r.requests.push_back(q);
  }
  return r;
}

TEST(SpeculativeReport, ComparesEachRunWithTheOffRunOfItsStrategy) {
  const std::vector<RunReport> runs = {run("off", "memory", 10, {"a", "b"}),
                                       run("on", "memory", 25, {"a", "b"}, 10, 6),
                                       run("off", "latency", 12, {"a", "c"}),
                                       run("on", "latency", 20, {"a", "x"}, 5, 1)};
  const auto e = speculative_entries(runs);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].mode, "off");
  EXPECT_EQ(e[0].text_identical, true);
  EXPECT_DOUBLE_EQ(e[0].speedup, 1.0);
  EXPECT_EQ(e[0].drafted_tokens, 0);
  EXPECT_EQ(e[1].mode, "on");
  EXPECT_DOUBLE_EQ(e[1].decode_tokens_per_s, 25);
  EXPECT_EQ(e[1].drafted_tokens, 20);
  EXPECT_EQ(e[1].accepted_tokens, 12);
  EXPECT_DOUBLE_EQ(e[1].acceptance, 0.6);
  EXPECT_DOUBLE_EQ(e[1].speedup, 2.5);
  EXPECT_EQ(e[1].text_identical, true);
  EXPECT_EQ(e[3].text_identical, false);  // "x" differs from the latency off run's "c"
  const nlohmann::json j = to_json(e);
  ASSERT_EQ(j.size(), 4u);
  for (const char* key : {"mode", "decode_tokens_per_s", "acceptance", "text_identical"}) {
    EXPECT_TRUE(j[1].contains(key)) << key;
  }
  EXPECT_EQ(j[3]["text_identical"], false);
  const std::string table = render_speculative(e);
  EXPECT_NE(table.find("2.50x"), std::string::npos) << table;
  EXPECT_NE(table.find("12/20 (60%)"), std::string::npos) << table;
  EXPECT_NE(table.find("NO"), std::string::npos) << table;
}

TEST(SpeculativeReport, WithoutAnOffRunNothingIsCompared) {
  const auto e = speculative_entries({run("on", "memory", 25, {"a"}, 4, 4)});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_FALSE(e[0].text_identical.has_value());
  EXPECT_EQ(e[0].speedup, 0);
  EXPECT_TRUE(to_json(e)[0]["text_identical"].is_null());
}

}  // namespace
}  // namespace baton::sim
