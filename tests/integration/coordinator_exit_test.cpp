// A coordinator killed mid-generation: `baton submit` says so clearly, and the stages drop
// its sessions' KV caches when its connections close.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <thread>

#include "local_cluster.h"

namespace baton {
namespace {

using nlohmann::json;

std::unique_ptr<test::LocalCluster> two_nodes(const std::string& name) {
  return std::make_unique<test::LocalCluster>(std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf",
                                              std::vector<test::NodeSpec>(2),
                                              std::vector<std::string>{"--ctx", "2048"}, test::temp_dir(name));
}

// Waits (bounded) until the node's log says it dropped the coordinator's sessions.
bool node_dropped_sessions(ChildProcess& node) {
  for (int i = 0; i < 100; ++i) {
    node.wait(std::chrono::milliseconds(50));  // collects its log
    if (node.err().find("the coordinator's connection closed: dropping its 1 session(s)") != std::string::npos) return true;
  }
  return false;
}

TEST(CoordinatorExit, SubmitSaysTheCoordinatorWentAwayWhenItIsKilled) {
  auto cluster = two_nodes("exit-kill");
  ASSERT_TRUE(cluster->ok()) << cluster->error();
  ChildProcess submit({BATON_EXECUTABLE, "submit", "--coordinator", cluster->address(), "-n", "1500", "--temp", "0",
                       "And God said"},
                      test::secret_env());
  // Once text flows, the coordinator dies without a word.
  for (int i = 0; i < 1200 && submit.out().empty(); ++i) submit.wait(std::chrono::milliseconds(50));
  ASSERT_FALSE(submit.out().empty()) << submit.err();
  cluster->coordinator().signal(SIGKILL);
  const auto code = submit.wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  EXPECT_NE(submit.err().find("went away before the reply was complete"), std::string::npos)
      << submit.err();
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(node_dropped_sessions(cluster->node(i))) << cluster->node(i).err();
}

}  // namespace
}  // namespace baton
