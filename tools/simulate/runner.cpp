#include "tools/simulate/runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "model/cost_profile.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "tools/simulate/host_speed.h"
#include "tools/simulate/prediction.h"
#include "tools/simulate/progress_lines.h"
#include "tools/simulate/simulated_cluster.h"
#include "tools/simulate/workload.h"
#include "transport/activation_frame.h"

namespace baton::sim {

namespace {

namespace fs = std::filesystem;

constexpr int kMaxCalibrationDecode = 32;
constexpr int kPrefillChunk = 64;  // the coordinator's --prefill-chunk here (its default)

// What the planner expects of this cluster before anything runs.
struct Expectation {
  ModelCostProfile cost;
  int64_t context = 0;
  double prompt_tokens = 0;  // mean over the workload's prompts
  double position = 0;       // decode position the prediction is for
  PlanRequest request;
  Plan plan;
};

Expectation predict(const ClusterSpec& spec, Strategy strategy, const RunOptions& options) {
  const Workload& w = spec.workload;
  auto model = Model::open(options.model_path, ModelOpenOptions::without_layers());
  Expectation e;
  e.cost = cost_profile_from_gguf(model->file());
  const int64_t trained = model->hparams().ctx_train > 0 ? model->hparams().ctx_train : 2048;
  e.context = w.context > 0 ? w.context : std::min<int64_t>(trained, 2048);
  for (const std::string& p : w.prompts) {
    const auto ids = model->tokenizer().encode(p, model->tokenizer().add_bos(), false);
    if (static_cast<int64_t>(ids.size()) + w.max_tokens > e.context) {
      throw std::invalid_argument(fmt::format("prompt \"{}\" ({} tokens) + max_tokens {} do not fit the context of {}",
                                              p, ids.size(), w.max_tokens, e.context));
    }
    e.prompt_tokens += static_cast<double>(ids.size());
  }
  e.prompt_tokens /= static_cast<double>(w.prompts.size());
  // Decode runs from the end of the prompt to max_tokens later: predict at the middle.
  e.position = e.prompt_tokens + w.max_tokens / 2.0;
  e.request = plan_request(spec, e.cost, e.context, w.concurrency, wire_bytes_per_element(parse_wire_format(w.wire)));
  e.plan = make_plan(e.request, strategy);
  if (!e.plan.feasible) {
    throw NoPlanError(fmt::format("no plan fits cluster {} ({} strategy): {}", options.cluster_label,
                                  strategy_name(strategy), e.plan.reason));
  }
  return e;
}

// This machine's speed on this model against each device's.
Pacing calibrate(const ClusterSpec& spec, const Expectation& e, const RunOptions& options, ProgressLines& progress) {
  progress.line("measuring this machine on {} (1 thread)...", fs::path(options.model_path).filename().string());
  const int decode = std::clamp(spec.workload.max_tokens, 4, kMaxCalibrationDecode);
  const int prompt_rows = static_cast<int>(std::lround(e.prompt_tokens));
  const HostSpeed host = measure_host_speed(options.model_path, e.cost, prompt_rows, decode);
  const Pacing pacing = pace_cluster(spec, token_work(e.cost, e.position), frame_flops(e.cost, prompt_rows),
                                     host.decode_gflops, host.prompt_gflops, options.time_scale);
  std::string devices;
  for (size_t i = 0; i < spec.devices.size(); ++i) {
    devices += fmt::format("{}{} {:.0f}", i ? ", " : "", spec.devices[i].profile.id, pacing.effective_gflops[i]);
  }
  progress.line("this machine: {:.1f} GFLOP/s decoding, {:.1f} on a prompt; devices: {}{}", host.decode_gflops,
                host.prompt_gflops, devices,
                pacing.scale != 1 ? fmt::format("; running {:.2f}x slower than real time", pacing.scale) : std::string());
  return pacing;
}

// The coordinator's draft model as this machine runs it (one thread, as the coordinator
// drafts), in the simulated cluster's time: the coordinator is this machine, so its
// drafting is divided by the time scale like every figure measured here.
DraftCost measure_draft_cost(const RunOptions& options, const Expectation& e, const Pacing& pacing,
                             ProgressLines& progress) {
  if (options.draft_model.empty()) return {};
  progress.line("measuring the draft model {} (1 thread)...", fs::path(options.draft_model).filename().string());
  auto draft = Model::open(options.draft_model, ModelOpenOptions::without_layers());
  const ModelCostProfile cost = cost_profile_from_gguf(draft->file());
  const int prompt_rows = static_cast<int>(std::lround(e.prompt_tokens));
  const HostSpeed speed = measure_host_speed(options.draft_model, cost, prompt_rows, kMaxCalibrationDecode);
  DraftCost c;
  c.ms_per_draft = token_work(cost, e.position).flops / (speed.decode_gflops * 1e6) / pacing.scale;
  c.prompt_ms = frame_flops(cost, prompt_rows).flops / (speed.prompt_gflops * 1e6) / pacing.scale;
  return c;
}

void describe_plan(const ClusterSpec& spec, const ActualPlan& actual, ProgressLines& progress) {
  std::string s;
  for (const StageRange& r : actual.split) {
    s += fmt::format("{}{} [{}, {})", s.empty() ? "" : ", ", spec.devices[r.device_index].profile.id, r.first, r.last);
  }
  progress.line("cluster ready: {}", s);
}

// One row per stage of the coordinator's plan: what was planned, predicted and measured.
std::vector<StageReport> stage_reports(const ClusterSpec& spec, const Plan& predicted, const Pacing& pacing,
                                       const ActualPlan& actual, const WorkloadRun& run,
                                       const std::vector<std::optional<double>>& rss) {
  std::vector<StageReport> out;
  const std::vector<PlanStage>& pstages = predicted.feasible ? predicted.stages : predicted.rejected;
  for (size_t i = 0; i < actual.split.size() && i < pstages.size(); ++i) {
    const StageRange& r = actual.split[i];
    const SimDevice& d = spec.devices[r.device_index];
    const PlanStage& ps = pstages[i];
    StageReport s;
    s.stage = static_cast<int>(i);
    s.device = d.profile.id;
    s.profile = d.profile_id;
    s.kind = d.profile.kind;
    s.first = r.first;
    s.last = r.last;
    s.embedding = ps.holds_embed;
    s.head = ps.holds_head;
    s.cap_mib = static_cast<double>(d.profile.memory_mib);
    s.planned_mib = ps.total_bytes / (1024.0 * 1024.0);
    if (auto it = actual.used_mib.find(d.profile.id); it != actual.used_mib.end()) s.used_mib = it->second;
    s.peak_rss_mib = rss[r.device_index];
    s.gflops = d.profile.compute_gflops;
    s.effective_gflops = pacing.effective_gflops[r.device_index];
    s.pace_factor = std::max(1.0, pacing.host_gflops / (s.effective_gflops / pacing.scale));
    s.predicted_compute_ms = ps.stage_ms;
    s.predicted_hop_in_ms = ps.link_ms;
    if (i < run.stages.size() && run.stages[i].samples > 0) {
      s.compute_ms = run.stages[i].compute_ms / run.stages[i].samples / pacing.scale;
      s.wire_bytes_out_per_token = run.stages[i].wire_bytes / run.stages[i].samples;
    }
    out.push_back(std::move(s));
  }
  return out;
}

// The requests' figures scaled back to real time, and their means.
void add_request_figures(const WorkloadRun& run, double scale, RunReport& rep) {
  double tps = 0, ttft = 0, coordinator_ttft = 0;
  int tokens = 0;
  for (const RequestResult& r : run.results) {
    RequestReport q = r.report;
    q.ttft_ms /= scale;
    q.coordinator_ttft_ms /= scale;
    q.total_ms /= scale;
    q.decode_tokens_per_s *= scale;
    tps += q.decode_tokens_per_s;
    ttft += q.ttft_ms;
    coordinator_ttft += q.coordinator_ttft_ms;
    tokens += q.completion_tokens;
    rep.requests.push_back(q);
  }
  const double n = static_cast<double>(run.results.size());
  rep.measured_tokens_per_s = tps / n;
  rep.measured_ms_per_token = rep.measured_tokens_per_s > 0 ? 1000.0 / rep.measured_tokens_per_s : 0;
  rep.ttft_ms = ttft / n;
  rep.coordinator_ttft_ms = coordinator_ttft / n;
  rep.wall_s = run.wall_s / scale;
  rep.throughput_tokens_per_s = rep.wall_s > 0 ? tokens / rep.wall_s : 0;
}

// Each request's own prediction (its prompt, cache hits and verifications), and their means.
void add_request_predictions(const PlanRequest& request, const std::vector<StageRange>& split, const Plan& predicted,
                             double position, const DraftCost& draft, RunReport& rep) {
  double tps = 0, ttft = 0;
  for (RequestReport& q : rep.requests) {
    q.predicted_ttft_ms = predict_ttft_ms(request, split, q.prompt_tokens, q.cached_tokens, kPrefillChunk);
    const DecodeSteps steps{q.completion_tokens - 1, q.verify_steps, q.drafted_tokens, q.accepted_tokens};
    q.predicted_decode_tokens_per_s =
        predict_decode_tokens_per_s(request, split, predicted.ms_per_token, position, steps, draft);
    tps += q.predicted_decode_tokens_per_s;
    ttft += q.predicted_ttft_ms;
  }
  if (rep.requests.empty()) return;
  rep.predicted_request_tokens_per_s = tps / static_cast<double>(rep.requests.size());
  rep.predicted_ttft_ms = ttft / static_cast<double>(rep.requests.size());
}

bool same_split(const Plan& planned, const ActualPlan& actual) {
  if (planned.stages.size() != actual.split.size()) return false;
  for (size_t i = 0; i < actual.split.size(); ++i) {
    const PlanStage& p = planned.stages[i];
    const StageRange& a = actual.split[i];
    if (p.device_index != a.device_index || p.first != a.first || p.last != a.last) return false;
  }
  return true;
}

// What to keep in mind reading the report.
std::vector<std::string> reading_notes(const ClusterSpec& spec, const Expectation& e, const Pacing& pacing,
                                       const ActualPlan& actual, const DraftCost& draft) {
  std::vector<std::string> notes;
  if (draft.ms_per_draft > 0) {
    notes.push_back(fmt::format(
        "the coordinator (this machine) drafts at {:.3f} ms per draft token and reads each prompt in {:.2f} ms, "
        "scaled like the rest; the prediction counts both", draft.ms_per_draft, draft.prompt_ms));
  }
  for (size_t i = 0; i < spec.devices.size(); ++i) {
    if (pacing.effective_gflops[i] / pacing.scale >= pacing.host_gflops) {
      notes.push_back(fmt::format(
          "{} ({:.0f} GFLOP/s effective) is faster than this machine ({:.1f} GFLOP/s on one thread): its stage runs "
          "unpaced, at this machine's speed (--time-scale auto slows the whole simulation down instead)",
          spec.devices[i].profile.id, pacing.effective_gflops[i], pacing.host_gflops));
    }
  }
  if (pacing.scale != 1) {
    notes.push_back(fmt::format(
        "the cluster ran {:.2f}x slower than real time (links and compute stretched alike); times are divided by it, "
        "which also divides this machine's own per-hop software overhead", pacing.scale));
  }
  if (!same_split(e.plan, actual)) {
    notes.push_back("the coordinator's plan differs from the planner's on the profiles (it plans with the RTT it "
                    "measures); the prediction shown is for the coordinator's plan");
  }
  notes.push_back("peak RSS includes each process's runtime (libraries, buffers), not only weights and KV");
  return notes;
}

RunReport build_report(const ClusterSpec& spec, Strategy strategy, const RunOptions& options, const Expectation& e,
                       const Pacing& pacing, const DraftCost& draft, const ActualPlan& actual, const WorkloadRun& run,
                       const std::vector<std::optional<double>>& rss) {
  const Plan predicted = predict_split(e.request, actual.split, strategy, e.position);
  RunReport rep;
  rep.cluster = options.cluster_label;
  rep.strategy = std::string(strategy_name(strategy));
  rep.model = options.model_path;
  rep.wire = spec.workload.wire;
  rep.speculative = options.speculative;
  rep.layers = e.cost.n_layers;
  rep.context = e.context;
  rep.sessions = spec.workload.concurrency;
  rep.host_gflops = pacing.host_gflops;
  rep.time_scale = pacing.scale;
  rep.trace = run.trace;
  rep.predicted_position = e.position;
  rep.predicted_return_ms = predicted.return_link_ms;
  rep.predicted_ms_per_token = predicted.ms_per_token;
  rep.predicted_tokens_per_s = predicted.tokens_per_s;
  rep.stages = stage_reports(spec, predicted, pacing, actual, run, rss);
  add_request_figures(run, pacing.scale, rep);
  add_request_predictions(e.request, actual.split, predicted, e.position, draft, rep);
  if (!hops_from_trace(rep)) attribute_transfer(rep);
  rep.notes = reading_notes(spec, e, pacing, actual, draft);
  return rep;
}

}  // namespace

RunReport run_simulation(const ClusterSpec& spec, Strategy strategy, const RunOptions& options) {
  ProgressLines progress(options.quiet);
  const Expectation expected = predict(spec, strategy, options);
  const Pacing pacing = calibrate(spec, expected, options, progress);
  const DraftCost draft = measure_draft_cost(options, expected, pacing, progress);
  SimulatedCluster cluster(spec, pacing,
                           {options.baton_exe, options.model_path, options.work_dir, strategy, expected.context,
                            kPrefillChunk, options.speculative, options.draft_model},
                           progress);
  const ActualPlan actual = actual_plan(cluster.http_port(), spec);
  describe_plan(spec, actual, progress);
  const WorkloadRun run = run_workload(spec.workload, cluster, pacing.scale, progress);
  const std::vector<std::optional<double>> rss = cluster.peak_rss_mib();
  for (const RequestResult& r : run.results) {
    if (!r.ok) throw std::runtime_error(fmt::format("the workload failed: {}", r.error));
  }
  return build_report(spec, strategy, options, expected, pacing, draft, actual, run, rss);
}

}  // namespace baton::sim
