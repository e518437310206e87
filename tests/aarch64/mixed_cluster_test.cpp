// A cluster that mixes architectures: the static aarch64 `baton node` under qemu-user, an
// x86 node and an x86 coordinator, real processes on loopback. Over the f32 wire the
// greedy text must equal `baton run` on x86: the NEON kernels and the aarch64 build of the
// model's plain C++ compute the same bits as the x86 ones, and the wire format is the same
// on both. Once with the aarch64 node first (-cpu max: dotprod kernels, it embeds the
// prompt) and once last (-cpu cortex-a53: base NEON, it runs the head and samples).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "../integration/local_cluster.h"

namespace baton {
namespace {

using test::LocalCluster;
using test::NodeSpec;

constexpr int kTokens = 20;
const std::vector<std::string> kPrompts = {"And God said", "The LORD is my shepherd"};

std::string model_path() { return std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf"; }

// qemu-user from PATH (either of Debian's packages), or empty.
std::string find_qemu() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    for (const char* name : {"qemu-aarch64-static", "qemu-aarch64"}) {
      const auto candidate = std::filesystem::path(dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return {};
}

class MixedCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    qemu_ = find_qemu();
    if (qemu_.empty()) GTEST_SKIP() << "qemu-aarch64 not installed (./setup.sh --aarch64 installs it)";
    if (::access(BATON_AARCH64_BATON, X_OK) != 0) {
      GTEST_SKIP() << "no aarch64 baton at " << BATON_AARCH64_BATON << " (run tools/cross/build-aarch64.sh)";
    }
  }

  // The aarch64 node at `arm_position` (0: first stage, 1: last) of two, under -cpu `cpu`.
  void expect_same_text_as_x86(const std::string& cpu, size_t arm_position) {
    std::vector<std::string> reference;
    for (const auto& p : kPrompts) reference.push_back(test::single_node_continuation(model_path(), p, kTokens));

    // Equal memory offers, so the memory planner gives each node half of the layers; the
    // compute figures are given rather than measured (emulation measures nothing real).
    const std::vector<std::string> offer = {"--memory", "512", "--gflops", "10", "--bandwidth", "10"};
    NodeSpec arm{.with_model = true, .extra = offer, .command = {qemu_, "-cpu", cpu, BATON_AARCH64_BATON},
                 .start_bound = std::chrono::seconds(120)};
    NodeSpec x86{.with_model = true, .extra = offer, .command = {}};
    std::vector<NodeSpec> nodes = arm_position == 0 ? std::vector<NodeSpec>{arm, x86} : std::vector<NodeSpec>{x86, arm};
    LocalCluster cluster(model_path(), nodes, {"--wire", "f32", "--ctx", "256"},
                         test::temp_dir("mixed-" + cpu));
    ASSERT_TRUE(cluster.ok()) << cluster.error();

    const std::string arm_name = "node" + std::to_string(arm_position);
    const std::string& node_log = cluster.node(arm_position).err();
    EXPECT_NE(node_log.find(cpu == "max" ? "neon-dotprod kernels" : "neon kernels"), std::string::npos)
        << "the aarch64 node should say which kernels it runs: " << node_log;
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      const auto j = cluster.submit({kPrompts[i]}, kTokens);
      EXPECT_EQ(j.value("text", std::string("<none>")), reference[i])
          << "aarch64 node under -cpu " << cpu << " at stage " << arm_position << ", prompt '" << kPrompts[i] << "'";
    }
    // Both nodes held layers: the text came through the aarch64 one.
    const std::string& plan_log = cluster.coordinator().err();
    for (const std::string name : {"node0", "node1"}) {
      EXPECT_TRUE(std::regex_search(plan_log, std::regex(name + R"( holds layers \[\d+, \d+\))")))
          << name << " should hold layers: " << plan_log;
    }
  }

  std::string qemu_;
};

TEST_F(MixedCluster, Aarch64DotprodNodeFirstGivesTheX86Text) { expect_same_text_as_x86("max", 0); }

TEST_F(MixedCluster, Aarch64BaseNeonNodeLastGivesTheX86Text) { expect_same_text_as_x86("cortex-a53", 1); }

}  // namespace
}  // namespace baton
