// A node that dies (SIGKILL: its connections break) or stops answering (SIGSTOP: a phone
// gone to sleep; only its ZeroMQ heartbeats stopping tell) in the middle of a generation: the coordinator re-plans over the nodes left, replays the
// session's history onto them and carries on. The client sees a pause, not an error,
// and the greedy text is the same as an uninterrupted run (f32 wire: bit-exact).
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <functional>
#include <thread>

#include "local_cluster.h"
#include "transport/sse_reader.h"

namespace baton {
namespace {

using nlohmann::json;

// Greedy, this prompt runs to max_tokens without an end-of-sequence token, long enough
// that the node is lost well before the end.
const json kRequest = {{"prompt", "And God said"}, {"max_tokens", 1500}, {"temperature", 0}};

struct Streamed {
  std::string text, finish;
  int status = 0;
};

// Streams kRequest; calls `on_first_chunk` once the generation is under way.
Streamed stream(int port, const std::function<void()>& on_first_chunk) {
  json body = kRequest;
  body["stream"] = true;
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  Streamed out;
  SseReader sse;
  bool first = true;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    for (const std::string& event : sse.feed(std::string_view(data, n))) {
      if (event == "[DONE]") continue;
      const json chunk = json::parse(event);
      out.text += chunk["choices"][0]["text"].get<std::string>();
      if (!chunk["choices"][0]["finish_reason"].is_null()) out.finish = chunk["choices"][0]["finish_reason"];
    }
    if (first) {
      first = false;
      on_first_chunk();
    }
    return true;
  };
  auto r = c.send(req);
  out.status = r ? r->status : -1;
  return out;
}

std::string complete(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  auto r = c.Post("/v1/completions", kRequest.dump(), "application/json");
  return r && r->status == 200 ? json::parse(r->body)["choices"][0]["text"].get<std::string>() : "<failed>";
}

json cluster_view(int port) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/v1/cluster");
  return r && r->status == 200 ? json::parse(r->body) : json();
}

void expect_plan_without(const json& view, const std::string& lost) {
  ASSERT_TRUE(view.is_object());
  int next = 0;
  for (const auto& s : view["plan"]) {
    EXPECT_NE(s["device"], lost) << view;
    EXPECT_EQ(s["first"].get<int>(), next);
    next = s["last"];
  }
  EXPECT_EQ(next, view["model"]["layers"].get<int>()) << "the new plan covers every layer";
}

std::unique_ptr<test::LocalCluster> three_nodes(const std::string& name) {
  std::vector<test::NodeSpec> nodes(3);
  for (auto& n : nodes) n.extra = {"--heartbeat-ms", "100"};
  return std::make_unique<test::LocalCluster>(
      std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf", nodes,
      std::vector<std::string>{"--wire", "f32", "--ctx", "2048", "--heartbeat-ms", "200", "--heartbeat-misses", "3"},
      test::temp_dir(name));
}

TEST(Failover, NodeKilledMidGenerationPausesTheStreamAndTheTextIsUnchanged) {
  auto cluster = three_nodes("failover-kill");
  ASSERT_TRUE(cluster->ok()) << cluster->error();
  const int port = cluster->http_port();
  ASSERT_EQ(cluster_view(port)["plan"].size(), 3u);
  const std::string reference = complete(port);
  ASSERT_NE(reference, "<failed>");

  const Streamed s = stream(port, [&] { cluster->node(1).signal(SIGKILL); });
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.finish, "length");
  EXPECT_EQ(s.text, reference);
  cluster->coordinator().wait_for_line(std::regex("^$never"), std::chrono::milliseconds(200));  // collect its log
  EXPECT_NE(cluster->coordinator().err().find("replaying"), std::string::npos)
      << "the node must have been lost mid-generation:\n" << cluster->coordinator().err();
  const json view = cluster_view(port);
  EXPECT_EQ(view["plan"].size(), 2u) << view;
  expect_plan_without(view, "node1");
  EXPECT_EQ(complete(port), reference) << "later requests run on the new plan";
  httplib::Client c("127.0.0.1", port);
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("baton_session_recoveries_total 1\n"), std::string::npos) << metrics->body;
}

TEST(Failover, NodeThatStopsAnsweringIsDroppedWhenItsZeroMqHeartbeatsStop) {
  auto cluster = three_nodes("failover-stop");
  ASSERT_TRUE(cluster->ok()) << cluster->error();
  const int port = cluster->http_port();
  const std::string reference = complete(port);
  ASSERT_NE(reference, "<failed>");

  // SIGSTOP keeps the node's TCP connections open but it answers nothing, like a phone
  // gone to sleep: only missed heartbeats tell.
  const Streamed s = stream(port, [&] { cluster->node(2).signal(SIGSTOP); });
  cluster->node(2).signal(SIGKILL);  // a stopped process still holds its sockets
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.finish, "length");
  EXPECT_EQ(s.text, reference);
  EXPECT_TRUE(test::wait_for_stderr(cluster->coordinator(), "sent no heartbeat for")) << cluster->coordinator().err();
  expect_plan_without(cluster_view(port), "node2");
}

TEST(Failover, ALostNodeThatAnswersAgainRejoinsThePlanBetweenSessions) {
  auto cluster = three_nodes("failover-rejoin");
  ASSERT_TRUE(cluster->ok()) << cluster->error();
  const int port = cluster->http_port();
  const std::string reference = complete(port);
  ASSERT_NE(reference, "<failed>");
  auto wait_for_stages = [&](size_t n) {
    json view;
    // A generous bound for a loaded machine (heartbeats must be missed first), not a speed check.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      view = cluster_view(port);
      if (view.is_object() && view["plan"].size() == n) return view;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "the plan never got " << n << " stages: " << view;
    return view;
  };
  cluster->node(1).signal(SIGSTOP);  // asleep: idle, the heartbeat notices and re-plans
  expect_plan_without(wait_for_stages(2), "node1");
  cluster->node(1).signal(SIGCONT);  // awake again
  const json back = wait_for_stages(3);
  bool planned = false;
  for (const auto& s : back["plan"]) planned |= s["device"] == "node1";
  EXPECT_TRUE(planned) << back;
  EXPECT_EQ(complete(port), reference);
}

// The default wire quantises activations to int8 at every hop. A failover keeps the
// quantisation points of the plan the session started on (a node taking over a lost range
// round-trips int8 at the old boundary inside it), so the replayed session computes what
// it did before and the greedy text does not change.
std::unique_ptr<test::LocalCluster> three_nodes_int8(const std::string& name, int node_heartbeat_ms = 100) {
  std::vector<test::NodeSpec> nodes(3);
  for (auto& n : nodes) n.extra = {"--heartbeat-ms", std::to_string(node_heartbeat_ms)};
  return std::make_unique<test::LocalCluster>(
      std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf", nodes,
      std::vector<std::string>{"--ctx", "2048", "--heartbeat-ms", "200", "--heartbeat-misses", "3"},  // default wire
      test::temp_dir(name));
}

TEST(Failover, Int8WireNodeKilledMidGenerationKeepsTheGreedyText) {
  for (const size_t victim : {size_t{1}, size_t{0}}) {
    auto cluster = three_nodes_int8("failover-int8-" + std::to_string(victim));
    ASSERT_TRUE(cluster->ok()) << cluster->error();
    const int port = cluster->http_port();
    ASSERT_EQ(cluster_view(port)["plan"].size(), 3u);
    const std::string reference = complete(port);
    ASSERT_NE(reference, "<failed>");
    const Streamed s = stream(port, [&] { cluster->node(victim).signal(SIGKILL); });
    EXPECT_EQ(s.status, 200);
    EXPECT_EQ(s.finish, "length");
    EXPECT_EQ(s.text, reference) << "node" << victim << " killed";
    cluster->coordinator().wait_for_line(std::regex("^$never"), std::chrono::milliseconds(200));
    EXPECT_NE(cluster->coordinator().err().find("activations stay quantised after layers"), std::string::npos)
        << cluster->coordinator().err();
    expect_plan_without(cluster_view(port), "node" + std::to_string(victim));
  }
}

// A node frozen right after a re-plan, before the coordinator heard any heartbeat on its
// new subscription, is caught by the heartbeat clock (which starts at the re-plan), not
// by a two-minute step timeout; the stream completes with the same text. Nodes beat every
// 3 s (allowed silence 9 s) so that the freeze lands before the first beat.
TEST(Failover, NodeFrozenRightAfterAReplanIsDetectedByItsHeartbeats) {
  auto cluster = three_nodes_int8("failover-freeze-after-replan", 3000);
  ASSERT_TRUE(cluster->ok()) << cluster->error();
  const int port = cluster->http_port();
  const std::string reference = complete(port);
  ASSERT_NE(reference, "<failed>");
  std::thread freezer;
  const auto started = std::chrono::steady_clock::now();
  const Streamed s = stream(port, [&] {
    cluster->node(1).signal(SIGKILL);
    freezer = std::thread([&] {
      for (int i = 0; i < 400; ++i) {  // bounded: 20 s
        cluster->coordinator().wait(std::chrono::milliseconds(50));  // collects its log
        if (cluster->coordinator().err().find("pipeline recovered") != std::string::npos) break;
      }
      cluster->node(2).signal(SIGSTOP);
    });
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (freezer.joinable()) freezer.join();
  cluster->node(2).signal(SIGKILL);
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.finish, "length");
  EXPECT_EQ(s.text, reference);
  cluster->coordinator().wait_for_line(std::regex("^$never"), std::chrono::milliseconds(200));
  const std::string log = cluster->coordinator().err();
  EXPECT_NE(log.find("sent no heartbeat for"), std::string::npos) << log;
  // Liveness, not speed: the old clock left it to the 120 s step timeout.
  EXPECT_LT(seconds, 60) << log;
  const json view = cluster_view(port);
  EXPECT_EQ(view["plan"].size(), 1u) << view;
}

}  // namespace
}  // namespace baton
