// `baton simulate FILE`: what would this cluster of devices do? Starts a real local cluster
// shaped like the devices in a cluster file (configs/clusters/*.toml), runs its workload,
// and prints the measurement next to the planner's prediction (tools/simulate/).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "model/synth.h"
#include "tools/commands.h"
#include "tools/default_model.h"
#include "tools/simulate/cluster_file.h"
#include "tools/simulate/runner.h"
#include "tools/simulate/svg.h"

namespace baton::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;


struct SimulateArgs {
  std::string file;
  std::string devices;
  std::string out;
  std::string strategy;
  std::vector<std::string> compare;
  std::vector<std::string> speculative;  // on, off, lookup, draft: one run each
  std::string draft;                     // --draft for the coordinator
  std::string time_scale = "auto";
  int requests = 0;
  int max_tokens = 0;
  bool json = false;
  bool quiet = false;
};

std::string default_devices_dir(const std::string& cluster_file) {
  const fs::path beside = fs::path(cluster_file).parent_path() / ".." / "devices";
  if (fs::is_directory(beside)) return fs::weakly_canonical(beside).string();
  return (fs::path(BATON_SOURCE_DIR) / "configs" / "devices").string();
}

DType synth_dtype(const std::string& name) {
  if (name == "f32") return DType::F32;
  if (name == "f16") return DType::F16;
  if (name == "q4_0") return DType::Q4_0;
  return DType::Q8_0;
}

// The draft model shipped for the default model, next to it; empty for any other model.
std::string shipped_draft_for(const std::string& model_path) {
  const fs::path model(model_path);
  if (model.filename().string().rfind("baton-kjv-5m.", 0) != 0) return {};
  const fs::path draft = model.parent_path() / "baton-kjv-draft-1m.q8_0.gguf";
  return fs::exists(draft) ? draft.string() : std::string();
}

std::string resolve_sim_model(const sim::ClusterSpec& spec, const std::string& cluster_file) {
  if (spec.model.path) {
    const fs::path p = fs::path(*spec.model.path).is_absolute() ? fs::path(*spec.model.path)
                                                                : fs::path(cluster_file).parent_path() / *spec.model.path;
    if (!fs::exists(p)) {
      throw std::runtime_error(fmt::format("{}: model.path: '{}' does not exist (paths are relative to the cluster file)",
                                           cluster_file, p.string()));
    }
    return p.string();
  }
  if (spec.model.synth) {
    const fs::path path = fs::path(cache_dir()) / fmt::format("baton-synth-{}-{}.gguf", *spec.model.synth, spec.model.dtype);
    if (!fs::exists(path)) {
      fmt::print(stderr, "simulate: synthesising a {} model ({}) into {}\n", *spec.model.synth, spec.model.dtype,
                 path.string());
      fs::create_directories(path.parent_path());
      SynthOptions opt;
      opt.size = *spec.model.synth;
      opt.dtype = synth_dtype(spec.model.dtype);
      synth_model(opt).write(path.string());
    }
    return path.string();
  }
  return resolve_model(std::nullopt);
}

double parse_time_scale(const std::string& text) {
  if (text == "auto") return 0;
  size_t used = 0;
  double v = -1;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !(v >= 1) || v > 1000) {
    throw std::invalid_argument(fmt::format("--time-scale '{}': expected 'auto' or a number in [1, 1000]", text));
  }
  return v;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
}

int run_simulate(const SimulateArgs& a) {
  const std::string devices = a.devices.empty() ? default_devices_dir(a.file) : a.devices;
  const sim::ProfileCatalog catalog = sim::load_profile_catalog(devices);
  sim::ClusterSpec spec = sim::load_cluster_file(a.file, catalog);
  if (a.requests > 0) {
    spec.workload.requests = a.requests;
    spec.workload.concurrency = std::min(spec.workload.concurrency, a.requests);
  }
  if (a.max_tokens > 0) spec.workload.max_tokens = a.max_tokens;

  std::vector<Strategy> strategies;
  for (const std::string& s : a.compare) {
    auto parsed = parse_strategy(s);
    if (!parsed) throw std::invalid_argument(fmt::format("--compare: '{}' is not a strategy (memory, latency)", s));
    strategies.push_back(*parsed);
  }
  if (strategies.empty()) {
    std::optional<Strategy> chosen = a.strategy.empty() ? spec.strategy : parse_strategy(a.strategy);
    if (!chosen) throw std::invalid_argument(fmt::format("--strategy '{}': expected memory or latency", a.strategy));
    strategies.push_back(*chosen);
  }

  char scratch[] = "/tmp/baton-simulate-XXXXXX";
  if (!mkdtemp(scratch)) throw std::runtime_error("cannot create a scratch folder in /tmp");
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{scratch};

  sim::RunOptions options;
  options.baton_exe = fs::read_symlink("/proc/self/exe").string();
  options.model_path = resolve_sim_model(spec, a.file);
  options.work_dir = scratch;
  options.cluster_label = fs::path(a.file).filename().string();
  options.time_scale = parse_time_scale(a.time_scale);
  options.quiet = a.quiet;
  const std::string draft = a.draft.empty() ? shipped_draft_for(options.model_path) : a.draft;
  if (draft.empty() && std::find(a.speculative.begin(), a.speculative.end(), "draft") != a.speculative.end()) {
    std::cerr << "baton: --speculative draft needs a draft model: add --draft MODEL.gguf (same vocabulary as the "
                 "cluster's model)\n";
    return 2;
  }

  std::vector<sim::RunReport> runs;
  try {
    // Each strategy once per speculative mode asked for (none: the coordinator's default).
    const std::vector<std::string> modes = a.speculative.empty() ? std::vector<std::string>{""} : a.speculative;
    for (Strategy s : strategies) {
      for (const std::string& mode : modes) {
        options.speculative = mode;
        // The shipped draft serves `draft` only; one named with --draft serves `on` too.
        options.draft_model = mode == "draft" || (mode == "on" && !a.draft.empty()) ? draft : std::string();
        runs.push_back(sim::run_simulation(spec, s, options));
      }
    }
  } catch (const NoPlanError& e) {
    std::cerr << "baton: " << e.what() << "\n";
    return kExitNoPlan;
  }

  const std::vector<sim::SpeculativeEntry> speculative =
      a.speculative.empty() ? std::vector<sim::SpeculativeEntry>{} : sim::speculative_entries(runs);
  auto report_json = [&] {
    json j = runs.size() == 1 ? sim::to_json(runs.front()) : json{{"runs", json::array()}};
    if (runs.size() > 1) {
      for (const auto& r : runs) j["runs"].push_back(sim::to_json(r));
    }
    if (!speculative.empty()) j["speculative"] = sim::to_json(speculative);
    return j;
  };
  if (a.json) {
    fmt::print("{}\n", report_json().dump(2));
  } else {
    for (const auto& r : runs) fmt::print("\n{}", sim::render_table(r));
    if (runs.size() > 1) fmt::print("{}", sim::render_comparison(runs));
    if (!speculative.empty()) fmt::print("{}", sim::render_speculative(speculative));
  }
  if (!a.out.empty()) {
    fs::create_directories(a.out);
    const json j = report_json();
    write_file(fs::path(a.out) / "report.json", j.dump(2) + "\n");
    write_file(fs::path(a.out) / "timeline.svg", sim::timeline_svg(runs.front()));
    write_file(fs::path(a.out) / "bars.svg", sim::bars_svg(runs.front()));
    if (runs.size() > 1) {
      for (const auto& r : runs) {
        write_file(fs::path(a.out) / fmt::format("timeline-{}.svg", r.strategy), sim::timeline_svg(r));
        write_file(fs::path(a.out) / fmt::format("bars-{}.svg", r.strategy), sim::bars_svg(r));
      }
    }
    if (!a.json) fmt::print("\nwrote {}/report.json, timeline.svg, bars.svg\n", a.out);
  }
  return 0;
}

}  // namespace

void register_simulate(CLI::App& app, CommandRunner& runner) {
  auto a = std::make_shared<SimulateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "simulate", "Run a cluster file's devices as a local cluster (shaped links, paced compute) and compare with the plan");
  cmd->add_option("file", a->file, "Cluster file (configs/clusters/*.toml)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--devices", a->devices, "Folder of device profiles (default: configs/devices)");
  cmd->add_option("--out", a->out, "Write report.json, timeline.svg and bars.svg into this folder");
  cmd->add_option("--strategy", a->strategy, "Planner strategy, overriding the file's: memory or latency")
      ->check(CLI::IsMember({"memory", "latency"}));
  cmd->add_option("--compare", a->compare, "Run each strategy and show them side by side (e.g. memory,latency)")
      ->delimiter(',');
  cmd->add_option("--speculative", a->speculative,
                  "Run with speculative decoding in each mode and show them side by side (e.g. off,on or "
                  "off,lookup,draft): decode tokens/s, acceptance, and whether the greedy text is the same as off; "
                  "report.json gets a 'speculative' list")
      ->delimiter(',')
      ->check(CLI::IsMember({"on", "off", "lookup", "draft"}));
  cmd->add_option("--draft", a->draft,
                  "Draft model for the coordinator (--speculative draft, or on; default: the draft shipped for the "
                  "default model, when the cluster runs that model)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--time-scale", a->time_scale,
                  "Run N times slower than the simulated cluster, scaling figures back ('auto': just slow enough "
                  "that every device can be paced; 1: real time, devices faster than this machine run unpaced)")
      ->capture_default_str();
  cmd->add_option("--requests", a->requests, "Override the workload's number of requests")->check(CLI::Range(1, 10000));
  cmd->add_option("--max-tokens", a->max_tokens, "Override the workload's tokens per request")->check(CLI::Range(1, 4096));
  cmd->add_flag("--json", a->json, "Print the report as JSON instead of tables");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress lines");
  cmd->callback([a, &runner] { runner = [a] { return run_simulate(*a); }; });
}

}  // namespace baton::cli
