#include "tools/simulate/report.h"

#include <fmt/format.h>

#include <algorithm>

namespace baton::sim {

namespace {

using nlohmann::json;

json opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::string num(const std::optional<double>& v, const char* spec = "{:.2f}") {
  return v ? fmt::format(fmt::runtime(spec), *v) : std::string("-");
}

std::string percent(double fraction) { return fmt::format("{:+.0f}%", fraction * 100); }

}  // namespace

void attribute_transfer(RunReport& r) {
  if (r.measured_ms_per_token <= 0 || r.stages.empty()) return;
  double compute = 0, predicted_links = r.predicted_return_ms;
  for (const StageReport& s : r.stages) {
    if (!s.compute_ms) return;  // nothing to subtract: leave transfer unknown
    compute += *s.compute_ms;
    predicted_links += s.predicted_hop_in_ms;
  }
  const double outside = std::max(0.0, r.measured_ms_per_token - compute);
  const double n_hops = static_cast<double>(r.stages.size() + 1);
  auto share = [&](double predicted) { return predicted_links > 0 ? predicted / predicted_links : 1.0 / n_hops; };
  for (StageReport& s : r.stages) s.hop_in_ms = outside * share(s.predicted_hop_in_ms);
  r.return_ms = outside * share(r.predicted_return_ms);
}

bool hops_from_trace(RunReport& r) {
  if (r.trace.empty() || r.stages.empty()) return false;
  std::vector<double> hop(r.stages.size(), 0.0);
  double back = 0;
  size_t tokens = 0;
  for (const TraceToken& t : r.trace) {
    if (t.stages.size() != r.stages.size()) continue;  // not this plan's
    double left = t.sent_ms;
    for (size_t i = 0; i < t.stages.size(); ++i) {
      hop[i] += t.stages[i].received_ms - left;
      left = t.stages[i].sent_ms;
    }
    back += t.received_ms - left;
    ++tokens;
  }
  if (tokens == 0) return false;
  for (size_t i = 0; i < r.stages.size(); ++i) r.stages[i].hop_in_ms = hop[i] / static_cast<double>(tokens);
  r.return_ms = back / static_cast<double>(tokens);
  return true;
}

json to_json(const RunReport& r) {
  json stages = json::array();
  for (const StageReport& s : r.stages) {
    stages.push_back({{"stage", s.stage},
                      {"device", s.device},
                      {"profile", s.profile},
                      {"kind", s.kind},
                      {"first", s.first},
                      {"last", s.last},
                      {"embedding", s.embedding},
                      {"head", s.head},
                      {"memory",
                       {{"cap_mib", s.cap_mib},
                        {"planned_mib", s.planned_mib},
                        {"used_mib", opt(s.used_mib)},
                        {"peak_rss_mib", opt(s.peak_rss_mib)}}},
                      {"gflops", s.gflops},
                      {"effective_gflops", s.effective_gflops},
                      {"pace_factor", s.pace_factor},
                      {"predicted", {{"compute_ms", s.predicted_compute_ms}, {"hop_in_ms", s.predicted_hop_in_ms}}},
                      {"measured",
                       {{"compute_ms", opt(s.compute_ms)},
                        {"hop_in_ms", opt(s.hop_in_ms)},
                        {"wire_bytes_out_per_token", opt(s.wire_bytes_out_per_token)}}}});
  }
  json requests = json::array();
  for (const RequestReport& q : r.requests) {
    requests.push_back({{"prompt_tokens", q.prompt_tokens},
                        {"completion_tokens", q.completion_tokens},
                        {"ttft_ms", q.ttft_ms},
                        {"coordinator_ttft_ms", q.coordinator_ttft_ms},
                        {"decode_tokens_per_s", q.decode_tokens_per_s},
                        {"total_ms", q.total_ms},
                        {"cached_tokens", q.cached_tokens},
                        {"verify_steps", q.verify_steps},
                        {"drafted_tokens", q.drafted_tokens},
                        {"accepted_tokens", q.accepted_tokens},
                        {"predicted", {{"ttft_ms", q.predicted_ttft_ms}, {"decode_tokens_per_s", q.predicted_decode_tokens_per_s}}}});
  }
  json trace = json::array();
  for (const TraceToken& t : r.trace) {
    json st = json::array();
    for (const TraceStage& s : t.stages) {
      st.push_back({{"stage", s.stage}, {"received_ms", s.received_ms}, {"sent_ms", s.sent_ms}, {"compute_ms", s.compute_ms}});
    }
    trace.push_back({{"sent_ms", t.sent_ms}, {"received_ms", t.received_ms}, {"stages", st}});
  }
  return {{"cluster", r.cluster},
          {"strategy", r.strategy},
          {"model", r.model},
          {"wire", r.wire},
          {"speculative", r.speculative.empty() ? json() : json(r.speculative)},
          {"layers", r.layers},
          {"context", r.context},
          {"sessions", r.sessions},
          {"host_gflops", r.host_gflops},
          {"time_scale", r.time_scale},
          {"stages", stages},
          {"predicted",
           {{"position", r.predicted_position},
            {"return_ms", r.predicted_return_ms},
            {"ms_per_token", r.predicted_ms_per_token},
            {"tokens_per_s", r.predicted_tokens_per_s},
            {"request_tokens_per_s", r.predicted_request_tokens_per_s},
            {"ttft_ms", r.predicted_ttft_ms}}},
          {"measured",
           {{"return_ms", opt(r.return_ms)},
            {"ms_per_token", r.measured_ms_per_token},
            {"tokens_per_s", r.measured_tokens_per_s},
            {"throughput_tokens_per_s", r.throughput_tokens_per_s},
            {"ttft_ms", r.ttft_ms},
            {"coordinator_ttft_ms", r.coordinator_ttft_ms},
            {"wall_s", r.wall_s}}},
          {"tokens_per_s_error", r.tokens_per_s_error()},
          {"ttft_error", r.ttft_error()},
          {"requests", requests},
          {"trace", trace},
          {"notes", r.notes}};
}

std::string render_table(const RunReport& r) {
  std::string out;
  out += fmt::format("Cluster {}: strategy {}, {} layers, context {} x {} session(s), wire {}\n", r.cluster, r.strategy,
                     r.layers, r.context, r.sessions, r.wire);
  out += fmt::format("Model {}; this machine {:.1f} GFLOP/s (1 thread, this model)", r.model, r.host_gflops);
  if (r.time_scale != 1) out += fmt::format("; ran {:.2f}x slower than real time, figures scaled back", r.time_scale);
  out += "\n\nPlan and memory\n";
  out += fmt::format("  {:<5} {:<12} {:<8} {:<9} {:>10} {:>10} {:>10} {:>10} {:>9} {:>10}\n", "stage", "device", "kind",
                     "layers", "cap MiB", "plan MiB", "used MiB", "peak RSS", "GFLOP/s", "paced");
  for (const StageReport& s : r.stages) {
    std::string layers = fmt::format("[{},{}){}{}", s.first, s.last, s.embedding ? "e" : "", s.head ? "h" : "");
    out += fmt::format("  {:<5} {:<12} {:<8} {:<9} {:>10.0f} {:>10.1f} {:>10} {:>10} {:>9.0f} {:>10}\n", s.stage,
                       s.device, s.kind, layers, s.cap_mib, s.planned_mib, num(s.used_mib, "{:.0f}"),
                       num(s.peak_rss_mib, "{:.1f}"), s.effective_gflops,
                       s.pace_factor > 1 ? fmt::format("x{:.2f}", s.pace_factor) : std::string("no"));
  }
  out += "  (layers: e = +embedding, h = +head; GFLOP/s: effective, the roofline of compute and bandwidth)\n";

  out += "\nPer decoded token (ms): predicted vs measured\n";
  out += fmt::format("  {:<12} {:>10} {:>10} {:>10} {:>10} {:>11} {:>11} {:>12}\n", "device", "compute", "measured",
                     "hop in", "measured", "stage t/s", "measured", "bytes out");
  for (const StageReport& s : r.stages) {
    const double pred = s.predicted_compute_ms + s.predicted_hop_in_ms;
    std::optional<double> meas;
    if (s.compute_ms && s.hop_in_ms) meas = *s.compute_ms + *s.hop_in_ms;
    out += fmt::format("  {:<12} {:>10.3f} {:>10} {:>10.3f} {:>10} {:>11.0f} {:>11} {:>12}\n", s.device,
                       s.predicted_compute_ms, num(s.compute_ms, "{:.3f}"), s.predicted_hop_in_ms,
                       num(s.hop_in_ms, "{:.3f}"), pred > 0 ? 1000 / pred : 0.0,
                       meas && *meas > 0 ? fmt::format("{:.0f}", 1000 / *meas) : std::string("-"),
                       num(s.wire_bytes_out_per_token, "{:.0f}"));
  }
  out += fmt::format("  {:<12} {:>10} {:>10} {:>10.3f} {:>10}\n", "return hop", "", "", r.predicted_return_ms,
                     num(r.return_ms, "{:.3f}"));
  out += fmt::format("  {:<12} {:>10} {:>10} {:>10.3f} {:>10.3f}\n", "total", "", "", r.predicted_ms_per_token,
                     r.measured_ms_per_token);
  out += r.trace.empty()
             ? "  (stage t/s: 1000 / (compute + hop in); measured hops: time per token outside compute, split in\n"
               "   proportion to the predicted hops)\n"
             : fmt::format("  (stage t/s: 1000 / (compute + hop in); measured hops: sender's departure to receiver's\n"
                           "   arrival, over the first {} decoded tokens of the last request)\n",
                           r.trace.size());

  out += fmt::format("\nDecode {:.1f} tokens/s predicted, {:.1f} measured ({}); throughput {:.1f} tokens/s\n",
                     r.predicted_request_tokens_per_s, r.measured_tokens_per_s, percent(r.tokens_per_s_error()),
                     r.throughput_tokens_per_s);
  int tokens = 0, verified = 0;
  for (const RequestReport& q : r.requests) {
    tokens += q.completion_tokens;
    verified += q.verify_steps;
  }
  if (verified > 0) {
    out += fmt::format("  (predicted from the requests' {} speculative verifications, each one frame of its drafts + 1 "
                       "rows; one row per token would be {:.1f} tokens/s)\n",
                       verified, r.predicted_tokens_per_s);
  }
  out += fmt::format("Time to first token {:.1f} ms predicted, {:.1f} measured ({}), {:.1f} of them inside the "
                     "coordinator (admission to first token, no HTTP); mean of {} requests, {} tokens generated, {:.1f} s\n",
                     r.predicted_ttft_ms, r.ttft_ms, percent(r.ttft_error()), r.coordinator_ttft_ms, r.requests.size(),
                     tokens, r.wall_s);
  for (const std::string& n : r.notes) out += "note: " + n + "\n";
  return out;
}

std::string render_comparison(const std::vector<RunReport>& runs) {
  std::string out = fmt::format("\n{:<26}", "");
  for (const RunReport& r : runs) {
    out += fmt::format(" {:>24}", r.speculative.empty() ? r.strategy : r.strategy + ", speculative " + r.speculative);
  }
  out += "\n";
  auto row = [&](const std::string& label, auto cell) {
    out += fmt::format("{:<26}", label);
    for (const RunReport& r : runs) out += fmt::format(" {:>24}", cell(r));
    out += "\n";
  };
  row("plan", [](const RunReport& r) {
    std::string s;
    for (const StageReport& st : r.stages) s += fmt::format("{}{}:{}", s.empty() ? "" : " ", st.device, st.last - st.first);
    return s;
  });
  row("predicted tokens/s", [](const RunReport& r) { return fmt::format("{:.1f}", r.predicted_request_tokens_per_s); });
  row("measured tokens/s", [](const RunReport& r) { return fmt::format("{:.1f}", r.measured_tokens_per_s); });
  row("measured vs predicted", [](const RunReport& r) { return percent(r.tokens_per_s_error()); });
  row("predicted first token ms", [](const RunReport& r) { return fmt::format("{:.1f}", r.predicted_ttft_ms); });
  row("time to first token ms", [](const RunReport& r) { return fmt::format("{:.1f}", r.ttft_ms); });
  row("measured vs predicted", [](const RunReport& r) { return percent(r.ttft_error()); });
  row("throughput tokens/s", [](const RunReport& r) { return fmt::format("{:.1f}", r.throughput_tokens_per_s); });
  return out;
}

std::vector<SpeculativeEntry> speculative_entries(const std::vector<RunReport>& runs) {
  std::vector<SpeculativeEntry> out;
  for (const RunReport& r : runs) {
    SpeculativeEntry e;
    e.mode = r.speculative.empty() ? "default" : r.speculative;
    e.strategy = r.strategy;
    e.decode_tokens_per_s = r.measured_tokens_per_s;
    e.predicted_decode_tokens_per_s = r.predicted_request_tokens_per_s;
    for (const RequestReport& q : r.requests) {
      e.drafted_tokens += q.drafted_tokens;
      e.accepted_tokens += q.accepted_tokens;
    }
    e.acceptance = e.drafted_tokens > 0 ? static_cast<double>(e.accepted_tokens) / e.drafted_tokens : 0.0;
    for (const RunReport& base : runs) {
      if (base.speculative != "off" || base.strategy != r.strategy) continue;
      bool same = base.requests.size() == r.requests.size();
      for (size_t i = 0; same && i < r.requests.size(); ++i) same = base.requests[i].text == r.requests[i].text;
      e.text_identical = same;
      if (base.measured_tokens_per_s > 0) e.speedup = r.measured_tokens_per_s / base.measured_tokens_per_s;
      break;
    }
    out.push_back(std::move(e));
  }
  return out;
}

json to_json(const std::vector<SpeculativeEntry>& entries) {
  json out = json::array();
  for (const SpeculativeEntry& e : entries) {
    out.push_back({{"mode", e.mode},
                   {"strategy", e.strategy},
                   {"decode_tokens_per_s", e.decode_tokens_per_s},
                   {"predicted_decode_tokens_per_s", e.predicted_decode_tokens_per_s},
                   {"acceptance", e.acceptance},
                   {"drafted_tokens", e.drafted_tokens},
                   {"accepted_tokens", e.accepted_tokens},
                   {"text_identical", e.text_identical ? json(*e.text_identical) : json()},
                   {"speedup", e.speedup > 0 ? json(e.speedup) : json()}});
  }
  return out;
}

std::string render_speculative(const std::vector<SpeculativeEntry>& entries) {
  std::string out = fmt::format("\n{:<26}", "speculative decoding");
  for (const SpeculativeEntry& e : entries) out += fmt::format(" {:>16}", e.mode + " (" + e.strategy + ")");
  out += "\n";
  auto row = [&](const std::string& label, auto cell) {
    out += fmt::format("{:<26}", label);
    for (const SpeculativeEntry& e : entries) out += fmt::format(" {:>16}", cell(e));
    out += "\n";
  };
  row("decode tokens/s", [](const SpeculativeEntry& e) { return fmt::format("{:.1f}", e.decode_tokens_per_s); });
  row("predicted from drafts", [](const SpeculativeEntry& e) {
    return e.predicted_decode_tokens_per_s > 0 ? fmt::format("{:.1f}", e.predicted_decode_tokens_per_s) : std::string("-");
  });
  row("vs off", [](const SpeculativeEntry& e) { return e.speedup > 0 ? fmt::format("{:.2f}x", e.speedup) : std::string("-"); });
  row("drafts accepted", [](const SpeculativeEntry& e) {
    return e.drafted_tokens > 0 ? fmt::format("{}/{} ({:.0f}%)", e.accepted_tokens, e.drafted_tokens, 100 * e.acceptance)
                                : std::string("none");
  });
  row("text identical to off", [](const SpeculativeEntry& e) {
    return e.text_identical ? std::string(*e.text_identical ? "yes" : "NO") : std::string("-");
  });
  return out;
}

}  // namespace baton::sim
