// baton-soak, small: its hostile run keeps the stream's text and every process alive
// under idle connections and slow HTTP clients, and its fault trials (a stage killed or
// frozen mid-stream) end with the unfaulted text. Only outcomes are checked here; the
// tool's timings (join < 100 ms) are for notes, never for the suite.
#include <gtest/gtest.h>

#include <regex>

#include "local_cluster.h"

namespace baton {
namespace {

const std::string kModel = std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf";

TEST(SoakTool, HostileLoadKeepsTheTextAndTheProcesses) {
  const RunResult r = run_command({BATON_SOAK_EXECUTABLE, "--model", kModel, "--work-dir", test::temp_dir("soak-hostile"),
                                   "hostile", "--idle", "300", "--slow-http", "20", "--joins", "2", "-n", "12"},
                                  std::chrono::minutes(3));
  EXPECT_TRUE(r.code == 0 || r.code == 3) << r.out << r.err;  // 3: a timing target missed on a busy machine
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(same text as quiet\s+yes)"))) << r.out << r.err;
  EXPECT_NE(r.out.find("processes alive afterwards: all"), std::string::npos) << r.out << r.err;
  // A legitimate join is never the handshake evicted to make room (a silent one goes
  // first), so none fails, quiet or under the flood.
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(joins failed\s+0\s+0\n)"))) << r.out;
}

TEST(SoakTool, AStageKilledOrFrozenMidStreamLeavesTheTextUnchangedOnTheInt8Wire) {
  const RunResult r = run_command({BATON_SOAK_EXECUTABLE, "--model", kModel, "--work-dir", test::temp_dir("soak-faults"),
                                   "faults", "--trials", "2", "--seed", "7", "-n", "16"},
                                  std::chrono::minutes(4));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2 streams completed, 2 with the unfaulted text"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace baton
