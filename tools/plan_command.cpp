// `baton plan`: which device would run which layers, and why. Reads the model's tensor
// table and the device profiles (the only I/O), asks the pure planner for both
// strategies, prints the chosen one as a table and both predictions side by side, or
// everything as JSON with --json.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "model/cost_profile.h"
#include "model/gguf.h"
#include "model/kv_cache.h"
#include "partition/device_profile.h"
#include "partition/plan.h"
#include "tools/commands.h"
#include "tools/default_model.h"

namespace baton::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kMiB = 1024.0 * 1024.0;
constexpr int64_t kDefaultContext = 4096;

struct PlanArgs {
  std::optional<std::string> model;
  std::vector<std::string> devices;
  std::string strategy = "memory";
  int64_t ctx = 0;
  std::string kv_dtype = "f16";
  std::string margin = "5%";
  bool json = false;
};

std::vector<std::string> default_device_files() {
  std::vector<std::string> files;
  for (const char* name : {"phone", "tablet", "pc"}) {
    files.push_back((fs::path(BATON_SOURCE_DIR) / "configs" / "devices" / (std::string(name) + ".toml")).string());
  }
  return files;
}

DeviceProfile read_device_file(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot read device profile: {}", path, ec.message()));
  if (size > kMaxDeviceProfileBytes) {
    throw std::runtime_error(fmt::format("{}: {} bytes is too large for a device profile", path, size));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  return parse_device_profile(text.str(), path);
}

// "5%" -> 5 % of every device's memory; "256" or "256MiB" -> 256 MiB.
SafetyMargin parse_margin(const std::string& text) {
  SafetyMargin margin{0.0, 0.0};
  std::string number = text;
  const bool percent = !number.empty() && number.back() == '%';
  if (percent) number.pop_back();
  if (!percent && number.size() > 3 && number.compare(number.size() - 3, 3, "MiB") == 0) number.resize(number.size() - 3);
  size_t used = 0;
  double value = -1;
  try {
    value = std::stod(number, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != number.size() || !(value >= 0) || (percent && value >= 100) || value > 1e7) {
    throw std::runtime_error(fmt::format("--margin '{}': expected a percentage below 100 (\"5%\") or MiB (\"256\")", text));
  }
  (percent ? margin.fraction : margin.mib) = percent ? value / 100.0 : value;
  return margin;
}

std::string mib(double bytes) { return fmt::format("{:.1f}", bytes / kMiB); }

// Why a stage got its range, in the terms of the strategy that chose it.
std::string why(const Plan& plan, const PlanStage& s, int n_layers) {
  std::string text;
  if (plan.strategy == Strategy::Memory) {
    text = fmt::format("{:.1f}% of memory = {:.2f} layers", s.memory_share * 100, s.memory_share * n_layers);
  } else if (s.compute_bound()) {
    text = fmt::format("compute-bound ({:.2f} ms of arithmetic)", s.compute_ms);
  } else {
    text = fmt::format("memory-bound ({:.2f} ms streaming weights/KV)", s.memory_ms);
  }
  if (s.holds_embed) text += ", +embedding";
  if (s.holds_head) text += ", +head";
  return text;
}

void print_stage_table(const Plan& plan, const std::vector<PlanStage>& stages, int n_layers) {
  fmt::print("  {:<14} {:<7} {:<10} {:>21} {:>6} {:>9} {:>8} {:>8}  {}\n", "device", "kind", "layers",
             "memory used/cap MiB", "share", "stage ms", "link ms", "fits", "why");
  for (const PlanStage& s : stages) {
    fmt::print("  {:<14} {:<7} {:<10} {:>21} {:>5.1f}% {:>9.2f} {:>8.2f} {:>8}  {}\n", s.device_id, s.kind,
               fmt::format("[{}, {})", s.first, s.last), fmt::format("{} / {}", mib(s.total_bytes), mib(s.cap_bytes)),
               100.0 * s.layers() / n_layers, s.stage_ms, s.link_ms, s.fits ? "yes" : "NO", why(plan, s, n_layers));
  }
}

void print_human(const PlanArgs& args, const std::string& model_path, const PlanRequest& request,
                 const Plan& chosen, const Plan& memory, const Plan& latency) {
  const ModelCostProfile& m = request.model;
  fmt::print("Model   {} ({}, {} layers, {} MiB of weights, dim {}, vocab {})\n", model_path, m.architecture,
             m.n_layers, mib(static_cast<double>(m.total_weight_bytes())), m.dim, m.vocab_size);
  const int sliding = m.sliding.sliding_layers();
  fmt::print("Context {} tokens, KV {} ({} MiB for all layers{}), margin {}\n", request.ctx, args.kv_dtype,
             mib(m.kv_bytes(0, m.n_layers, request.ctx, request.kv_dtype)),
             sliding > 0 ? fmt::format("; {} sliding-window layers keep {} positions each", sliding,
                                       m.sliding.sliding_rows(request.ctx))
                         : std::string(),
             args.margin);
  fmt::print("Devices");
  for (const DeviceProfile& d : request.devices) {
    fmt::print(" {} ({}, {} MiB, {:g} GFLOP/s, {:g} GB/s, {:g} ms, {:g} Mbit/s);", d.id, d.kind, d.memory_mib,
               d.compute_gflops, d.memory_bandwidth_gbs, d.link_latency_ms, d.link_bandwidth_mbps);
  }
  fmt::print("\n\nStrategy {}: {}\n", strategy_name(chosen.strategy),
             chosen.strategy == Strategy::Memory
                 ? "layer counts proportional to usable memory, in the order given"
                 : "smallest predicted time per token over splits and device orders");
  if (chosen.feasible) {
    print_stage_table(chosen, chosen.stages, m.n_layers);
    fmt::print("  return hop to the coordinator: {:.2f} ms\n", chosen.return_link_ms);
    fmt::print("  predicted {:.2f} ms per token = {:.2f} tokens/s (decode at position {:.0f}; "
               "share = share of the layers)\n",
               chosen.ms_per_token, chosen.tokens_per_s, chosen.predicted_position);
  } else {
    // The reason is a list of findings separated by "; ": one per line reads better.
    fmt::print("  NO PLAN:\n");
    for (size_t start = 0; start < chosen.reason.size();) {
      const size_t end = std::min(chosen.reason.find("; ", start), chosen.reason.size());
      fmt::print("  - {}\n", chosen.reason.substr(start, end - start));
      start = end + 2;
    }
    if (!chosen.rejected.empty()) {
      fmt::print("  the split that was tried:\n");
      print_stage_table(chosen, chosen.rejected, m.n_layers);
    }
  }
  fmt::print("\nBoth strategies:\n");
  for (const Plan* p : {&memory, &latency}) {
    if (p->feasible) {
      std::string order;
      for (const PlanStage& s : p->stages) order += (order.empty() ? "" : " -> ") + s.device_id;
      fmt::print("  {:<8} {:>8.2f} tokens/s  {:>9.2f} ms/token  {}\n", strategy_name(p->strategy), p->tokens_per_s,
                 p->ms_per_token, order);
    } else {
      fmt::print("  {:<8} does not fit{}\n", strategy_name(p->strategy),
                 p->max_fitting_ctx && *p->max_fitting_ctx > 0
                     ? fmt::format(" (a context of at most {} tokens would)", *p->max_fitting_ctx)
                     : std::string(" at any context"));
    }
  }
}

json stage_json(const PlanStage& s) {
  return {{"device", s.device_id},         {"kind", s.kind},
          {"device_index", s.device_index}, {"first", s.first},
          {"last", s.last},                 {"holds_embed", s.holds_embed},
          {"holds_head", s.holds_head},     {"weight_bytes", s.weight_bytes},
          {"kv_bytes", s.kv_bytes},         {"total_bytes", s.total_bytes},
          {"cap_bytes", s.cap_bytes},       {"fits", s.fits},
          {"memory_share", s.memory_share}, {"compute_ms", s.compute_ms},
          {"memory_ms", s.memory_ms},       {"link_ms", s.link_ms},
          {"stage_ms", s.stage_ms}};
}

json plan_json(const Plan& p) {
  json stages = json::array(), rejected = json::array();
  for (const PlanStage& s : p.stages) stages.push_back(stage_json(s));
  for (const PlanStage& s : p.rejected) rejected.push_back(stage_json(s));
  json out = {{"strategy", std::string(strategy_name(p.strategy))},
              {"feasible", p.feasible},
              {"reason", p.reason},
              {"stages", stages},
              {"rejected", rejected},
              {"ctx", p.ctx},
              {"predicted_position", p.predicted_position},
              {"total_need_bytes", p.total_need_bytes},
              {"total_cap_bytes", p.total_cap_bytes},
              {"max_fitting_ctx", nullptr}};
  if (p.feasible) {
    out["ms_per_token"] = p.ms_per_token;
    out["tokens_per_s"] = p.tokens_per_s;
    out["return_link_ms"] = p.return_link_ms;
  }
  if (p.max_fitting_ctx) out["max_fitting_ctx"] = *p.max_fitting_ctx;
  return out;
}

json request_json(const PlanArgs& args, const std::string& model_path, const PlanRequest& r) {
  const ModelCostProfile& m = r.model;
  json devices = json::array();
  for (const DeviceProfile& d : r.devices) {
    devices.push_back({{"id", d.id},
                       {"kind", d.kind},
                       {"memory_mib", d.memory_mib},
                       {"compute_gflops", d.compute_gflops},
                       {"memory_bandwidth_gbs", d.memory_bandwidth_gbs},
                       {"link_latency_ms", d.link_latency_ms},
                       {"link_bandwidth_mbps", d.link_bandwidth_mbps}});
  }
  return {{"model",
           {{"path", model_path},
            {"architecture", m.architecture},
            {"n_layers", m.n_layers},
            {"layer_weight_bytes", m.layer_weight_bytes},
            {"embed_bytes", m.embed_bytes},
            {"head_bytes", m.head_bytes},
            {"tied_output", m.tied_shared_bytes > 0},
            {"total_weight_bytes", m.total_weight_bytes()},
            {"kv_bytes_per_token_per_layer", m.kv_bytes_per_token_per_layer(r.kv_dtype)},
            {"dim", m.dim},
            {"vocab_size", m.vocab_size}}},
          {"ctx", r.ctx},
          {"kv_dtype", args.kv_dtype},
          {"margin", {{"fraction", r.margin.fraction}, {"mib", r.margin.mib}}},
          {"devices", devices}};
}

int run_plan(const PlanArgs& args) {
  const std::string model_path = resolve_model(args.model);
  PlanRequest request;
  request.model = cost_profile_from_gguf(GgufFile::open(model_path));
  const std::vector<std::string> files = args.devices.empty() ? default_device_files() : args.devices;
  for (const std::string& file : files) request.devices.push_back(read_device_file(file));
  const int64_t ctx_train = request.model.ctx_train;
  request.ctx = args.ctx > 0 ? args.ctx : (ctx_train > 0 ? std::min(ctx_train, kDefaultContext) : kDefaultContext);
  if (ctx_train > 0 && request.ctx > ctx_train) {
    fmt::print(stderr, "note: context {} is longer than the {} tokens the model was trained with\n", request.ctx,
               ctx_train);
  }
  request.kv_dtype = parse_kv_dtype(args.kv_dtype);
  request.margin = parse_margin(args.margin);
  if (std::string problem = validate_request(request); !problem.empty()) {
    throw std::runtime_error("cannot plan: " + problem);
  }

  const Plan memory = plan_memory(request);
  const Plan latency = plan_latency(request);
  const Strategy strategy = *parse_strategy(args.strategy);
  const Plan& chosen = strategy == Strategy::Memory ? memory : latency;
  if (args.json) {
    json out = {{"request", request_json(args, model_path, request)},
                {"strategy", args.strategy},
                {"plan", plan_json(chosen)},
                {"plans", {{"memory", plan_json(memory)}, {"latency", plan_json(latency)}}}};
    std::cout << out.dump(2) << "\n";
  } else {
    print_human(args, model_path, request, chosen, memory, latency);
  }
  return chosen.feasible ? 0 : kExitNoPlan;
}

}  // namespace

void register_plan(CLI::App& app, CommandRunner& runner) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* cmd = app.add_subcommand("plan", "Show which device would run which layers, and the predicted speed");
  cmd->footer(fmt::format(
      "Devices are TOML profiles (see configs/devices/); without --devices: phone, tablet and pc.\n"
      "Exit status: 0 a plan fits, {} no plan fits (the reason is printed), 1 bad input.",
      kExitNoPlan));
  cmd->add_option("-m,--model", args->model, "GGUF model file (default: the shipped model)");
  cmd->add_option("-d,--devices", args->devices, "Device profile files, in pipeline order (comma-separated)")
      ->delimiter(',');
  cmd->add_option("-s,--strategy", args->strategy, "Which plan to show in full")
      ->check(CLI::IsMember({"memory", "latency"}))
      ->capture_default_str();
  cmd->add_option("-c,--ctx", args->ctx, "Context length to reserve KV cache for (0: model's, at most 4096)")
      ->check(CLI::Range(int64_t{0}, kMaxPlanContext))
      ->capture_default_str();
  cmd->add_option("--kv-dtype", args->kv_dtype, "KV cache type")
      ->check(CLI::IsMember({"f16", "q8_0", "int8", "f32"}))
      ->capture_default_str();
  cmd->add_option("--margin", args->margin, "Memory kept free per device: a percentage (\"5%\") or MiB (\"256\")")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print the plans as JSON");
  cmd->callback([&runner, args] { runner = [args] { return run_plan(*args); }; });
}

}  // namespace baton::cli
