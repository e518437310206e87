// Nodes trust only the coordinator's manifest: a cached shard whose metadata was edited is
// fetched again rather than served (wrong text) or failing to load forever, and a node's
// own model copy corrupted where its quick identity hash does not look (past the first
// 8 MiB, before the last 1 MiB) is not used. Real processes on loopback.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "local_cluster.h"
#include "model/gguf.h"
#include "node/model_identity.h"

namespace baton {
namespace {

namespace fs = std::filesystem;
using test::LocalCluster;
using test::NodeSpec;

constexpr int kTokens = 16;
const std::string kPrompt = "In the beginning";
const std::vector<std::string> kArgs = {"--wire", "f32", "--ctx", "128"};

std::string model(const char* dtype) { return std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m." + dtype + ".gguf"; }

std::vector<fs::path> cached_shards(const std::string& node_cache) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(node_cache) / "shards"))
    if (e.path().extension() == ".gguf") out.push_back(e.path());
  return out;
}

// Rewrites a GGUF file with one metadata value changed (tensors untouched).
void edit_metadata(const fs::path& path, const std::string& key, GgufValue value) {
  GgufWriter w;
  {
    GgufFile f = GgufFile::open(path.string());
    for (const auto& [k, v] : f.metadata()) w.set(k, k == key ? value : v);
    for (const GgufTensor& t : f.tensors()) w.add_tensor(t.name, t.dims, t.dtype, {t.data, t.data + t.nbytes});
  }
  w.write(path.string());
}

TEST(DataIntegrity, CachedShardsWithEditedMetadataAreFetchedAgain) {
  const std::string cache = test::temp_dir("integrity-cache");
  const std::vector<NodeSpec> no_model(2, test::node_without_model());
  std::string reference;
  {
    LocalCluster cluster(model("q8_0"), no_model, kArgs, cache);
    ASSERT_TRUE(cluster.ok()) << cluster.error();
    reference = cluster.submit({kPrompt}, kTokens).value("text", std::string("<none>"));
  }
  ASSERT_FALSE(reference.empty());
  // Node 0's shard now says RoPE turns differently (loads fine, would give other text);
  // node 1's has head counts that do not divide (would fail to load, every time).
  const auto shard0 = cached_shards(cache + "/node0"), shard1 = cached_shards(cache + "/node1");
  ASSERT_EQ(shard0.size(), 1u);
  ASSERT_EQ(shard1.size(), 1u);
  edit_metadata(shard0[0], "llama.rope.freq_base", GgufValue{GgufType::F32, 3.0});
  edit_metadata(shard1[0], "llama.attention.head_count_kv", GgufValue{GgufType::U32, uint64_t{3}});

  LocalCluster again(model("q8_0"), no_model, kArgs, cache);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again.submit({kPrompt}, kTokens).value("text", std::string("<none>")), reference);
  for (size_t i = 0; i < 2; ++i) {
    again.node(i).wait(std::chrono::milliseconds(100));
    const std::string log = again.node(i).err();
    EXPECT_NE(log.find("does not match the coordinator's model (its metadata differs"), std::string::npos) << log;
    EXPECT_NE(log.find("fetched and verified"), std::string::npos) << log;
  }
}

// Where the bytes of `name` start in the file.
size_t tensor_file_offset(const std::vector<char>& bytes, const GgufTensor& t) {
  const auto* first = reinterpret_cast<const char*>(t.data);
  const auto it = std::search(bytes.begin(), bytes.end(), first, first + std::min<uint64_t>(t.nbytes, 4096));
  return static_cast<size_t>(it - bytes.begin());
}

TEST(DataIntegrity, OwnCopyCorruptedOutsideTheIdentityWindowsIsNotUsed) {
  const std::string clean = model("f32");  // ~20 MB: room between the identity hash's windows
  const std::string dir = test::temp_dir("integrity-own");
  const std::string corrupt = dir + "/corrupt.gguf";
  std::vector<char> bytes;
  {
    std::ifstream in(clean, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Flip a byte in the middle of a tensor that lies wholly between the windows.
  std::string victim;
  {
    GgufFile f = GgufFile::open(clean);
    for (const GgufTensor& t : f.tensors()) {
      const size_t at = tensor_file_offset(bytes, t);
      if (at >= (8u << 20) && at + t.nbytes + (1u << 20) <= bytes.size() && t.nbytes > 4096) {
        bytes[at + t.nbytes / 2] ^= 0x40;
        victim = t.name;
        break;
      }
    }
  }
  ASSERT_FALSE(victim.empty());
  {
    std::ofstream out(corrupt, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  ASSERT_EQ(model_file_hash(corrupt), model_file_hash(clean)) << "the quick identity cannot tell them apart";

  std::string reference;
  {
    LocalCluster cluster(clean, {NodeSpec{}}, kArgs, dir + "/clean");
    ASSERT_TRUE(cluster.ok()) << cluster.error();
    reference = cluster.submit({kPrompt}, kTokens).value("text", std::string("<none>"));
  }
  LocalCluster cluster(clean, {test::node_without_model({"--model", corrupt})}, kArgs, dir + "/corrupt");
  ASSERT_TRUE(cluster.ok()) << cluster.error();
  EXPECT_EQ(cluster.submit({kPrompt}, kTokens).value("text", std::string("<none>")), reference);
  cluster.node(0).wait(std::chrono::milliseconds(100));
  const std::string log = cluster.node(0).err();
  EXPECT_NE(log.find("does not match the coordinator's: tensor '" + victim + "' has different bytes"), std::string::npos)
      << log;
  EXPECT_NE(log.find("fetched and verified"), std::string::npos) << log;
}

// The verification of a node's own copy is remembered per file identity: a restart hashes
// nothing, a changed file (its status-change time moves) is hashed again.
TEST(DataIntegrity, OwnCopyVerificationIsRememberedUntilTheFileChanges) {
  const std::string dir = test::temp_dir("integrity-remember");
  const std::string copy = dir + "/model.gguf";
  fs::copy_file(model("q8_0"), copy);
  auto run_once = [&] {
    LocalCluster cluster(copy, {NodeSpec{}}, kArgs, dir + "/cache");
    EXPECT_TRUE(cluster.ok()) << cluster.error();
    if (!cluster.ok()) return std::string();
    EXPECT_FALSE(cluster.submit({kPrompt}, 4).value("text", std::string()).empty());
    cluster.node(0).wait(std::chrono::milliseconds(100));
    return cluster.node(0).err();
  };
  const std::regex counts(R"(own model copy matches the coordinator's manifest: (\d+) tensors hashed, (\d+) already verified)");
  std::smatch m;
  const std::string first = run_once();
  ASSERT_TRUE(std::regex_search(first, m, counts)) << first;
  EXPECT_GT(std::stoi(m[1]), 0);
  EXPECT_EQ(std::stoi(m[2]), 0);
  const std::string second = run_once();
  ASSERT_TRUE(std::regex_search(second, m, counts)) << second;
  EXPECT_EQ(std::stoi(m[1]), 0);
  EXPECT_GT(std::stoi(m[2]), 0);
  fs::permissions(copy, fs::perms::owner_exec, fs::perm_options::add);  // moves the change time only
  const std::string third = run_once();
  ASSERT_TRUE(std::regex_search(third, m, counts)) << third;
  EXPECT_GT(std::stoi(m[1]), 0);
  EXPECT_EQ(std::stoi(m[2]), 0);
}

// Node names are whatever people call their devices: checked once where they enter, then
// they work everywhere (plan, status, metrics).
TEST(DataIntegrity, PrintableUtf8NodeNamesWorkEndToEnd) {
  const std::string bob = "Bob's phone", kitchen = "K\xC3\xBC" "che \xF0\x9F\x8D\xB3 tablet";
  const std::string dir = test::temp_dir("integrity-names");
  std::vector<std::unique_ptr<ChildProcess>> nodes;
  std::string peers;
  for (const std::string& name : {bob, kitchen}) {
    nodes.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{BATON_EXECUTABLE, "node", "--listen", "127.0.0.1:0", "--name", name, "--threads", "1",
                                 "--no-mdns", "--model", model("q8_0"), "--cache-dir", dir + "/" + std::to_string(nodes.size())},
        test::secret_env()));
    auto m = nodes.back()->wait_for_line(std::regex(R"(\(port (\d+)\))"), std::chrono::seconds(20));
    ASSERT_TRUE(m) << nodes.back()->err();
    peers += (peers.empty() ? "" : ",") + std::string("127.0.0.1:") + std::string((*m)[1]);
  }
  ChildProcess coordinator({BATON_EXECUTABLE, "coordinator", "--peers", peers, "--model", model("q8_0"), "--listen",
                            "127.0.0.1:0", "--no-mdns", "--http", "127.0.0.1:0", "--wire", "f32", "--ctx", "128"},
                           test::secret_env());
  ASSERT_TRUE(coordinator.wait_for_line(std::regex(R"(coordinator ready on .*\(port (\d+)\))"), std::chrono::seconds(120)))
      << coordinator.err();
  auto h = coordinator.wait_for_line(std::regex(R"(HTTP API on http://[^:]+:(\d+))"), std::chrono::seconds(10));
  ASSERT_TRUE(h);
  httplib::Client http("127.0.0.1", std::stoi((*h)[1]));
  http.set_read_timeout(60, 0);
  const auto done = http.Post("/v1/completions", R"({"prompt": "In the beginning", "max_tokens": 4})", "application/json");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200) << done->body;
  const auto status = http.Get("/v1/cluster");
  ASSERT_TRUE(status);
  EXPECT_NE(status->body.find("Bob's phone"), std::string::npos) << status->body;
  EXPECT_NE(status->body.find(kitchen), std::string::npos) << status->body;

  // What cannot be a name is refused at the door with the reason.
  const RunResult bad = run_command({BATON_EXECUTABLE, "node", "--name", "tab\tname", "--no-mdns"}, std::chrono::seconds(10),
                                    test::secret_env());
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("--name: node name contains a control character"), std::string::npos) << bad.err;
  const RunResult invalid = run_command({BATON_EXECUTABLE, "node", "--name", "bad\xFFutf8", "--no-mdns"},
                                        std::chrono::seconds(10), test::secret_env());
  EXPECT_EQ(invalid.code, 1);
  EXPECT_NE(invalid.err.find("not printable UTF-8"), std::string::npos) << invalid.err;
}

}  // namespace
}  // namespace baton
