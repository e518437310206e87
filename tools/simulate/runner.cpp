#include "tools/simulate/runner.h"

#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <thread>

#include "model/cost_profile.h"
#include "model/local_backend.h"
#include "model/model.h"
#include "model/sampler.h"
#include "model/tokenizer.h"
#include "node/coordinator/cluster_status.h"
#include "node/model_identity.h"
#include "node/stage/process_memory.h"
#include "tensor/thread_pool.h"
#include "tools/child_process.h"
#include "tools/simulate/prediction.h"
#include "transport/activation_frame.h"
#include "transport/auth.h"
#include "transport/sse_reader.h"

namespace baton::sim {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

constexpr auto kNodeStartTimeout = std::chrono::seconds(30);
constexpr auto kCoordinatorTimeout = std::chrono::seconds(180);
constexpr int kMaxCalibrationDecode = 32;
constexpr auto kCalibrationPause = std::chrono::milliseconds(2);

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet) {}
  template <typename... Args>
  void line(fmt::format_string<Args...> f, Args&&... args) {
    if (quiet_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    fmt::print(stderr, "simulate: {}\n", fmt::format(f, std::forward<Args>(args)...));
    std::fflush(stderr);
  }

 private:
  bool quiet_;
  std::mutex mutex_;
};

std::string fmt_num(double v) { return fmt::format("{:.6g}", v); }

// This machine's single-thread GFLOP/s on this model: the planner's FLOPs for a decoded
// token at the workload's positions over the measured time, best of five passes.
double calibrate_host(const std::string& path, const ModelCostProfile& cost, int prompt_tokens, int decode_tokens) {
  ModelOpenOptions opt;
  opt.with_tokenizer = false;
  auto model = Model::open(path, opt);
  ThreadPool pool(1);
  const int vocab = model->hparams().vocab_size;
  LocalBackend backend(model->transformer(), DType::F16, prompt_tokens + decode_tokens + 8, &pool);
  std::vector<int32_t> prompt(static_cast<size_t>(std::max(prompt_tokens, 1)));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 13) % static_cast<size_t>(vocab));
  double best_s = 1e30;
  for (int pass = 0; pass < 5; ++pass) {
    backend.truncate(0);
    int32_t next = argmax(backend.forward(prompt, 0));
    double pass_s = 0;
    for (int i = 0; i < decode_tokens; ++i) {
      // A stage computes one token every few milliseconds and sleeps in between (other
      // processes use the caches meanwhile); time tokens the same way, not back to back.
      std::this_thread::sleep_for(kCalibrationPause);
      const int32_t one[1] = {next};
      const auto t0 = clock_type::now();
      next = argmax(backend.forward(one, static_cast<int64_t>(prompt.size()) + i));
      pass_s += std::chrono::duration<double>(clock_type::now() - t0).count();
    }
    best_s = std::min(best_s, pass_s);
  }
  const TokenWork work = token_work(cost, static_cast<double>(prompt.size()) + decode_tokens / 2.0);
  return work.flops * decode_tokens / best_s / 1e9;
}

std::optional<double> peak_rss_mib(pid_t pid) {
  const ProcessMemory m = read_process_memory(static_cast<int>(pid));
  if (m.peak_bytes == 0) return std::nullopt;
  return static_cast<double>(m.peak_bytes) / (1024.0 * 1024.0);
}

// Reads whatever the processes wrote so far, so no pipe fills up and blocks them.
void pump(std::vector<ChildProcess*>& children) {
  static const std::regex never("$^");
  for (ChildProcess* c : children) (void)c->wait_for_line(never, std::chrono::milliseconds(1));
}

struct RequestResult {
  bool ok = false;
  std::string error;
  RequestReport report;
};

// One streamed completion; times the first and last token as the client sees them.
RequestResult run_request(int port, const std::string& prompt, int max_tokens) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(600, 0);
  cli.set_connection_timeout(10, 0);
  const json body = {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}, {"stream", true}};
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.body = body.dump();
  SseReader events;
  std::string refused_body;  // what a non-200 answer said
  int chunks = 0;
  std::optional<double> first_ms, last_ms;
  std::string server_error;
  const auto t0 = clock_type::now();
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    if (refused_body.size() < 4096) refused_body.append(data, std::min<size_t>(len, 4096));
    std::vector<std::string> payloads;
    try {
      payloads = events.feed(std::string_view(data, len));
    } catch (const std::exception& e) {
      server_error = e.what();  // an event beyond the reader's bound
      return false;
    }
    for (const std::string& payload : payloads) {
      if (payload == "[DONE]") continue;
      json chunk = json::parse(payload, nullptr, false);
      if (chunk.is_discarded()) continue;
      if (chunk.contains("error")) server_error = chunk["error"].value("message", "error");
      if (!chunk.contains("choices") || chunk["choices"].empty()) continue;
      const json& choice = chunk["choices"][0];
      if (choice.value("finish_reason", json()).is_string() && choice["finish_reason"] == "error") {
        server_error = "generation failed on the cluster";
      }
      if (choice.contains("text") && choice["text"].is_string() && !choice["text"].get<std::string>().empty()) {
        const double now = ms_since(t0);
        if (!first_ms) first_ms = now;
        last_ms = now;
        ++chunks;
      }
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  RequestResult out;
  if (!cli.send(req, res, err)) {
    out.error = fmt::format("HTTP request failed: {}", httplib::to_string(err));
    return out;
  }
  if (res.status != 200) {
    out.error = fmt::format("HTTP {}: {}", res.status, res.body.empty() ? refused_body : res.body);
    return out;
  }
  if (!server_error.empty()) {
    out.error = server_error;
    return out;
  }
  out.ok = true;
  RequestReport& r = out.report;
  r.total_ms = ms_since(t0);
  r.completion_tokens = chunks;
  r.ttft_ms = first_ms.value_or(r.total_ms);
  // Between the first and the last token as they arrived: one decode step per token. (The
  // coordinator's own tokens_per_s also spans the step that produced an end-of-text token,
  // which is not counted, so it reads low on replies that stop early.)
  if (chunks > 1 && last_ms && *last_ms > *first_ms) r.decode_tokens_per_s = (chunks - 1) * 1000.0 / (*last_ms - *first_ms);
  return out;
}

// GET /v1/cluster, read into the struct the coordinator writes it from.
std::optional<ClusterStatus> get_cluster_status(int port) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(30, 0);
  auto res = cli.Get("/v1/cluster");
  if (!res || res->status != 200) return std::nullopt;
  json j = json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return cluster_status_from_json(j);
}

struct StageAccumulator {
  double compute_ms = 0, wire_bytes = 0;
  int samples = 0;
};

// The last request's per-stage figures, summed per stage index.
void accumulate_stage_figures(const ClusterStatus& cluster, std::vector<StageAccumulator>& acc) {
  if (!cluster.last) return;
  for (const StageFigures& s : cluster.last->stages) {
    const size_t i = s.stage;
    if (i >= acc.size()) acc.resize(i + 1);
    acc[i].compute_ms += s.compute_ms;
    acc[i].wire_bytes += s.wire_bytes_per_token;
    ++acc[i].samples;
  }
}

// The last request's trace (stamps relative to its first step), divided by the time scale.
std::vector<TraceToken> read_trace(const ClusterStatus& cluster, double scale) {
  std::vector<TraceToken> out;
  if (!cluster.last) return out;
  auto ms = [scale](uint64_t ns) { return static_cast<double>(ns) / 1e6 / scale; };
  for (const auto& step : cluster.last->trace) {
    TraceToken t;
    t.sent_ms = ms(step.sent_ns);
    t.received_ms = ms(step.received_ns);
    for (const StageTimingRecord& s : step.stages) {
      t.stages.push_back({static_cast<int>(s.stage), ms(s.received_ns), ms(s.sent_ns),
                          static_cast<double>(s.compute_us) / 1000.0 / scale});
    }
    out.push_back(std::move(t));
  }
  return out;
}

struct ActualPlan {
  std::vector<StageRange> split;
  std::map<std::string, double> used_mib;  // by device name, the node's own accounting
};

// The coordinator's plan and each member's memory in use, from GET /v1/cluster.
ActualPlan actual_plan(int http_port, const ClusterSpec& spec) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < spec.devices.size(); ++i) index[spec.devices[i].profile.id] = i;
  const std::optional<ClusterStatus> cluster = get_cluster_status(http_port);
  if (!cluster || cluster->plan.stages.empty()) {
    throw std::runtime_error("could not learn the coordinator's plan: GET /v1/cluster gave none");
  }
  ActualPlan p;
  for (const PlanStage& s : cluster->plan.stages) {
    auto it = index.find(s.device_id);
    if (it == index.end()) {
      throw std::runtime_error(fmt::format("the coordinator planned for an unknown device '{}'", s.device_id));
    }
    p.split.push_back({it->second, s.first, s.last});
  }
  for (const NodeStatus& n : cluster->nodes) {
    if (n.used_mib) p.used_mib[n.id] = static_cast<double>(*n.used_mib);
  }
  return p;
}

std::string tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

}  // namespace

RunReport run_simulation(const ClusterSpec& spec, Strategy strategy, const RunOptions& options) {
  Progress progress(options.quiet);
  const Workload& w = spec.workload;

  // ---- the model and what the planner predicts
  const ModelOpenOptions open = ModelOpenOptions::without_layers();
  auto model = Model::open(options.model_path, open);
  const ModelCostProfile cost = cost_profile_from_gguf(model->file());
  const int64_t context = w.context > 0 ? w.context
                                        : std::min<int64_t>(model->hparams().ctx_train > 0 ? model->hparams().ctx_train : 2048, 2048);
  double prompt_tokens = 0;
  for (const std::string& p : w.prompts) {
    const auto ids = model->tokenizer().encode(p, model->tokenizer().add_bos(), false);
    if (static_cast<int64_t>(ids.size()) + w.max_tokens > context) {
      throw std::invalid_argument(fmt::format("prompt \"{}\" ({} tokens) + max_tokens {} do not fit the context of {}",
                                              p, ids.size(), w.max_tokens, context));
    }
    prompt_tokens += static_cast<double>(ids.size());
  }
  prompt_tokens /= static_cast<double>(w.prompts.size());
  // Decode runs from the end of the prompt to max_tokens later: predict at the middle.
  const double position = prompt_tokens + w.max_tokens / 2.0;

  const PlanRequest request =
      plan_request(spec, cost, context, w.concurrency, wire_bytes_per_element(parse_wire_format(w.wire)));
  const Plan planned = make_plan(request, strategy);
  if (!planned.feasible) {
    throw NoPlanError(fmt::format("no plan fits cluster {} ({} strategy): {}", options.cluster_label,
                                  strategy_name(strategy), planned.reason));
  }

  // ---- pacing: this machine's speed on this model against each device's
  progress.line("measuring this machine on {} (1 thread)...", fs::path(options.model_path).filename().string());
  const int decode = std::clamp(w.max_tokens, 4, kMaxCalibrationDecode);
  const double host = calibrate_host(options.model_path, cost, static_cast<int>(std::lround(prompt_tokens)), decode);
  const TokenWork work = token_work(cost, position);
  std::vector<double> effective;
  double fastest = 0;
  for (const SimDevice& d : spec.devices) {
    effective.push_back(effective_gflops(d.profile, work));
    fastest = std::max(fastest, effective.back());
  }
  // Slow enough that the fastest device is still slower than this machine, with room
  // for noise.
  const double scale = options.time_scale > 0 ? options.time_scale : std::max(1.0, fastest / host * 1.15);
  progress.line("this machine: {:.1f} GFLOP/s; devices: {}{}", host,
                [&] {
                  std::string s;
                  for (size_t i = 0; i < spec.devices.size(); ++i) {
                    s += fmt::format("{}{} {:.0f}", i ? ", " : "", spec.devices[i].profile.id, effective[i]);
                  }
                  return s;
                }(),
                scale != 1 ? fmt::format("; running {:.2f}x slower than real time", scale) : std::string());

  // ---- the cluster
  const std::string secret = to_hex(random_nonce());
  const std::vector<std::string> env{"BATON_SECRET=" + secret};
  std::vector<std::unique_ptr<ChildProcess>> nodes;
  std::string peers;
  for (size_t i = 0; i < spec.devices.size(); ++i) {
    const SimDevice& d = spec.devices[i];
    const DeviceProfile& p = d.profile;
    const std::string cache = (fs::path(options.work_dir) / fmt::format("cache-{}", i)).string();
    std::vector<std::string> argv{
        options.baton_exe, "node", "--listen", "127.0.0.1:0", "--name", p.id, "--kind", p.kind, "--memory",
        std::to_string(p.memory_mib), "--gflops", fmt_num(p.compute_gflops / scale), "--bandwidth",
        fmt_num(p.memory_bandwidth_gbs / scale), "--threads", "1", "--no-mdns", "--model", options.model_path,
        "--cache-dir", cache, "--link-latency-ms", fmt_num(p.link_latency_ms * scale), "--link-jitter-ms",
        fmt_num(d.jitter_ms * scale), "--link-mbps", fmt_num(p.link_bandwidth_mbps / scale), "--link-seed",
        std::to_string(spec.seed * 1000 + i), "--pace-gflops", fmt_num(effective[i] / scale), "--host-gflops",
        fmt_num(host), "--log-level", "warn"};
    progress.line("starting node {} ({}/{}): {} MiB, {:.0f} GFLOP/s effective, link {:g} ms +- {:g} ms, {:g} Mbit/s",
                  p.id, i + 1, spec.devices.size(), p.memory_mib, effective[i], p.link_latency_ms, d.jitter_ms,
                  p.link_bandwidth_mbps);
    nodes.push_back(std::make_unique<ChildProcess>(argv, env));
    auto m = nodes.back()->wait_for_line(std::regex(R"(\(port (\d+)\))"), kNodeStartTimeout);
    if (!m) {
      nodes.back()->wait(std::chrono::seconds(2));
      throw std::runtime_error(fmt::format("node {} did not start: {}", p.id, tail(nodes.back()->err(), 5)));
    }
    peers += (peers.empty() ? "" : ",") + fmt::format("127.0.0.1:{}", std::string((*m)[1]));
  }
  progress.line("starting the coordinator ({} strategy): joining, planning, loading layers...", strategy_name(strategy));
  std::vector<std::string> cargv{options.baton_exe, "coordinator", "--peers", peers, "--model", options.model_path,
                                 "--listen", "127.0.0.1:0", "--no-mdns", "--http", "127.0.0.1:0", "--strategy",
                                 std::string(strategy_name(strategy)), "--wire", w.wire, "--ctx", std::to_string(context),
                                 "--max-sessions", std::to_string(w.concurrency), "--min-nodes",
                                 std::to_string(spec.devices.size())};
  auto coordinator = std::make_unique<ChildProcess>(cargv, env);
  if (!coordinator->wait_for_line(std::regex(R"(coordinator ready on .*\(port (\d+)\))"), kCoordinatorTimeout)) {
    coordinator->wait(std::chrono::seconds(5));
    const std::string log = coordinator->err();
    const auto at = log.find("no plan fits");
    if (at != std::string::npos) throw NoPlanError(log.substr(at, log.find('\n', at) - at));
    throw std::runtime_error(fmt::format("the coordinator did not become ready:\n{}", tail(log, 8)));
  }
  auto h = coordinator->wait_for_line(std::regex(R"(HTTP API on http://[^:]+:(\d+))"), std::chrono::seconds(10));
  if (!h) throw std::runtime_error("the coordinator did not start its HTTP API");
  const int port = std::stoi((*h)[1]);
  std::vector<ChildProcess*> children;
  for (auto& n : nodes) children.push_back(n.get());
  children.push_back(coordinator.get());
  pump(children);
  const ActualPlan actual = actual_plan(port, spec);
  {
    std::string s;
    for (const StageRange& r : actual.split) {
      s += fmt::format("{}{} [{}, {})", s.empty() ? "" : ", ", spec.devices[r.device_index].profile.id, r.first, r.last);
    }
    progress.line("cluster ready: {}", s);
  }

  // ---- the workload
  progress.line("running {} request(s), {} at a time, up to {} tokens each", w.requests, w.concurrency, w.max_tokens);
  std::vector<RequestResult> results(static_cast<size_t>(w.requests));
  std::vector<StageAccumulator> stage_acc;
  std::vector<TraceToken> trace;  // of the last request that ran alone
  std::mutex acc_mutex;
  std::atomic<int> next{0}, finished{0};
  const auto workload_start = clock_type::now();
  std::vector<std::thread> workers;
  for (int k = 0; k < w.concurrency; ++k) {
    workers.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < w.requests;) {
        const std::string& prompt = w.prompts[static_cast<size_t>(i) % w.prompts.size()];
        RequestResult r = run_request(port, prompt, w.max_tokens);
        if (r.ok && w.concurrency == 1) {  // "last request" is this one
          if (auto c = get_cluster_status(port)) {
            std::lock_guard<std::mutex> lock(acc_mutex);
            accumulate_stage_figures(*c, stage_acc);
            trace = read_trace(*c, scale);
          }
        }
        const int done = ++finished;
        if (r.ok) {
          progress.line("request {}/{}: {} tokens, first after {:.0f} ms, {:.1f} tokens/s{}", done, w.requests,
                        r.report.completion_tokens, r.report.ttft_ms / scale, r.report.decode_tokens_per_s * scale,
                        scale != 1 ? " (scaled back to real time)" : "");
        } else {
          progress.line("request {}/{} failed: {}", done, w.requests, r.error);
        }
        results[static_cast<size_t>(i)] = std::move(r);
      }
    });
  }
  while (finished.load() < w.requests) pump(children);
  for (auto& t : workers) t.join();
  const double wall_s = ms_since(workload_start) / 1000.0;
  if (stage_acc.empty()) {
    if (auto c = get_cluster_status(port)) {
      accumulate_stage_figures(*c, stage_acc);
      trace = read_trace(*c, scale);
    }
  }
  std::vector<std::optional<double>> rss;
  for (auto& n : nodes) rss.push_back(peak_rss_mib(n->pid()));
  for (auto& r : results) {
    if (!r.ok) throw std::runtime_error(fmt::format("the workload failed: {}", r.error));
  }

  // ---- the report
  const Plan predicted = predict_split(request, actual.split, strategy, position);
  RunReport rep;
  rep.cluster = options.cluster_label;
  rep.strategy = std::string(strategy_name(strategy));
  rep.model = options.model_path;
  rep.wire = w.wire;
  rep.layers = cost.n_layers;
  rep.context = context;
  rep.sessions = w.concurrency;
  rep.host_gflops = host;
  rep.time_scale = scale;
  rep.trace = trace;
  rep.predicted_position = position;
  rep.predicted_return_ms = predicted.return_link_ms;
  rep.predicted_ms_per_token = predicted.ms_per_token;
  rep.predicted_tokens_per_s = predicted.tokens_per_s;
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
    s.effective_gflops = effective[r.device_index];
    s.pace_factor = std::max(1.0, host / (effective[r.device_index] / scale));
    s.predicted_compute_ms = ps.stage_ms;
    s.predicted_hop_in_ms = ps.link_ms;
    if (i < stage_acc.size() && stage_acc[i].samples > 0) {
      s.compute_ms = stage_acc[i].compute_ms / stage_acc[i].samples / scale;
      s.wire_bytes_out_per_token = stage_acc[i].wire_bytes / stage_acc[i].samples;
    }
    rep.stages.push_back(std::move(s));
  }
  double tps = 0, ttft = 0;
  int tokens = 0;
  for (const RequestResult& r : results) {
    RequestReport q = r.report;
    q.ttft_ms /= scale;
    q.total_ms /= scale;
    q.decode_tokens_per_s *= scale;
    tps += q.decode_tokens_per_s;
    ttft += q.ttft_ms;
    tokens += q.completion_tokens;
    rep.requests.push_back(q);
  }
  rep.measured_tokens_per_s = tps / static_cast<double>(results.size());
  rep.measured_ms_per_token = rep.measured_tokens_per_s > 0 ? 1000.0 / rep.measured_tokens_per_s : 0;
  rep.ttft_ms = ttft / static_cast<double>(results.size());
  rep.wall_s = wall_s / scale;
  rep.throughput_tokens_per_s = rep.wall_s > 0 ? tokens / rep.wall_s : 0;
  if (!hops_from_trace(rep)) attribute_transfer(rep);

  // ---- what to keep in mind reading it
  for (size_t i = 0; i < spec.devices.size(); ++i) {
    if (effective[i] / scale >= host) {
      rep.notes.push_back(fmt::format(
          "{} ({:.0f} GFLOP/s effective) is faster than this machine ({:.1f} GFLOP/s on one thread): its stage runs "
          "unpaced, at this machine's speed (--time-scale auto slows the whole simulation down instead)",
          spec.devices[i].profile.id, effective[i], host));
    }
  }
  if (scale != 1) {
    rep.notes.push_back(fmt::format(
        "the cluster ran {:.2f}x slower than real time (links and compute stretched alike); times are divided by it, "
        "which also divides this machine's own per-hop software overhead", scale));
  }
  std::vector<StageRange> own;
  for (const PlanStage& s : planned.stages) own.push_back({s.device_index, s.first, s.last});
  bool same = own.size() == actual.split.size();
  for (size_t i = 0; same && i < own.size(); ++i) {
    same = own[i].device_index == actual.split[i].device_index && own[i].first == actual.split[i].first &&
           own[i].last == actual.split[i].last;
  }
  if (!same) {
    rep.notes.push_back("the coordinator's plan differs from the planner's on the profiles (it plans with the RTT it "
                        "measures); the prediction shown is for the coordinator's plan");
  }
  rep.notes.push_back("peak RSS includes each process's runtime (libraries, buffers), not only weights and KV");
  return rep;
}

}  // namespace baton::sim
