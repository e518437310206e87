// --ready-file: a node and a coordinator say they serve, and on which ports, in a JSON file
// written whole and removed at exit (what `baton simulate` and supervisors wait on instead
// of log lines); a coordinator that gives up because no plan fits exits with status 2.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "local_cluster.h"
#include "tools/ready_file.h"

namespace baton {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kModel = std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf";

// The ready file's JSON once it exists; nullopt if the process exits first or 60 s pass.
std::optional<json> wait_for_ready_file(ChildProcess& p, const std::string& path) {
  for (int i = 0; i < 600; ++i) {
    if (fs::exists(path)) {
      std::ifstream in(path);
      return json::parse(in);
    }
    if (p.wait(std::chrono::milliseconds(100))) return std::nullopt;
  }
  return std::nullopt;
}

std::unique_ptr<ChildProcess> start_node(const std::string& dir, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{BATON_EXECUTABLE, "node", "--listen", "127.0.0.1:0", "--no-mdns", "--threads", "1",
                                "--model", kModel, "--cache-dir", dir + "/cache", "--ready-file", dir + "/node.ready"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<ChildProcess>(argv, test::secret_env());
}

TEST(ReadyFile, NodeWritesThePortItPrintsAndRemovesTheFileAtExit) {
  const std::string dir = test::temp_dir("ready-node");
  auto node = start_node(dir);
  const auto printed = node->wait_for_line(std::regex(R"(\(port (\d+)\))"), std::chrono::seconds(30));
  ASSERT_TRUE(printed) << node->err();
  const auto facts = wait_for_ready_file(*node, dir + "/node.ready");
  ASSERT_TRUE(facts) << node->err();
  EXPECT_EQ((*facts)["role"], "node");
  EXPECT_EQ((*facts)["port"].get<int>(), std::stoi((*printed)[1]));
  node->signal(SIGTERM);
  ASSERT_TRUE(node->wait(std::chrono::seconds(30)));
  EXPECT_FALSE(fs::exists(dir + "/node.ready"));
}

TEST(ReadyFile, CoordinatorWritesItsHttpPortOnceItServes) {
  const std::string dir = test::temp_dir("ready-coordinator");
  auto node = start_node(dir);
  const auto node_facts = wait_for_ready_file(*node, dir + "/node.ready");
  ASSERT_TRUE(node_facts) << node->err();
  ChildProcess coordinator({BATON_EXECUTABLE, "coordinator", "--peers",
                            "127.0.0.1:" + std::to_string((*node_facts)["port"].get<int>()), "--model", kModel,
                            "--listen", "127.0.0.1:0", "--no-mdns", "--http", "127.0.0.1:0", "--ctx", "256",
                            "--ready-file", dir + "/coordinator.ready"},
                           test::secret_env());
  const auto facts = wait_for_ready_file(coordinator, dir + "/coordinator.ready");
  ASSERT_TRUE(facts) << coordinator.err();
  EXPECT_EQ((*facts)["role"], "coordinator");
  EXPECT_EQ((*facts)["stages"].get<int>(), 1);
  httplib::Client cli("127.0.0.1", (*facts)["http_port"].get<int>());
  cli.set_read_timeout(30, 0);
  const auto health = cli.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(ReadyFile, CoordinatorThatFindsNoPlanGivesUpWithStatusTwoAndWritesNothing) {
  const std::string dir = test::temp_dir("ready-no-plan");
  auto node = start_node(dir, {"--memory", "1"});  // 1 MiB: the 5 MiB model cannot fit
  const auto node_facts = wait_for_ready_file(*node, dir + "/node.ready");
  ASSERT_TRUE(node_facts) << node->err();
  ChildProcess coordinator({BATON_EXECUTABLE, "coordinator", "--peers",
                            "127.0.0.1:" + std::to_string((*node_facts)["port"].get<int>()), "--model", kModel,
                            "--listen", "127.0.0.1:0", "--no-mdns", "--http", "127.0.0.1:0", "--discovery-wait", "2",
                            "--ready-file", dir + "/coordinator.ready"},
                           test::secret_env());
  const auto code = coordinator.wait(std::chrono::seconds(60));
  ASSERT_TRUE(code) << coordinator.err();
  EXPECT_EQ(*code, 2) << coordinator.err();
  EXPECT_NE(coordinator.err().find("no plan fits"), std::string::npos) << coordinator.err();
  EXPECT_FALSE(fs::exists(dir + "/coordinator.ready"));
}

TEST(ReadyFile, TheReaderRefusesWhatIsNotAReadyFileNamingThePath) {
  const std::string dir = test::temp_dir("ready-malformed");
  EXPECT_FALSE(cli::read_ready_file(dir + "/absent.ready").has_value());  // not written yet
  auto refusal = [](const std::string& path) -> std::string {
    try {
      cli::read_ready_file(path);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  const std::string garbage = dir + "/garbage.ready";
  std::ofstream(garbage) << "port=7100";
  EXPECT_NE(refusal(garbage).find("'" + garbage + "' is not a JSON object"), std::string::npos) << refusal(garbage);
  const std::string array = dir + "/array.ready";
  std::ofstream(array) << "[1, 2]";
  EXPECT_NE(refusal(array).find("is not a JSON object"), std::string::npos) << refusal(array);
  const std::string huge = dir + "/huge.ready";
  std::ofstream(huge) << std::string(100 * 1024, ' ') << "{}";
  EXPECT_NE(refusal(huge).find("more than a ready file can"), std::string::npos) << refusal(huge);
}

}  // namespace
}  // namespace baton
