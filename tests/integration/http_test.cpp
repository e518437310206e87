// The OpenAI-compatible HTTP API of a real coordinator with 2 node processes: streamed
// and non-streamed replies agree, concurrent requests equal sequential ones (greedy), and
// bad requests get 4xx with an OpenAI-style error naming the field.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <future>
#include <map>
#include <set>
#include <sstream>

#include "local_cluster.h"

namespace baton {
namespace {

using nlohmann::json;

class HttpApi : public test::SharedClusterSuite<HttpApi> {
 public:
  static std::unique_ptr<test::LocalCluster> start() {
    return std::unique_ptr<test::LocalCluster>(new test::LocalCluster(
        std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf",
        std::vector<test::NodeSpec>(2), {"--wire", "int8+zstd", "--ctx", "256"},
        test::temp_dir("http")));
  }

 protected:
  httplib::Result post(const std::string& path, const std::string& body) {
    httplib::Client c("127.0.0.1", cluster_->http_port());
    c.set_read_timeout(60, 0);
    return c.Post(path.c_str(), body, "application/json");
  }

  // Concatenates the text of an SSE stream; checks it ends with [DONE].
  std::string streamed_text(const std::string& path, json body, std::string* finish) {
    body["stream"] = true;
    auto r = post(path, body.dump());
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, 200);
    std::istringstream lines(r->body);
    std::string line, text;
    bool done = false;
    while (std::getline(lines, line)) {
      if (line.rfind("data: ", 0) != 0) continue;
      const std::string data = line.substr(6);
      if (data == "[DONE]") {
        done = true;
        continue;
      }
      const json chunk = json::parse(data);
      const json& choice = chunk["choices"][0];
      if (choice.contains("delta") && choice["delta"].contains("content")) text += choice["delta"]["content"].get<std::string>();
      if (choice.contains("text")) text += choice["text"].get<std::string>();
      if (!choice["finish_reason"].is_null()) *finish = choice["finish_reason"];
    }
    EXPECT_TRUE(done) << "stream must end with data: [DONE]";
    return text;
  }

};

TEST_F(HttpApi, ModelsAndHealth) {
  httplib::Client c("127.0.0.1", cluster_->http_port());
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto m = c.Get("/v1/models");
  ASSERT_TRUE(m);
  const json j = json::parse(m->body);
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["data"][0]["id"], "baton-kjv-5m.q8_0");
}

TEST_F(HttpApi, StreamedChatEqualsNonStreamed) {
  const json body = {{"messages", {{{"role", "system"}, {"content", "You answer briefly."}},
                                   {{"role", "user"}, {"content", "Tell me a fortune."}}}},
                     {"max_tokens", 24},
                     {"temperature", 0}};
  auto r = post("/v1/chat/completions", body.dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  const std::string text = j["choices"][0]["message"]["content"];
  EXPECT_FALSE(text.empty());
  EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), 5);
  std::string finish;
  EXPECT_EQ(streamed_text("/v1/chat/completions", body, &finish), text);
  EXPECT_EQ(finish, j["choices"][0]["finish_reason"]);
}

TEST_F(HttpApi, CompletionMatchesSingleNodeAndHonoursLengthAndStop) {
  const auto run = run_command({BATON_EXECUTABLE, "run", "--prompt", "And God said", "--temp", "0", "--repeat-penalty",
                                "1", "-n", "12"},
                               std::chrono::seconds(60));
  ASSERT_EQ(run.code, 0) << run.err;
  const std::string reference = run.out.substr(std::string("And God said").size());
  auto r = post("/v1/completions", json{{"prompt", "And God said"}, {"max_tokens", 12}, {"temperature", 0}}.dump());
  ASSERT_TRUE(r);
  const json j = json::parse(r->body);
  EXPECT_EQ(j["choices"][0]["text"], reference);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 12);
  // A stop string cuts the text before it and ends with finish_reason "stop".
  const std::string stop = reference.substr(reference.size() / 2, 2);
  r = post("/v1/completions", json{{"prompt", "And God said"}, {"max_tokens", 12}, {"temperature", 0}, {"stop", stop}}.dump());
  ASSERT_TRUE(r);
  const json s = json::parse(r->body);
  EXPECT_EQ(s["choices"][0]["text"], reference.substr(0, reference.find(stop)));
  EXPECT_EQ(s["choices"][0]["finish_reason"], "stop");
}

// Prompt cache: a repeated prompt sends only its last token (its KV stayed on the
// stages) and gives the same text; a chat's second turn sends only what follows the
// first turn.
// (Speculation off: the counts below are of fed tokens, one per forward; drafts would
// travel too.)
TEST_F(HttpApi, RepeatedPromptsAndChatTurnsSendOnlyTheirNewTokens) {
  std::string prompt;
  for (int i = 0; i < 12; ++i) prompt += "And God said, Let there be light: and there was light. ";
  const json body = {{"prompt", prompt}, {"max_tokens", 8}, {"temperature", 0}, {"speculative", false}};
  auto first = post("/v1/completions", body.dump());
  auto second = post("/v1/completions", body.dump());
  ASSERT_TRUE(first && second);
  const json a = json::parse(first->body), b = json::parse(second->body);
  EXPECT_EQ(b["choices"][0]["text"], a["choices"][0]["text"]);
  const int prompt_tokens = b["usage"]["prompt_tokens"];
  ASSERT_GT(prompt_tokens, 100);
  EXPECT_EQ(b["baton"]["cached_tokens"], prompt_tokens - 1);
  EXPECT_EQ(a["baton"]["tokens_sent"].get<int>() - b["baton"]["tokens_sent"].get<int>(),
            prompt_tokens - 1 - a["baton"]["cached_tokens"].get<int>());
  EXPECT_EQ(b["baton"]["tokens_sent"], b["usage"]["completion_tokens"]) << "the last prompt token, then each fed token";

  json chat = {{"messages", json::array({{{"role", "user"}, {"content", "Tell me a fortune."}}})},
               {"max_tokens", 12}, {"temperature", 0}, {"speculative", false}};
  auto turn1 = post("/v1/chat/completions", chat.dump());
  ASSERT_TRUE(turn1);
  const json t1 = json::parse(turn1->body);
  chat["messages"].push_back({{"role", "assistant"}, {"content", t1["choices"][0]["message"]["content"]}});
  chat["messages"].push_back({{"role", "user"}, {"content", "And another."}});
  auto turn2 = post("/v1/chat/completions", chat.dump());
  ASSERT_TRUE(turn2);
  const json t2 = json::parse(turn2->body);
  EXPECT_GE(t2["baton"]["cached_tokens"].get<int>(), t1["usage"]["prompt_tokens"].get<int>());
  EXPECT_LT(t2["baton"]["tokens_sent"].get<int>(),
            t2["usage"]["prompt_tokens"].get<int>() - t1["usage"]["prompt_tokens"].get<int>() +
                t2["usage"]["completion_tokens"].get<int>());
}

TEST_F(HttpApi, ConcurrentRequestsEqualSequentialOnes) {
  const std::vector<std::string> prompts = {"In the beginning", "Blessed are the", "A day without sunshine", "You will"};
  auto ask = [&](const std::string& p) {
    auto r = post("/v1/completions", json{{"prompt", p}, {"max_tokens", 16}, {"temperature", 0}}.dump());
    return r && r->status == 200 ? json::parse(r->body)["choices"][0]["text"].get<std::string>() : std::string("<failed>");
  };
  std::vector<std::string> sequential;
  for (const auto& p : prompts) sequential.push_back(ask(p));
  std::vector<std::future<std::string>> parallel;
  for (const auto& p : prompts) parallel.push_back(std::async(std::launch::async, ask, p));
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(parallel[i].get(), sequential[i]) << prompts[i];
}

TEST_F(HttpApi, SubmitOverHttpStreamsTheSameTextAsTheApi) {
  const std::string url = "http://127.0.0.1:" + std::to_string(cluster_->http_port());
  auto r = post("/v1/completions", json{{"prompt", "Blessed are the"}, {"max_tokens", 14}, {"temperature", 0}}.dump());
  ASSERT_TRUE(r);
  const std::string expected = json::parse(r->body)["choices"][0]["text"];
  const auto streamed = run_command({BATON_EXECUTABLE, "submit", "--url", url, "Blessed are the", "-n", "14", "--temp", "0",
                                     "--repeat-penalty", "1"},
                                    std::chrono::seconds(60));
  ASSERT_EQ(streamed.code, 0) << streamed.err;
  EXPECT_EQ(streamed.out, expected + "\n");
  EXPECT_NE(streamed.err.find("14 generated, length"), std::string::npos) << streamed.err;
  const auto as_json = run_command({BATON_EXECUTABLE, "submit", "--url", url, "Blessed are the", "-n", "14", "--temp",
                                    "0", "--repeat-penalty", "1", "--json"},
                                   std::chrono::seconds(60));
  ASSERT_EQ(as_json.code, 0) << as_json.err;
  const json j = json::parse(as_json.out);
  EXPECT_EQ(j["text"], expected);
  EXPECT_EQ(j["completion_tokens"], 14);
  EXPECT_EQ(j["finish_reason"], "length");
  // A refused request surfaces the API's message; nothing listening is said plainly.
  const auto bad = run_command({BATON_EXECUTABLE, "submit", "--url", url, std::string(4000, 'a')}, std::chrono::seconds(30));
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("HTTP 400"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("the context holds 256"), std::string::npos) << bad.err;
  const auto gone = run_command({BATON_EXECUTABLE, "submit", "--url", "127.0.0.1:1", "x"}, std::chrono::seconds(30));
  EXPECT_NE(gone.code, 0);
  EXPECT_NE(gone.err.find("cannot connect to http://127.0.0.1:1"), std::string::npos) << gone.err;
  const auto scheme = run_command({BATON_EXECUTABLE, "submit", "--url", "ftp://127.0.0.1:1", "x"}, std::chrono::seconds(30));
  EXPECT_NE(scheme.code, 0);
  EXPECT_NE(scheme.err.find("'ftp' scheme is not supported"), std::string::npos) << scheme.err;
}

TEST_F(HttpApi, BadRequestsGet4xxNamingTheField) {
  struct Case {
    std::string path, body;
    int status;
    std::string param;
  };
  const std::string long_prompt(4000, 'a');
  const std::vector<Case> cases = {
      {"/v1/completions", "{not json", 400, ""},
      {"/v1/completions", R"({"prompt": "x", "max_tokens": 5e5353})", 400, ""},  // beyond double (found by fuzzing)
      {"/v1/completions", R"({"prompt": "x", "max_tokens": "lots"})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "x", "max_tokens": -1})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "x", "temperature": 7})", 400, "temperature"},
      {"/v1/completions", R"({"prompt": 12})", 400, "prompt"},
      {"/v1/completions", R"({"max_tokens": 3})", 400, "prompt"},
      {"/v1/completions", R"({"model": "gpt-4", "prompt": "x"})", 404, "model"},
      {"/v1/completions", R"({"prompt": [1, 99999]})", 400, "prompt"},
      {"/v1/completions", json{{"prompt", long_prompt}}.dump(), 400, "prompt"},
      {"/v1/chat/completions", R"({"messages": []})", 400, "messages"},
      {"/v1/chat/completions", R"({"messages": [{"role": "wizard", "content": "hi"}]})", 400, "messages[0].role"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": 5}]})", 400, "messages[0].content"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "stream": "yes"})", 400, "stream"},
  };
  for (const auto& c : cases) {
    auto r = post(c.path, c.body);
    ASSERT_TRUE(r) << c.body;
    EXPECT_EQ(r->status, c.status) << c.body << " -> " << r->body;
    const json j = json::parse(r->body);
    ASSERT_TRUE(j.contains("error")) << r->body;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
    if (!c.param.empty()) {
      EXPECT_EQ(j["error"]["param"], c.param) << c.body;
    }
  }
}

TEST_F(HttpApi, OpenAiShapesClientsSend) {
  // Content as text parts and the developer role, as the official client sends them.
  const json parts = {{"messages",
                       {{{"role", "developer"}, {"content", "You answer briefly."}},
                        {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "Tell me"}}, {{"type", "text"}, {"text", "a fortune."}}}}},
                        {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array()}},
                        {{"role", "user"}, {"content", "Go on."}}}},
                      {"max_tokens", 8},
                      {"temperature", 0}};
  auto r = post("/v1/chat/completions", parts.dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const json image = {{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}, {"image_url", {{"url", "data:,"}}}}}}}}}};
  r = post("/v1/chat/completions", image.dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["param"], "messages[0].content[0].type");
  // Invalid UTF-8 is the client's fault, named, not a 500.
  r = post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"\xc3\x28\"}]}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["param"], "messages[0].content");
}

TEST_F(HttpApi, ChoicesDifferAndEachIsReproducible) {
  const json body = {{"prompt", "In the beginning"}, {"max_tokens", 12}, {"temperature", 1.0}, {"seed", 7}, {"n", 3}};
  auto a = post("/v1/completions", body.dump());
  auto b = post("/v1/completions", body.dump());
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->status, 200) << a->body;
  const json ja = json::parse(a->body), jb = json::parse(b->body);
  ASSERT_EQ(ja["choices"].size(), 3u);
  std::set<std::string> texts;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ja["choices"][i]["index"], i);
    EXPECT_EQ(ja["choices"][i]["text"], jb["choices"][i]["text"]) << "choice " << i << " with a seed must repeat";
    texts.insert(ja["choices"][i]["text"].get<std::string>());
  }
  EXPECT_GT(texts.size(), 1u) << "n choices at temperature 1 should not all be the same";
  EXPECT_GT(ja["usage"]["completion_tokens"].get<int>(), 3);  // summed over the choices (12 at most each)
  EXPECT_LE(ja["usage"]["completion_tokens"].get<int>(), 36);
  // Streamed: every choice's chunks carry its index and each ends with a finish reason.
  json streamed = body;
  streamed["stream"] = true;
  auto s = post("/v1/completions", streamed.dump());
  ASSERT_TRUE(s);
  std::istringstream lines(s->body);
  std::string line;
  std::map<int, std::string> by_index;
  std::set<int> finished;
  while (std::getline(lines, line)) {
    if (line.rfind("data: {", 0) != 0) continue;
    const json c = json::parse(line.substr(6));
    const int i = c["choices"][0]["index"];
    by_index[i] += c["choices"][0]["text"].get<std::string>();
    if (!c["choices"][0]["finish_reason"].is_null()) finished.insert(i);
  }
  EXPECT_EQ(finished.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(by_index[i], ja["choices"][i]["text"]) << "choice " << i;
}

TEST_F(HttpApi, ModelsByIdAndUnknownRoutesAnswerJson) {
  httplib::Client c("127.0.0.1", cluster_->http_port());
  auto m = c.Get("/v1/models/baton-kjv-5m.q8_0");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_EQ(json::parse(m->body)["id"], "baton-kjv-5m.q8_0");
  auto other = c.Get("/v1/models/gpt-4o");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  EXPECT_EQ(json::parse(other->body)["error"]["code"], "model_not_found");
  for (const char* path : {"/v1/audio/speech", "/v1/nothing", "/v2"}) {
    auto r = std::string(path) == "/v2" ? c.Get(path) : c.Post(path, "{}", "application/json");
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_TRUE(json::parse(r->body).contains("error")) << path << ": " << r->body;
  }
}

TEST_F(HttpApi, CompressedBodiesAreReadAndUnknownEncodingsRefused) {
  const std::string text = json{{"prompt", "And God said"}, {"max_tokens", 4}, {"temperature", 0}}.dump();
  std::string gz;
  httplib::detail::gzip_compressor z;
  ASSERT_TRUE(z.compress(text.data(), text.size(), true, [&](const char* d, size_t n) {
    gz.append(d, n);
    return true;
  }));
  httplib::Client c("127.0.0.1", cluster_->http_port());
  auto r = c.Post("/v1/completions", httplib::Headers{{"Content-Encoding", "gzip"}}, gz, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  auto br = c.Post("/v1/completions", httplib::Headers{{"Content-Encoding", "br"}}, text, "application/json");
  ASSERT_TRUE(br);
  EXPECT_EQ(br->status, 415);
  EXPECT_EQ(json::parse(br->body)["error"]["code"], "unsupported_encoding");
}

}  // namespace
}  // namespace baton
