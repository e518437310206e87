// The HTTP API's doors on a real coordinator: API keys (OpenAI-shaped 401s; /health and the
// page stay open), CORS for the configured origin only, and an abandoned non-streaming
// request that stops generating when its client hangs up.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "local_cluster.h"

namespace baton {
namespace {

using nlohmann::json;

const std::string kOrigin = "http://app.example";

class HttpDoors : public test::SharedClusterSuite<HttpDoors> {
 public:
  static std::unique_ptr<test::LocalCluster> start() {
    const std::string dir = test::temp_dir("http-doors");
    std::ofstream(dir + "/keys") << "# the kitchen tablet\nkey-from-file\n";
    return std::unique_ptr<test::LocalCluster>(new test::LocalCluster(
        std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf", std::vector<test::NodeSpec>(1),
        {"--ctx", "4096", "--api-key", "key-one", "--api-key-file", dir + "/keys", "--cors-origin", kOrigin}, dir));
  }

 protected:
  httplib::Client client(const std::string& key = "") {
    httplib::Client c("127.0.0.1", cluster_->http_port());
    c.set_read_timeout(60, 0);
    if (!key.empty()) c.set_bearer_token_auth(key);
    return c;
  }
};

TEST_F(HttpDoors, KeysGuardEverythingButHealthAndThePage) {
  auto open = client();
  for (const char* path : {"/health", "/", "/app.js", "/style.css"}) {
    auto r = open.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
  }
  for (const char* path : {"/v1/models", "/v1/cluster", "/metrics", "/v1/nothing"}) {
    auto r = open.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 401) << path;
    const json j = json::parse(r->body);
    EXPECT_EQ(j["error"]["code"], "invalid_api_key") << path;
    EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  }
  auto wrong = client("wrong").Post("/v1/completions", R"({"prompt": "x", "max_tokens": 2})", "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  for (const char* key : {"key-one", "key-from-file"}) {
    auto r = client(key).Post("/v1/completions", R"({"prompt": "In the beginning", "max_tokens": 2})", "application/json");
    ASSERT_TRUE(r) << key;
    EXPECT_EQ(r->status, 200) << key << ": " << r->body;
  }
}

TEST_F(HttpDoors, CorsForTheConfiguredOriginOnly) {
  auto c = client();
  auto preflight = c.Options("/v1/chat/completions", {{"Origin", kOrigin},
                                                      {"Access-Control-Request-Method", "POST"},
                                                      {"Access-Control-Request-Headers", "authorization,content-type"}});
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Origin"), kOrigin);
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Headers"), "authorization,content-type");
  auto other = c.Options("/v1/chat/completions",
                         {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403);
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
  auto models = client("key-one").Get("/v1/models", {{"Origin", kOrigin}});
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  EXPECT_EQ(models->get_header_value("Access-Control-Allow-Origin"), kOrigin);
}

TEST_F(HttpDoors, AbandonedNonStreamingRequestIsCancelled) {
  auto c = client("key-one");
  auto cluster_json = [&] {
    auto r = c.Get("/v1/cluster");
    return r && r->status == 200 ? json::parse(r->body) : json();
  };
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(cluster_->http_port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  // Greedy text from this prompt repeats rather than ending: it would fill the context.
  const std::string body = json{{"prompt", "And God said"}, {"max_tokens", 4000}, {"temperature", 0}}.dump();
  const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-one\r\n"
                          "Content-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  auto wait_for_active = [&](int n) {  // a generous bound for a loaded machine, not a speed check
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (cluster_json()["sessions"]["active"] != n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return cluster_json()["sessions"]["active"] == n;
  };
  ASSERT_TRUE(wait_for_active(1)) << "the long request should be generating";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::close(fd);
  ASSERT_TRUE(wait_for_active(0)) << "the session did not end after the client hung up";
  const json last = cluster_json()["last_request"];
  ASSERT_TRUE(last.is_object());
  EXPECT_LT(last["completion_tokens"].get<int>(), 3000) << "the abandoned request ran to its end";
}

}  // namespace
}  // namespace baton
