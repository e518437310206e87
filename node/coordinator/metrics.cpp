#include "node/coordinator/metrics.h"

#include <fmt/format.h>

#include "model/generation.h"
#include "node/coordinator/session_runner.h"

namespace baton {

namespace {

// Label values may hold any text; escape what the exposition format requires.
std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

RequestFigures request_figures(const SessionOutcome& out, const std::vector<std::string>& stage_devices) {
  RequestFigures f;
  f.prompt_tokens = out.result.prompt_tokens;
  f.completion_tokens = out.result.completion_tokens;
  f.tokens_per_s = out.decode_tokens_per_s;
  f.ttft_ms = out.ttft_ms;
  f.kv_cache_mib = out.kv_cache_mib;
  f.drafted_tokens = out.result.drafted_tokens;
  f.accepted_tokens = out.result.accepted_tokens;
  f.trace = out.stats.trace;
  for (const StagePerToken& s : per_token_figures(out.stats)) {
    StageFigures g;
    g.stage = s.stage;
    g.device = s.stage < stage_devices.size() ? stage_devices[s.stage] : fmt::format("stage{}", s.stage);
    g.compute_ms = s.compute_ms;
    g.transfer_ms = s.transfer_ms;
    g.wire_bytes_per_token = s.wire_bytes;
    f.stages.push_back(std::move(g));
  }
  return f;
}

void ServiceMetrics::record(const SessionOutcome& out, const std::vector<std::string>& stage_devices) {
  const RequestFigures figures = request_figures(out, stage_devices);
  std::lock_guard<std::mutex> lock(mutex_);
  auto& t = totals_;
  if (!out.error.empty()) {
    ++t.requests_failed;
  } else if (out.result.finish == FinishReason::Cancelled) {
    ++t.requests_cancelled;
  } else {
    ++t.requests_ok;
  }
  t.prompt_tokens += static_cast<uint64_t>(out.result.prompt_tokens);
  t.session_recoveries += static_cast<uint64_t>(out.stats.recoveries);
  t.replayed_tokens += static_cast<uint64_t>(out.stats.replayed_tokens);
  t.completion_tokens += static_cast<uint64_t>(out.result.completion_tokens);
  t.verify_steps += static_cast<uint64_t>(out.result.verify_steps);
  t.drafted_tokens += static_cast<uint64_t>(out.result.drafted_tokens);
  t.accepted_tokens += static_cast<uint64_t>(out.result.accepted_tokens);
  if (out.result.completion_tokens > 0 && out.error.empty()) {
    const double s = out.ttft_ms / 1000.0;
    t.ttft_bucket_counts.resize(std::size(kTtftBuckets));
    for (size_t i = 0; i < std::size(kTtftBuckets); ++i) {
      if (s <= kTtftBuckets[i]) {
        ++t.ttft_bucket_counts[i];
        break;
      }
    }
    ++t.ttft_count;
    t.ttft_sum_s += s;
  }
  const double steps = static_cast<double>(out.stats.decode_steps);
  for (const StageFigures& g : figures.stages) {
    auto& st = t.stages[g.stage];
    st.device = g.device;
    st.compute_s += g.compute_ms * steps / 1000.0;
    st.transfer_s += g.transfer_ms * steps / 1000.0;
    st.wire_bytes += static_cast<uint64_t>(g.wire_bytes_per_token * steps + 0.5);
    st.decode_tokens += static_cast<uint64_t>(steps);
  }
  if (out.error.empty() && out.result.completion_tokens > 0) t.last = figures;
}

void ServiceMetrics::record_rejected() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++totals_.requests_rejected;
}

MetricsSnapshot ServiceMetrics::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return totals_;
}

std::string render_prometheus(const MetricsSnapshot& s) {
  std::string out;
  header(out, "baton_requests_total", "counter", "Generation requests by outcome.");
  out += fmt::format("baton_requests_total{{outcome=\"ok\"}} {}\n", s.requests_ok);
  out += fmt::format("baton_requests_total{{outcome=\"error\"}} {}\n", s.requests_failed);
  out += fmt::format("baton_requests_total{{outcome=\"cancelled\"}} {}\n", s.requests_cancelled);
  out += fmt::format("baton_requests_total{{outcome=\"rejected\"}} {}\n", s.requests_rejected);
  header(out, "baton_prompt_tokens_total", "counter", "Prompt tokens processed.");
  out += fmt::format("baton_prompt_tokens_total {}\n", s.prompt_tokens);
  header(out, "baton_tokens_generated_total", "counter", "Completion tokens generated.");
  out += fmt::format("baton_tokens_generated_total {}\n", s.completion_tokens);
  header(out, "baton_session_recoveries_total", "counter",
         "Times a session's pipeline was lost (a node went away) and rebuilt without failing the session.");
  out += fmt::format("baton_session_recoveries_total {}\n", s.session_recoveries);
  header(out, "baton_replayed_tokens_total", "counter", "Tokens re-sent to rebuild KV caches after a recovery.");
  out += fmt::format("baton_replayed_tokens_total {}\n", s.replayed_tokens);
  header(out, "baton_speculative_verify_steps_total", "counter",
         "Forwards that verified draft tokens (speculative decoding).");
  out += fmt::format("baton_speculative_verify_steps_total {}\n", s.verify_steps);
  header(out, "baton_speculative_drafted_tokens_total", "counter", "Draft tokens sent to be verified.");
  out += fmt::format("baton_speculative_drafted_tokens_total {}\n", s.drafted_tokens);
  header(out, "baton_speculative_accepted_tokens_total", "counter",
         "Draft tokens the model agreed with (each saved a round trip through the pipeline).");
  out += fmt::format("baton_speculative_accepted_tokens_total {}\n", s.accepted_tokens);
  header(out, "baton_tokens_per_second", "gauge", "Decode tokens per second of the last finished request.");
  out += fmt::format("baton_tokens_per_second {}\n", s.last ? s.last->tokens_per_s : 0.0);

  header(out, "baton_time_to_first_token_seconds", "histogram", "Time from admission to the first token.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < std::size(kTtftBuckets); ++i) {
    if (i < s.ttft_bucket_counts.size()) cumulative += s.ttft_bucket_counts[i];
    out += fmt::format("baton_time_to_first_token_seconds_bucket{{le=\"{}\"}} {}\n", kTtftBuckets[i], cumulative);
  }
  out += fmt::format("baton_time_to_first_token_seconds_bucket{{le=\"+Inf\"}} {}\n", s.ttft_count);
  out += fmt::format("baton_time_to_first_token_seconds_sum {}\n", s.ttft_sum_s);
  out += fmt::format("baton_time_to_first_token_seconds_count {}\n", s.ttft_count);

  auto per_stage = [&](const char* name, const char* type, const char* help, auto value) {
    header(out, name, type, help);
    for (const auto& [stage, st] : s.stages) {
      out += fmt::format("{}{{stage=\"{}\",device=\"{}\"}} {}\n", name, stage, label_value(st.device), value(st));
    }
  };
  using Totals = MetricsSnapshot::StageTotals;
  per_stage("baton_stage_compute_seconds_total", "counter", "Stage compute time over decode tokens.",
            [](const Totals& t) { return t.compute_s; });
  per_stage("baton_stage_transfer_seconds_total", "counter",
            "Time on the stage's outgoing hop and decoding incoming frames, over decode tokens.",
            [](const Totals& t) { return t.transfer_s; });
  per_stage("baton_stage_wire_bytes_total", "counter", "Bytes the stage sent on its outgoing hop for decode tokens.",
            [](const Totals& t) { return t.wire_bytes; });
  per_stage("baton_stage_decode_tokens_total", "counter", "Decode tokens the stage forwarded.",
            [](const Totals& t) { return t.decode_tokens; });
  if (s.last) {
    header(out, "baton_stage_compute_ms", "gauge", "Per-token compute of the last request.");
    for (const auto& g : s.last->stages) {
      out += fmt::format("baton_stage_compute_ms{{stage=\"{}\",device=\"{}\"}} {}\n", g.stage, label_value(g.device),
                         g.compute_ms);
    }
    header(out, "baton_stage_transfer_ms", "gauge", "Per-token transfer of the last request.");
    for (const auto& g : s.last->stages) {
      out += fmt::format("baton_stage_transfer_ms{{stage=\"{}\",device=\"{}\"}} {}\n", g.stage, label_value(g.device),
                         g.transfer_ms);
    }
    header(out, "baton_hop_wire_bytes_per_token", "gauge", "Bytes per decode token on each stage's outgoing hop.");
    for (const auto& g : s.last->stages) {
      out += fmt::format("baton_hop_wire_bytes_per_token{{stage=\"{}\",device=\"{}\"}} {}\n", g.stage,
                         label_value(g.device), g.wire_bytes_per_token);
    }
  }
  header(out, "baton_sessions_active", "gauge", "Sessions generating now.");
  out += fmt::format("baton_sessions_active {}\n", s.sessions_active);
  header(out, "baton_sessions_queued", "gauge", "Sessions waiting for a KV slot.");
  out += fmt::format("baton_sessions_queued {}\n", s.sessions_queued);
  header(out, "baton_nodes_up", "gauge", "Nodes joined to the cluster and answering.");
  out += fmt::format("baton_nodes_up {}\n", s.nodes_up);
  header(out, "baton_nodes_planned", "gauge", "Nodes holding a stage of the current plan.");
  out += fmt::format("baton_nodes_planned {}\n", s.nodes_planned);
  header(out, "baton_node_health_decisions_total", "counter",
         "Nodes planned out for heat or battery (at the next session, or now when critical) and planned back in.");
  for (const char* action : {"plan_out", "plan_out_now", "plan_back_in"}) {
    auto it = s.health_decisions.find(action);
    out += fmt::format("baton_node_health_decisions_total{{action=\"{}\"}} {}\n", action,
                       it == s.health_decisions.end() ? 0 : it->second);
  }
  return out;
}

}  // namespace baton
