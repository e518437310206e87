#include "tools/simulate/workload.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "tools/completion_stream.h"

namespace baton::sim {

namespace {

constexpr const char* kWarmUpPrompt = "0 1 2 3";

using nlohmann::json;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

// One streamed greedy completion; times the first and last token as the client sees them.
RequestResult run_request(int port, const std::string& prompt, int max_tokens) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(600, 0);
  client.set_connection_timeout(10, 0);
  const cli::StreamedCompletion seen =
      cli::stream_completion(client, "/v1/completions", {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}});
  RequestResult out;
  if (!seen.complete()) {
    out.error = seen.failure();
    return out;
  }
  out.ok = true;
  RequestReport& r = out.report;
  r.total_ms = seen.total_ms;
  r.completion_tokens = seen.text_chunks;
  r.text = seen.text;
  const auto& last = seen.final_chunk;
  if (last.contains("usage") && last["usage"].is_object()) r.prompt_tokens = last["usage"].value("prompt_tokens", 0);
  if (last.contains("baton") && last["baton"].is_object()) {
    const auto& b = last["baton"];
    r.cached_tokens = b.value("cached_tokens", 0);
    r.coordinator_ttft_ms = b.value("ttft_ms", 0.0);
    if (b.contains("speculative") && b["speculative"].is_object()) {
      r.verify_steps = b["speculative"].value("verify_steps", 0);
      r.drafted_tokens = b["speculative"].value("drafted_tokens", 0);
      r.accepted_tokens = b["speculative"].value("accepted_tokens", 0);
    }
  }
  r.ttft_ms = seen.first_ms.value_or(r.total_ms);
  // Between the first and the last token as they arrived: one decode step per token. (The
  // coordinator's own tokens_per_s also spans the step that produced an end-of-text token,
  // which is not counted, so it reads low on replies that stop early.)
  if (seen.text_chunks > 1 && seen.last_ms && *seen.last_ms > *seen.first_ms) {
    r.decode_tokens_per_s = (seen.text_chunks - 1) * 1000.0 / (*seen.last_ms - *seen.first_ms);
  }
  return out;
}

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

}  // namespace

WorkloadRun run_workload(const Workload& w, SimulatedCluster& cluster, double scale, ProgressLines& progress) {
  progress.line("running {} request(s), {} at a time, up to {} tokens each", w.requests, w.concurrency, w.max_tokens);
  const int port = cluster.http_port();
  // One request first, not counted: the first request after start pays one-time costs
  // (first touch of KV and scratch memory, allocator growth: 0.7-0.8 s more than the next
  // request on the 110M model here)
  // that say nothing about the cluster. Its prompt shares no prefix with the workload's.
  if (RequestResult warm = run_request(port, kWarmUpPrompt, 2); !warm.ok) {
    throw std::runtime_error(fmt::format("the warm-up request failed: {}", warm.error));
  }
  WorkloadRun run;
  run.results.resize(static_cast<size_t>(w.requests));
  std::mutex figures_mutex;  // run.stages and run.trace
  std::atomic<int> next{0}, finished{0};
  const auto start = clock_type::now();
  std::vector<std::thread> workers;
  for (int k = 0; k < w.concurrency; ++k) {
    workers.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < w.requests;) {
        const std::string& prompt = w.prompts[static_cast<size_t>(i) % w.prompts.size()];
        RequestResult r = run_request(port, prompt, w.max_tokens);
        if (r.ok && w.concurrency == 1) {  // the cluster's "last request" is this one
          if (auto c = get_cluster_status(port)) {
            std::lock_guard<std::mutex> lock(figures_mutex);
            accumulate_stage_figures(*c, run.stages);
            run.trace = read_trace(*c, scale);
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
        run.results[static_cast<size_t>(i)] = std::move(r);
      }
    });
  }
  // This thread keeps the processes' pipes flowing while the workers wait on HTTP.
  while (finished.load() < w.requests) cluster.drain_output();
  for (auto& t : workers) t.join();
  run.wall_s = ms_since(start) / 1000.0;
  if (run.stages.empty()) {  // concurrent requests: the figures of whichever ran last
    if (auto c = get_cluster_status(port)) {
      accumulate_stage_figures(*c, run.stages);
      run.trace = read_trace(*c, scale);
    }
  }
  return run;
}

}  // namespace baton::sim
