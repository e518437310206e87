// POST /v1/embeddings through a two-stage cluster (f32 wire): every vector equals the one
// the whole model computes in this process, bit for bit, in floats and in base64; inputs
// of several prefill frames pool across them; what cannot be embedded is a 400.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cstring>

#include "local_cluster.h"
#include "model/generation.h"
#include "model/local_backend.h"
#include "model/model.h"

namespace baton {
namespace {

using nlohmann::json;

std::string model_path() { return std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf"; }

// Long enough for two prefill frames of 64 tokens.
const std::string kLongText =
    "In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness "
    "was upon the face of the deep. And the Spirit of God moved upon the face of the waters. And God said, Let there "
    "be light: and there was light. And God saw the light, that it was good: and God divided the light from the "
    "darkness. And God called the light Day, and the darkness he called Night.";

class Embeddings : public test::SharedClusterSuite<Embeddings> {
 public:
  static std::unique_ptr<test::LocalCluster> start() {
    return std::unique_ptr<test::LocalCluster>(new test::LocalCluster(
        model_path(), std::vector<test::NodeSpec>(2), {"--wire", "f32", "--ctx", "256"}, test::temp_dir("embeddings")));
  }

 protected:
  void SetUp() override {
    SharedClusterSuite::SetUp();
    model_ = Model::open(model_path());
  }

  std::pair<int, json> post(const json& body) {
    httplib::Client c("127.0.0.1", cluster_->http_port());
    c.set_read_timeout(60, 0);
    auto r = c.Post("/v1/embeddings", body.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return {0, nullptr};
    return {r->status, json::parse(r->body)};
  }

  // The whole model in this process, with the coordinator's frame size (64 rows) and the
  // nodes' KV cache type.
  std::vector<float> local_embedding(const std::vector<int32_t>& ids) {
    LocalBackend local(model_->transformer(), DType::F16, 256, nullptr);
    Generator gen(local, model_->tokenizer());
    return gen.embed(ids, 64);
  }
  std::vector<int32_t> ids_of(const std::string& text) { return model_->tokenizer().encode(text, true, false); }

  std::unique_ptr<Model> model_;
};

std::vector<float> floats_of(const json& array) { return array.get<std::vector<float>>(); }

std::vector<float> floats_of_base64(const std::string& text) {
  // Decoded by hand here (not by the code under test): RFC 4648 alphabet, '=' padding.
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<uint8_t> bytes;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const size_t v = alphabet.find(c);
    if (v == std::string::npos) {
      ADD_FAILURE() << "not base64: " << c;
      return {};
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);  // little-endian float32, as on this machine
  return out;
}

TEST_F(Embeddings, EveryVectorIsTheSingleProcessOneBitForBit) {
  const std::vector<std::string> texts = {"And God said", kLongText, "Blessed are the meek"};
  ASSERT_GT(ids_of(kLongText).size(), 64u) << "the long text should take two frames";
  const auto [status, body] = post({{"model", "baton-kjv-5m.q8_0"}, {"input", texts}});
  ASSERT_EQ(status, 200) << body.dump();
  ASSERT_EQ(body["data"].size(), texts.size());
  int64_t tokens = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = ids_of(texts[i]);
    tokens += static_cast<int64_t>(ids.size());
    EXPECT_EQ(body["data"][i]["index"], i);
    const std::vector<float> got = floats_of(body["data"][i]["embedding"]);
    EXPECT_EQ(got.size(), static_cast<size_t>(model_->hparams().dim));
    EXPECT_EQ(got, local_embedding(ids)) << "input " << i;
  }
  EXPECT_EQ(body["usage"]["prompt_tokens"], tokens);
}

TEST_F(Embeddings, Base64AndTokenArraysGiveTheSameVectors) {
  const auto ids = ids_of("The LORD is my shepherd");
  const auto [status, body] = post({{"input", json::array({ids, "The LORD is my shepherd"})}, {"encoding_format", "base64"}});
  ASSERT_EQ(status, 200) << body.dump();
  const std::vector<float> reference = local_embedding(ids);
  EXPECT_EQ(floats_of_base64(body["data"][0]["embedding"].get<std::string>()), reference);
  EXPECT_EQ(floats_of_base64(body["data"][1]["embedding"].get<std::string>()), reference);
}

TEST_F(Embeddings, WhatCannotBeEmbeddedIsRefusedAndTheClusterCarriesOn) {
  EXPECT_EQ(post({{"input", ""}}).first, 400);
  EXPECT_EQ(post({{"input", json::array({1, 999999})}}).first, 400) << "an id beyond the vocabulary";
  EXPECT_EQ(post({{"input", "x"}, {"model", "gpt-4o"}}).first, 404);
  std::string too_long;
  for (int i = 0; i < 300; ++i) too_long += "light ";
  const auto [status, body] = post({{"input", too_long}});
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["code"], "context_length_exceeded") << body.dump();
  // A completion still works after the embeddings (the slots' caches stay consistent).
  const json done = cluster_->submit({"And God said"}, 8);
  EXPECT_FALSE(done.value("text", std::string()).empty()) << done.dump();
}

}  // namespace
}  // namespace baton
