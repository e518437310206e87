// A coordinator stopped while a request streams: its sessions end, their threads are
// joined, the client's stream ends, and the process exits cleanly and promptly (no thread
// left running after the objects it uses are gone).
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "tests/integration/local_cluster.h"

namespace baton::test {
namespace {

std::string model_path() { return std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf"; }

TEST(Shutdown, StopsWithAStreamInFlightAndExitsCleanly) {
  LocalCluster cluster(model_path(), {{}, {}}, {"--wire", "f32"}, temp_dir("shutdown"));
  ASSERT_TRUE(cluster.ok()) << cluster.error();
  std::atomic<int> chunks{0};
  std::atomic<bool> stream_ended{false};
  std::thread client([&] {
    httplib::Client cli("127.0.0.1", cluster.http_port());
    cli.set_read_timeout(60, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.set_header("Content-Type", "application/json");
    req.body = R"({"prompt":"In the beginning","max_tokens":100000,"temperature":0,"stream":true})";
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      ++chunks;
      return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    cli.send(req, res, err);
    stream_ended = true;
  });
  // Wait (bounded) until tokens flow, then stop the coordinator mid-stream.
  for (int i = 0; i < 600 && chunks.load() < 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GE(chunks.load(), 5) << "no tokens streamed: " << cluster.coordinator().err();
  cluster.coordinator().signal(SIGINT);
  const std::optional<int> code = cluster.coordinator().wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.has_value()) << "the coordinator did not exit after SIGINT";
  EXPECT_EQ(*code, 0) << cluster.coordinator().err();
  EXPECT_EQ(cluster.coordinator().err().find("terminate called"), std::string::npos) << cluster.coordinator().err();
  client.join();
  EXPECT_TRUE(stream_ended.load());
}

}  // namespace
}  // namespace baton::test
