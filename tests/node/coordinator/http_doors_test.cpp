// Who may pass the HTTP API's doors: API keys, CORS preflights and headers, public paths.
#include "node/coordinator/http_doors.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace baton {
namespace {

std::string header(const DoorVerdict& v, const std::string& name) {
  for (const auto& [n, value] : v.headers) {
    if (n == name) return value;
  }
  return "";
}

DoorPolicy keyed() { return {{"key-one", "key-two"}, {}, {"/health", "/", "/app.js"}}; }

TEST(HttpDoors, NoKeysConfiguredLetsEveryoneIn) {
  const DoorVerdict v = judge_door({}, {"POST", "/v1/chat/completions", "", "", "", ""});
  EXPECT_FALSE(v.status);
  EXPECT_TRUE(v.headers.empty());
}

TEST(HttpDoors, KeysAreRequiredExceptOnPublicPaths) {
  EXPECT_EQ(judge_door(keyed(), {"POST", "/v1/chat/completions", "", "", "", ""}).status, 401);
  EXPECT_EQ(judge_door(keyed(), {"GET", "/v1/cluster", "", "Bearer wrong", "", ""}).status, 401);
  EXPECT_EQ(judge_door(keyed(), {"GET", "/v1/cluster", "", "Bearer key-one-longer", "", ""}).status, 401);
  EXPECT_EQ(judge_door(keyed(), {"GET", "/v1/cluster", "", "Bearer key-on", "", ""}).status, 401);
  EXPECT_EQ(judge_door(keyed(), {"GET", "/v1/cluster", "", "key-one", "", ""}).status, 401);
  EXPECT_FALSE(judge_door(keyed(), {"GET", "/v1/cluster", "", "Bearer key-one", "", ""}).status);
  EXPECT_FALSE(judge_door(keyed(), {"GET", "/v1/models", "", "bearer key-two", "", ""}).status);
  EXPECT_FALSE(judge_door(keyed(), {"GET", "/health", "", "", "", ""}).status);
  EXPECT_FALSE(judge_door(keyed(), {"GET", "/app.js", "", "", "", ""}).status);
  const DoorVerdict refused = judge_door(keyed(), {"GET", "/metrics", "", "", "", ""});
  EXPECT_EQ(refused.error_code, "invalid_api_key");
  EXPECT_NE(refused.error_message.find("Authorization: Bearer"), std::string::npos);
  EXPECT_EQ(header(refused, "WWW-Authenticate"), "Bearer");
}

TEST(HttpDoors, CorsOnlyForConfiguredOrigins) {
  DoorPolicy p = keyed();
  p.cors_origins = {"http://app.example"};
  // A preflight from the configured origin: answered before the key check (browsers send
  // no credentials on preflights).
  const DoorVerdict ok = judge_door(p, {"OPTIONS", "/v1/chat/completions", "http://app.example", "", "POST",
                                        "authorization, content-type"});
  EXPECT_EQ(ok.status, 204);
  EXPECT_EQ(header(ok, "Access-Control-Allow-Origin"), "http://app.example");
  EXPECT_EQ(header(ok, "Access-Control-Allow-Headers"), "authorization, content-type");
  EXPECT_NE(header(ok, "Access-Control-Allow-Methods").find("POST"), std::string::npos);
  // Another origin: refused, and no CORS header that would let the browser read anything.
  const DoorVerdict other = judge_door(p, {"OPTIONS", "/v1/chat/completions", "http://evil.example", "", "POST", ""});
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(header(other, "Access-Control-Allow-Origin"), "");
  // Actual requests: the header for the allowed origin, still behind the key.
  const DoorVerdict get = judge_door(p, {"GET", "/v1/models", "http://app.example", "Bearer key-two", "", ""});
  EXPECT_FALSE(get.status);
  EXPECT_EQ(header(get, "Access-Control-Allow-Origin"), "http://app.example");
  const DoorVerdict no_key = judge_door(p, {"GET", "/v1/models", "http://app.example", "", "", ""});
  EXPECT_EQ(no_key.status, 401);
  EXPECT_EQ(header(no_key, "Access-Control-Allow-Origin"), "http://app.example");  // so the page can read the 401
  EXPECT_EQ(header(judge_door(p, {"GET", "/v1/models", "http://evil.example", "Bearer key-two", "", ""}),
                   "Access-Control-Allow-Origin"),
            "");
  // None configured: no CORS at all.
  EXPECT_EQ(judge_door({}, {"OPTIONS", "/v1/models", "http://app.example", "", "GET", ""}).status, 403);
}

TEST(HttpDoors, KeyFileSkipsCommentsAndRefusesEmptyFiles) {
  const auto dir = std::filesystem::temp_directory_path() / ("doors-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "keys") << "# keys for the kitchen tablet\n\n  first-key  \nsecond-key\n";
    std::ofstream(dir / "empty") << "# nothing\n\n";
  }
  EXPECT_EQ(read_api_key_file((dir / "keys").string()), (std::vector<std::string>{"first-key", "second-key"}));
  EXPECT_THROW(read_api_key_file((dir / "empty").string()), std::runtime_error);
  EXPECT_THROW(read_api_key_file((dir / "missing").string()), std::runtime_error);
  std::filesystem::remove_all(dir);
}

TEST(HttpDoors, LoopbackHosts) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("192.168.1.20"));
  EXPECT_FALSE(is_loopback_host("::"));
}

}  // namespace
}  // namespace baton
