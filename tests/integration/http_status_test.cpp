// The coordinator's status and admission control, on a real coordinator with 2 node
// processes that reserve KV for ONE session: /v1/cluster and /metrics describe what was
// served; a second request waits in the queue and still gets the right answer; past the
// queue bound a request gets 429 with Retry-After; a client that hangs up mid-stream
// cancels its session and every stage frees its KV cache.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <future>
#include <map>
#include <optional>
#include <regex>
#include <thread>

#include "local_cluster.h"

namespace baton {
namespace {

using nlohmann::json;

// Greedy, this prompt runs to max_tokens without an end-of-sequence token (the shipped
// model repeats verses), so the session stays busy for the whole length.
const json kLongRequest = {{"prompt", "And God said"}, {"max_tokens", 1900}, {"temperature", 0}, {"stream", true}};

class HttpStatus : public test::SharedClusterSuite<HttpStatus> {
 public:
  static std::unique_ptr<test::LocalCluster> start() {
    return std::unique_ptr<test::LocalCluster>(new test::LocalCluster(
        std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf",
        std::vector<test::NodeSpec>(2),
        {"--ctx", "2048", "--max-sessions", "1", "--max-queue", "1"},
        test::temp_dir("http-status")));
  }

 protected:
  static httplib::Client client() {
    httplib::Client c("127.0.0.1", cluster_->http_port());
    c.set_read_timeout(60, 0);
    return c;
  }
  static json get_json(const std::string& path) {
    auto r = client().Get(path.c_str());
    EXPECT_TRUE(r) << path;
    if (r) {
      EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    }
    return r && r->status == 200 ? json::parse(r->body) : json();
  }
  static std::string complete(const std::string& prompt, int max_tokens) {
    auto r = client().Post("/v1/completions",
                           json{{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}}.dump(),
                           "application/json");
    return r && r->status == 200 ? json::parse(r->body)["choices"][0]["text"].get<std::string>()
                                 : "<failed: " + (r ? r->body : std::string("no reply")) + ">";
  }
  // Value of one sample line of the Prometheus text ("name{labels} value").
  static double metric(const std::string& text, const std::string& series) {
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }
  // Streams kLongRequest and calls `on_first_chunk` once the first token arrived (the
  // session is then generating); hangs up after it if `hang_up`.
  static void stream_long(const std::function<void()>& on_first_chunk, bool hang_up) {
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = kLongRequest.dump();
    req.set_header("Content-Type", "application/json");
    bool first = true;
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      if (first) {
        first = false;
        on_first_chunk();
        return !hang_up;
      }
      return true;
    };
    auto c = client();
    c.send(req);
    EXPECT_FALSE(first) << "no chunk ever arrived";
  }

};

TEST_F(HttpStatus, ClusterViewShowsNodesPlanAndLastRequest) {
  const std::string text = complete("In the beginning", 12);
  ASSERT_EQ(text.find("<failed"), std::string::npos) << text;
  const json c = get_json("/v1/cluster");
  ASSERT_TRUE(c.is_object());
  const int layers = c["model"]["layers"];
  ASSERT_EQ(c["nodes"].size(), 2u);
  for (const auto& n : c["nodes"]) {
    EXPECT_TRUE(n["online"].get<bool>()) << n;
    EXPECT_TRUE(n["in_plan"].get<bool>()) << n;
    EXPECT_GE(n["rtt_ms"].get<double>(), 0.0);
  }
  // The plan covers [0, layers) with contiguous ranges, embedding first and head last.
  const json& plan = c["plan"];
  ASSERT_EQ(plan.size(), 2u);
  int next = 0;
  for (const auto& s : plan) {
    EXPECT_EQ(s["first"].get<int>(), next);
    next = s["last"];
  }
  EXPECT_EQ(next, layers);
  EXPECT_TRUE(plan.front()["embedding"].get<bool>());
  EXPECT_TRUE(plan.back()["head"].get<bool>());
  const json& last = c["last_request"];
  ASSERT_TRUE(last.is_object()) << c;
  EXPECT_EQ(last["completion_tokens"], 12);
  EXPECT_GT(last["tokens_per_s"].get<double>(), 0.0);
  ASSERT_EQ(last["stages"].size(), 2u);
  for (const auto& s : last["stages"]) {
    EXPECT_GT(s["compute_ms"].get<double>(), 0.0) << s;
    EXPECT_GE(s["transfer_ms"].get<double>(), 0.0) << s;
    EXPECT_GT(s["wire_bytes_per_token"].get<double>(), 0.0) << s;
  }
  EXPECT_EQ(c["sessions"]["active"], 0);
  EXPECT_EQ(c["sessions"]["max"], 1);
  // The first decode steps as they travelled: every stamp after the one before it (all
  // processes here share one clock).
  const json& trace = last["trace"];
  ASSERT_EQ(trace.size(), 11u) << "12 tokens: the first from the prompt, 11 decode steps";
  for (const auto& step : trace) {
    double t = step["sent_ms"];
    ASSERT_EQ(step["stages"].size(), 2u);
    for (const auto& s : step["stages"]) {
      EXPECT_GE(s["received_ms"].get<double>(), t) << step;
      EXPECT_GE(s["sent_ms"].get<double>(), s["received_ms"].get<double>()) << step;
      EXPECT_GE(s["sent_ms"].get<double>() - s["received_ms"].get<double>(), s["compute_ms"].get<double>() - 1e-3)
          << "compute happens between arrival and departure: " << step;
      t = s["sent_ms"];
    }
    EXPECT_GE(step["received_ms"].get<double>(), t) << step;
  }
}

TEST_F(HttpStatus, EveryNodesZeroMqHeartbeatReachesTheClusterView) {
  // Nodes publish every 500 ms by default; wait (bounded) until both were heard.
  json c;
  auto heard_all = [&] {
    c = get_json("/v1/cluster");
    for (const auto& n : c["nodes"]) {
      if (n["heartbeat"].is_null()) return false;
    }
    return c["nodes"].size() == 2;
  };
  // Bounded polls for events (generous for a loaded machine), no assertion on timing.
  auto poll = [](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return done();
  };
  ASSERT_TRUE(poll(heard_all)) << c;
  std::map<std::string, uint64_t> first_sequence;
  for (const auto& n : c["nodes"]) {
    const json& hb = n["heartbeat"];
    EXPECT_GT(hb["rss_mib"].get<uint64_t>(), 0u) << n;
    EXPECT_GE(hb["peak_rss_mib"].get<uint64_t>(), hb["rss_mib"].get<uint64_t>()) << n;
    EXPECT_GE(hb["sequence"].get<uint64_t>(), 1u) << n;
    EXPECT_GE(hb["age_ms"].get<int64_t>(), 0) << n;
    first_sequence[n["id"].get<std::string>()] = hb["sequence"].get<uint64_t>();
  }
  // Heartbeats keep coming: every node's sequence moves on.
  EXPECT_TRUE(poll([&] {
    c = get_json("/v1/cluster");
    for (const auto& n : c["nodes"]) {
      if (n["heartbeat"]["sequence"].get<uint64_t>() <= first_sequence[n["id"].get<std::string>()]) return false;
    }
    return true;
  })) << c;
}

TEST_F(HttpStatus, MetricsCountWhatWasServed) {
  auto before = client().Get("/metrics");
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 200);
  EXPECT_NE(before->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  const double generated_before = metric(before->body, "baton_tokens_generated_total");
  const double ttft_before = metric(before->body, "baton_time_to_first_token_seconds_count");
  ASSERT_GE(generated_before, 0) << before->body;
  complete("Blessed are the", 9);
  auto after = client().Get("/metrics");
  ASSERT_TRUE(after);
  const std::string& m = after->body;
  EXPECT_EQ(metric(m, "baton_tokens_generated_total"), generated_before + 9);
  EXPECT_EQ(metric(m, "baton_time_to_first_token_seconds_count"), ttft_before + 1);
  EXPECT_EQ(metric(m, "baton_nodes_up"), 2);
  EXPECT_EQ(metric(m, "baton_sessions_active"), 0);
  EXPECT_EQ(metric(m, "baton_time_to_first_token_seconds_bucket{le=\"+Inf\"}"), ttft_before + 1);
  EXPECT_GT(metric(m, "baton_stage_compute_seconds_total{stage=\"0\",device=\"node0\"}"), 0) << m;
  EXPECT_GT(metric(m, "baton_stage_wire_bytes_total{stage=\"1\",device=\"node1\"}"), 0) << m;
  EXPECT_GT(metric(m, "baton_hop_wire_bytes_per_token{stage=\"0\",device=\"node0\"}"), 0) << m;
}

TEST_F(HttpStatus, QueuedRequestWaitsThenMatchesAndOverflowGets429) {
  const std::string expected = complete("A day without sunshine", 10);
  std::future<std::string> queued;
  std::optional<httplib::Response> rejected;
  json status_while_busy;
  stream_long(
      [&] {
        // One session generates (the KV limit); this one waits in the queue of one ...
        queued = std::async(std::launch::async, [] { return complete("A day without sunshine", 10); });
        for (int i = 0; i < 200 && get_json("/v1/cluster")["sessions"]["queued"] != 1; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        status_while_busy = get_json("/v1/cluster");
        // ... and a third finds the queue full.
        auto r = client().Post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 2}}.dump(), "application/json");
        if (r) rejected = *r;
      },
      /*hang_up=*/true);
  EXPECT_EQ(status_while_busy["sessions"]["active"], 1) << status_while_busy;
  EXPECT_EQ(status_while_busy["sessions"]["queued"], 1) << status_while_busy;
  ASSERT_TRUE(rejected.has_value());
  EXPECT_EQ(rejected->status, 429) << rejected->body;
  ASSERT_TRUE(rejected->has_header("Retry-After"));
  EXPECT_GE(std::stoi(rejected->get_header_value("Retry-After")), 1);
  EXPECT_EQ(json::parse(rejected->body)["error"]["type"], "rate_limit_error");
  ASSERT_TRUE(queued.valid());
  EXPECT_EQ(queued.get(), expected);
}

TEST_F(HttpStatus, HangingUpCancelsTheSessionAndFreesEveryStagesKvCache) {
  const double cancelled_before = metric(client().Get("/metrics")->body, "baton_requests_total{outcome=\"cancelled\"}");
  int sessions_held_while_streaming = 0;
  json while_streaming;
  stream_long(
      [&] {
        while_streaming = get_json("/v1/cluster");
        for (const auto& n : while_streaming["nodes"]) sessions_held_while_streaming += n["sessions"].get<int>();
      },
      /*hang_up=*/true);
  EXPECT_EQ(sessions_held_while_streaming, 2) << "each of the two stages holds the session's KV cache: " << while_streaming;
  // Bounded wait for the coordinator to notice and the stages to drop the caches.
  json c;
  int held = -1;
  for (int i = 0; i < 100; ++i) {
    c = get_json("/v1/cluster");
    held = 0;
    for (const auto& n : c["nodes"]) held += n["sessions"].get<int>();
    if (held == 0 && c["sessions"]["active"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(held, 0) << c;
  EXPECT_EQ(c["sessions"]["active"], 0) << c;
  const std::string m = client().Get("/metrics")->body;
  EXPECT_EQ(metric(m, "baton_requests_total{outcome=\"cancelled\"}"), cancelled_before + 1) << m;
  // The hung-up session did not run to its length: far fewer than 1900 tokens were made.
  EXPECT_LT(c["last_request"].is_object() ? c["last_request"]["completion_tokens"].get<int>() : 0, 1900);
}

TEST(HttpStatusMemory, NodesThatHoldFewerKvCachesLowerTheSessionLimit) {
  // 48 MiB per node holds the model's weights and a few 16k-token KV caches, not eight.
  std::vector<test::NodeSpec> nodes(2);
  for (auto& n : nodes) n.extra = {"--memory", "48"};
  test::LocalCluster cluster(std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf", nodes,
                             {"--ctx", "16384", "--max-sessions", "8"}, test::temp_dir("http-status-memory"));
  ASSERT_TRUE(cluster.ok()) << cluster.error();
  httplib::Client c("127.0.0.1", cluster.http_port());
  auto r = c.Get("/v1/cluster");
  ASSERT_TRUE(r);
  const json j = json::parse(r->body);
  const int max = j["sessions"]["max"];
  EXPECT_GT(max, 1) << j;
  EXPECT_LT(max, 8) << j;
  EXPECT_NE(cluster.coordinator().err().find("serving " + std::to_string(max) + " at once"), std::string::npos)
      << cluster.coordinator().err();
}

}  // namespace
}  // namespace baton
