// Starts `baton node` processes and a `baton coordinator` on loopback (ports picked by the
// OS) and runs `baton submit` against them. Everything is bounded in time.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "tools/child_process.h"

namespace baton::test {
using baton::ChildProcess;
using baton::run_command;
using baton::RunResult;

inline const std::string kSecret = "integration-secret";
inline std::vector<std::string> secret_env() { return {"BATON_SECRET=" + kSecret}; }

// Waits for `needle` to appear in the process's stderr: true once it has, false when the
// process exits without it or `bound` passes. The bound is generous (a loaded 2-core
// machine); tests wait for events, never assert how long they took.
inline bool wait_for_stderr(ChildProcess& p, const std::string& needle,
                            std::chrono::milliseconds bound = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (p.err().find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (p.wait(std::chrono::milliseconds(100))) return p.err().find(needle) != std::string::npos;
  }
  return true;
}

inline std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::path(BATON_BINARY_DIR) / "test-tmp" / (name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// What `baton run --prompt` (this build, greedy, two threads) prints after echoing the
// prompt: the single-node reference a cluster's text is compared with.
inline std::string single_node_continuation(const std::string& model, const std::string& prompt, int tokens) {
  const auto r = run_command({BATON_EXECUTABLE, "run", "--model", model, "--prompt", prompt, "--temp", "0",
                              "--repeat-penalty", "1", "-n", std::to_string(tokens), "--threads", "2"},
                             std::chrono::seconds(120));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(prompt, 0), 0u) << "baton run should echo the prompt first";
  return r.out.substr(std::min(prompt.size(), r.out.size()));
}

struct NodeSpec {
  bool with_model = true;
  std::vector<std::string> extra;
  // What runs `baton` for this node; empty: this build's. E.g. qemu-user and an aarch64
  // build for a cluster that mixes architectures.
  std::vector<std::string> command;
  // How long the node may take to print its port (an emulated one starts slower).
  std::chrono::seconds start_bound{20};
};

// A node started without a GGUF of its own (it fetches its layers from the coordinator).
inline NodeSpec node_without_model(std::vector<std::string> extra = {}) {
  NodeSpec spec;
  spec.with_model = false;
  spec.extra = std::move(extra);
  return spec;
}

class LocalCluster {
 public:
  LocalCluster(const std::string& model, const std::vector<NodeSpec>& nodes, std::vector<std::string> coordinator_args,
               const std::string& cache_dir) {
    std::string peers;
    for (size_t i = 0; i < nodes.size(); ++i) {
      std::vector<std::string> argv = nodes[i].command;
      if (argv.empty()) argv.push_back(BATON_EXECUTABLE);
      argv.insert(argv.end(), {"node", "--listen", "127.0.0.1:0", "--name", "node" + std::to_string(i), "--threads",
                               "1", "--no-mdns", "--cache-dir", cache_dir + "/node" + std::to_string(i)});
      if (nodes[i].with_model) argv.insert(argv.end(), {"--model", model});
      argv.insert(argv.end(), nodes[i].extra.begin(), nodes[i].extra.end());
      nodes_.push_back(std::make_unique<ChildProcess>(argv, secret_env()));
      auto m = nodes_.back()->wait_for_line(std::regex(R"(\(port (\d+)\))"), nodes[i].start_bound);
      if (!m) {
        error_ = "node " + std::to_string(i) + " did not start: " + nodes_.back()->err();
        return;
      }
      ports_.push_back((*m)[1]);
      peers += (peers.empty() ? "" : ",") + std::string("127.0.0.1:") + ports_.back();
    }
    std::vector<std::string> argv = {BATON_EXECUTABLE, "coordinator", "--peers", peers, "--model", model,
                                     "--listen", "127.0.0.1:0", "--no-mdns", "--http", "127.0.0.1:0"};
    argv.insert(argv.end(), coordinator_args.begin(), coordinator_args.end());
    coordinator_ = std::make_unique<ChildProcess>(argv, secret_env());
    auto m = coordinator_->wait_for_line(std::regex(R"(coordinator ready on .*\(port (\d+)\))"), std::chrono::seconds(120));
    if (!m) {
      coordinator_->wait(std::chrono::seconds(2));
      error_ = "coordinator did not become ready: " + coordinator_->err();
      return;
    }
    address_ = "127.0.0.1:" + std::string((*m)[1]);
    auto h = coordinator_->wait_for_line(std::regex(R"(HTTP API on http://[^:]+:(\d+))"), std::chrono::seconds(10));
    if (h) http_port_ = std::stoi((*h)[1]);
  }

  int http_port() const { return http_port_; }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& address() const { return address_; }
  ChildProcess& node(size_t i) { return *nodes_[i]; }
  ChildProcess& coordinator() { return *coordinator_; }

  // Greedy completion through the cluster; returns the parsed JSON summary.
  nlohmann::json submit(const std::vector<std::string>& prompt_args, int max_tokens) {
    std::vector<std::string> args = {"--temp", "0", "--repeat-penalty", "1", "-n", std::to_string(max_tokens)};
    args.insert(args.end(), prompt_args.begin(), prompt_args.end());
    return submit_with(args);
  }

  // `baton submit --json` with these arguments (sampling flags and prompt).
  nlohmann::json submit_with(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BATON_EXECUTABLE, "submit", "--coordinator", address_, "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    const RunResult r = run_command(argv, std::chrono::seconds(120), secret_env());
    EXPECT_EQ(r.code, 0) << r.err;
    try {
      return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "submit printed no JSON: " << r.out << " / " << r.err;
      return {};
    }
  }

 private:
  std::vector<std::unique_ptr<ChildProcess>> nodes_;
  std::vector<std::string> ports_;
  std::unique_ptr<ChildProcess> coordinator_;
  std::string address_;
  int http_port_ = 0;
  std::string error_;
};

// A test suite whose tests share one cluster with the HTTP API on (started once, stopped
// after the last test). Derived supplies `static std::unique_ptr<LocalCluster> start()`.
template <typename Derived>
class SharedClusterSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = Derived::start().release(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(cluster_->ok()) << cluster_->error();
    ASSERT_GT(cluster_->http_port(), 0);
  }
  static inline LocalCluster* cluster_ = nullptr;
};

}  // namespace baton::test
