// `baton-soak`: issue 14's hostile load and fault trials against a real local cluster,
// printing what held. A measuring tool like the benchmarks in tools/bench: it asserts
// nothing in the test suite and its figures go into notes, not into tests.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "tools/default_model.h"
#include "tools/soak/fault_trials.h"
#include "tools/soak/hostile_load.h"

namespace {

namespace fs = std::filesystem;

// `baton` next to this executable (both are built into the build folder's root).
std::string sibling_baton() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("baton") : (self.parent_path() / "baton").string();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Hostile load and fault trials against a local baton cluster (loopback only); prints what held"};
  app.require_subcommand(1);
  baton::soak::SoakClusterOptions cluster;
  std::optional<std::string> model;
  cluster.baton = sibling_baton();
  cluster.work_dir = (fs::temp_directory_path() / fmt::format("baton-soak-{}", getpid())).string();
  app.add_option("--baton", cluster.baton, "The baton executable")->capture_default_str();
  app.add_option("-m,--model", model, "GGUF model (default: the shipped model)");
  app.add_option("--work-dir", cluster.work_dir, "Scratch folder (caches, ready files); removed afterwards")
      ->capture_default_str();

  baton::soak::HostileLoadOptions hostile;
  CLI::App* h = app.add_subcommand("hostile", "Idle connections and slow HTTP clients while a client streams");
  h->add_option("--nodes", cluster.nodes, "Nodes in the cluster")->check(CLI::Range(1, 8))->capture_default_str();
  h->add_option("--idle", hostile.idle_connections, "Idle TCP connections held against node 0")
      ->check(CLI::Range(0, 60000))->capture_default_str();
  h->add_option("--slow-http", hostile.slow_http_clients, "Slow HTTP clients held against the coordinator")
      ->check(CLI::Range(0, 10000))->capture_default_str();
  h->add_option("--joins", hostile.joins, "Legitimate joins timed (quiet, then under load)")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  h->add_option("-n,--max-tokens", hostile.max_tokens, "Tokens streamed")->check(CLI::Range(1, 4096))->capture_default_str();
  h->add_option("--rounds", hostile.rounds, "Measurements under load, one after the other (stream, joins, /health)")
      ->check(CLI::Range(1, 100000))->capture_default_str();

  baton::soak::FaultTrialOptions faults;
  CLI::App* f = app.add_subcommand("faults", "Seeded SIGKILL/SIGSTOP of a stage mid-stream; the text must not change");
  int fault_nodes = 3;
  f->add_option("--nodes", fault_nodes, "Nodes in each trial's cluster")->check(CLI::Range(2, 8))->capture_default_str();
  f->add_option("--trials", faults.trials, "Trials")->check(CLI::Range(1, 10000))->capture_default_str();
  f->add_option("--seed", faults.seed, "Seed of the faults (which stage, which signal, when)")->capture_default_str();
  f->add_option("--wire", cluster.wire, "Activation wire (f32, f16, int8, each optionally +zstd)")->capture_default_str();
  f->add_option("-n,--max-tokens", faults.max_tokens, "Tokens streamed per trial")
      ->check(CLI::Range(2, 4096))->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  // Quiet processes (their logs are read only when something fails) that notice a frozen
  // peer quickly: the trials wait for heartbeats, not for TCP.
  cluster.node_args = {"--log-level", "warn", "--heartbeat-ms", "100"};
  cluster.coordinator_args = {"--log-level", "warn", "--heartbeat-ms", "300", "--heartbeat-misses", "3"};
  int status = 0;
  try {
    cluster.model = baton::cli::resolve_model(model);
    if (h->parsed()) {
      baton::soak::SoakCluster running(cluster);
      const baton::soak::HostileLoadReport report = baton::soak::run_hostile_load(running, hostile);
      fmt::print("{}", baton::soak::render(report));
      status = baton::soak::targets_held(report) ? 0 : 3;
    } else {
      cluster.nodes = fault_nodes;
      fmt::print(stderr, "unfaulted run of {} nodes on the {} wire...\n", cluster.nodes, cluster.wire);
      const std::string reference = baton::soak::unfaulted_text(cluster, faults);
      const auto trials = baton::soak::run_fault_trials(cluster, faults, reference);
      fmt::print("{}", baton::soak::render(trials));
      for (const auto& t : trials) status = t.identical ? status : 3;
    }
  } catch (const std::exception& e) {
    std::cerr << "baton-soak: error: " << e.what() << "\n";
    status = 1;
  }
  std::error_code ignored;
  fs::remove_all(cluster.work_dir, ignored);
  return status;
}
