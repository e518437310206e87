// `baton node` as a simulated device (--link-latency-ms/--link-jitter-ms/--link-mbps,
// --pace-gflops): shaped links keep frames in order, so greedy output is unchanged even
// with jitter as large as the latency; ping replies wait a round trip over the link; a
// paced stage reports its compute stretched, and one paced by the roofline reports its
// work over the device's speed. Comparisons only, no time bounds beyond the link delay a
// node must at least add and the device time a paced stage reports (bounds load cannot
// break).
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <future>

#include "local_cluster.h"
#include "model/gguf.h"

namespace baton {
namespace {

using nlohmann::json;

const std::string kModel = std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf";
const std::vector<std::string> kCoordinator = {"--ctx", "256", "--max-sessions", "2", "--prefill-chunk", "4"};

json post(int port, const json& body) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  auto r = c.Post("/v1/completions", body.dump(), "application/json");
  if (!r || r->status != 200) {
    ADD_FAILURE() << "completion failed: " << (r ? r->body : httplib::to_string(r.error()));
    return {};
  }
  return json::parse(r->body);
}

json cluster_status(int port) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/v1/cluster");
  if (!r || r->status != 200) {
    ADD_FAILURE() << "GET /v1/cluster failed";
    return {};
  }
  return json::parse(r->body);
}

// Two greedy completions at once (their frames share the links), texts in order.
std::vector<std::string> two_completions(int port) {
  auto one = [port](const std::string& prompt) {
    const json r = post(port, {{"prompt", prompt}, {"max_tokens", 12}, {"temperature", 0}});
    return r.is_null() ? std::string("<failed>") : r["choices"][0]["text"].get<std::string>();
  };
  auto a = std::async(std::launch::async, one, "In the beginning God created");
  auto b = std::async(std::launch::async, one, "And the LORD said unto Moses,");
  return {a.get(), b.get()};
}

std::vector<test::NodeSpec> nodes(std::vector<std::string> extra) {
  std::vector<test::NodeSpec> specs(2);
  for (size_t i = 0; i < specs.size(); ++i) {
    specs[i].extra = extra;
    specs[i].extra.insert(specs[i].extra.end(), {"--link-seed", std::to_string(i + 1)});
  }
  return specs;
}

TEST(ShapedNode, JitteryLinksKeepGreedyOutputAndPingsWaitARoundTrip) {
  std::vector<std::string> plain, shaped;
  {
    test::LocalCluster c(kModel, nodes({}), kCoordinator, test::temp_dir("shaped-plain"));
    ASSERT_TRUE(c.ok()) << c.error();
    plain = two_completions(c.http_port());
  }
  {
    // Jitter as large as the latency: without FIFO per link, frames would overtake.
    test::LocalCluster c(kModel, nodes({"--link-latency-ms", "3", "--link-jitter-ms", "3", "--link-mbps", "50"}),
                         kCoordinator, test::temp_dir("shaped-jitter"));
    ASSERT_TRUE(c.ok()) << c.error();
    shaped = two_completions(c.http_port());
    const json status = cluster_status(c.http_port());
    ASSERT_EQ(status["nodes"].size(), 2u) << status.dump();
    for (const json& n : status["nodes"]) {
      ASSERT_TRUE(n["rtt_ms"].is_number()) << n.dump();
      EXPECT_GE(n["rtt_ms"].get<double>(), 6.0) << "a ping crosses the 3 ms link both ways: " << n.dump();
    }
  }
  EXPECT_EQ(shaped, plain);
  EXPECT_NE(plain[0], "<failed>");
}

TEST(ShapedNode, PacedStagesReportStretchedCompute) {
  auto stage_compute = [](const std::vector<std::string>& extra, const std::string& name, bool paced) {
    test::LocalCluster c(kModel, nodes(extra), kCoordinator, test::temp_dir(name));
    EXPECT_TRUE(c.ok()) << c.error();
    if (!c.ok()) return 0.0;
    if (paced) {  // the factor the node applies, from its own words
      for (size_t i = 0; i < 2; ++i) {
        EXPECT_NE(c.node(i).out().find("pacing compute to 1 GFLOP/s (this machine: 40.0 GFLOP/s, x40.00)"),
                  std::string::npos)
            << c.node(i).out();
      }
    }
    post(c.http_port(), {{"prompt", "In the beginning"}, {"max_tokens", 8}, {"temperature", 0}});
    const json status = cluster_status(c.http_port());
    double sum = 0;
    for (const json& s : status["last_request"]["stages"]) sum += s["compute_ms"].get<double>();
    return sum;
  };
  const double plain = stage_compute({}, "paced-plain", false);
  // This machine claimed at 40 GFLOP/s, the device at 1: every stage 40 times slower.
  const double paced = stage_compute({"--pace-gflops", "1", "--host-gflops", "40"}, "paced-slow", true);
  EXPECT_GT(plain, 0);
  // Two runs at different moments: load can stretch either, so only the direction is
  // asserted (a 40x stretch survives any load difference short of 40x), not a ratio.
  EXPECT_GT(paced, plain) << "paced " << paced << " ms vs unpaced " << plain << " ms per token";
}

// 2-D weights a decoded token multiplies (every block's matrices and the head), counted
// from the file's own tensor table.
double matrix_elements(const std::string& path) {
  const GgufFile file = GgufFile::open(path);
  bool has_output = false;
  for (const GgufTensor& t : file.tensors()) has_output = has_output || t.name == "output.weight";
  double n = 0;
  for (const GgufTensor& t : file.tensors()) {
    const bool block_matrix = t.name.rfind("blk.", 0) == 0 && t.dims.size() == 2;
    const bool head = t.name == "output.weight" || (!has_output && t.name == "token_embd.weight");
    if (block_matrix || head) n += static_cast<double>(t.elements());
  }
  return n;
}

TEST(ShapedNode, RooflinePacedStagesTakeTheirWorkOverTheDevicesSpeed) {
  // A device of 0.2 GFLOP/s and 1000 GB/s is compute-bound: a decoded token costs its
  // stages 2 FLOPs per matrix weight (attention adds well under 1% at these positions),
  // 50 times longer than this machine takes, so load cannot reach the floor of its own time.
  test::LocalCluster c(kModel, nodes({"--pace-gflops", "0.2", "--pace-gbs", "1000"}), kCoordinator,
                       test::temp_dir("paced-roofline"));
  ASSERT_TRUE(c.ok()) << c.error();
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_NE(c.node(i).out().find("pacing compute to a device of 0.2 GFLOP/s and 1000 GB/s"), std::string::npos)
        << c.node(i).out();
  }
  post(c.http_port(), {{"prompt", "In the beginning"}, {"max_tokens", 8}, {"temperature", 0}, {"speculative", false}});
  const json status = cluster_status(c.http_port());
  double sum = 0;
  for (const json& s : status["last_request"]["stages"]) sum += s["compute_ms"].get<double>();
  const double expected_ms = 2 * matrix_elements(kModel) / 0.2e6;
  EXPECT_NEAR(sum, expected_ms, 0.02 * expected_ms) << status["last_request"].dump();
}

TEST(ShapedNode, RefusesJitterLargerThanLatency) {
  const RunResult r = run_command({BATON_EXECUTABLE, "node", "--listen", "127.0.0.1:0", "--no-mdns", "--link-latency-ms",
                                   "1", "--link-jitter-ms", "2"},
                                  std::chrono::seconds(20), test::secret_env());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("jitter 2 ms is larger than the latency 1 ms"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace baton
