// What one simulation found, next to what the planner predicted: the data, its JSON form
// (report.json) and the terminal tables. Pure functions of the data.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace baton::sim {

struct StageReport {
  int stage = 0;
  std::string device;      // the device's name in the cluster file
  std::string profile;     // its profile id
  std::string kind;
  int first = 0, last = 0;  // layers [first, last)
  bool embedding = false, head = false;

  // Memory (MiB): the device's cap (the node's --memory), the planner's figure for this
  // range, the node's own accounting (weights + KV), and the process's peak RSS.
  double cap_mib = 0;
  double planned_mib = 0;
  std::optional<double> used_mib;
  std::optional<double> peak_rss_mib;

  // Compute speed: the profile's, the effective one the planner charges (roofline), and
  // the pacing applied (factor > 1) or why not.
  double gflops = 0;
  double effective_gflops = 0;
  double pace_factor = 1;

  // Per decoded token, ms. Hop "in": the link that brings this stage its input.
  double predicted_compute_ms = 0;
  double predicted_hop_in_ms = 0;
  std::optional<double> compute_ms;   // measured (the stages' timings, paced)
  std::optional<double> hop_in_ms;    // measured round trip minus compute, attributed
  std::optional<double> wire_bytes_out_per_token;  // measured, what this stage sends on
};

struct RequestReport {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  double ttft_ms = 0;             // request sent -> first token received (client side)
  double coordinator_ttft_ms = 0; // admission -> first token, as the coordinator timed it (no HTTP)
  double decode_tokens_per_s = 0; // after the first token
  double total_ms = 0;
  std::string text;         // the reply (greedy: compared across speculative modes)
  int cached_tokens = 0;    // of the prompt, held by the prompt cache (the response's baton object)
  int verify_steps = 0;     // speculative decoding: verifications, drafts sent and accepted
  int drafted_tokens = 0;
  int accepted_tokens = 0;
  // What the cost model predicts for this request, given its prompt, cache hits and
  // (speculative decoding) verifications: the same formula the simulated devices are
  // paced with, so a gap is the simulation's overhead, not a different model.
  double predicted_ttft_ms = 0;
  double predicted_decode_tokens_per_s = 0;
};

// One decoded token as it travelled (from the coordinator's trace of the last request),
// ms since the first traced token left the coordinator, scaled back to real time.
struct TraceStage {
  int stage = 0;
  double received_ms = 0, sent_ms = 0, compute_ms = 0;
};
struct TraceToken {
  double sent_ms = 0, received_ms = 0;
  std::vector<TraceStage> stages;
};

struct RunReport {
  std::string cluster;      // file name
  std::string strategy;
  std::string model;        // path
  std::string wire;
  std::string speculative;  // the coordinator's --speculative ("" : its default)
  int layers = 0;
  int64_t context = 0;
  int sessions = 1;
  double host_gflops = 0;   // this machine, single thread, on this model
  double time_scale = 1;    // the run was this many times slower than the simulated cluster
  double predicted_position = 0;  // decode position the prediction is for

  std::vector<StageReport> stages;
  double predicted_return_ms = 0;  // last stage -> coordinator
  double predicted_ms_per_token = 0;
  double predicted_tokens_per_s = 0;     // one row per token (no speculation)
  // Means over the requests of their own predictions (RequestReport): decode with the
  // speculation each one saw, and time to first token.
  double predicted_request_tokens_per_s = 0;
  double predicted_ttft_ms = 0;

  std::optional<double> return_ms;  // measured, attributed like the hops
  double measured_tokens_per_s = 0; // mean over requests of decode tokens/s
  double measured_ms_per_token = 0;
  double throughput_tokens_per_s = 0;  // all completion tokens / workload wall time
  double ttft_ms = 0;               // mean
  double coordinator_ttft_ms = 0;   // mean, admission -> first token at the coordinator
  double wall_s = 0;
  std::vector<RequestReport> requests;
  std::vector<TraceToken> trace;    // measured, the first decode tokens of the last request
  std::vector<std::string> notes;

  // measured / predicted - 1 (e.g. -0.08: 8 % slower than predicted)
  double tokens_per_s_error() const {
    return predicted_request_tokens_per_s > 0 ? measured_tokens_per_s / predicted_request_tokens_per_s - 1 : 0;
  }
  double ttft_error() const { return predicted_ttft_ms > 0 ? ttft_ms / predicted_ttft_ms - 1 : 0; }
};

// Hop-in and return ms per token measured from the trace: each hop from its sender's
// departure stamp to its receiver's arrival stamp (one machine, one clock), averaged over
// the traced tokens. False (nothing set) without a trace of this plan.
bool hops_from_trace(RunReport& r);

// Without a trace: splits the measured time per token that is not compute over the hops
// in proportion to their predicted times.
void attribute_transfer(RunReport& r);

nlohmann::json to_json(const RunReport& r);
std::string render_table(const RunReport& r);
// Two or more runs of the same cluster (e.g. --compare memory,latency) side by side.
std::string render_comparison(const std::vector<RunReport>& runs);

// Runs of one cluster with speculative decoding off and on (--speculative off,on): one
// entry per run with its mode, decode tokens/s, acceptance (accepted / drafted drafts),
// and whether every reply's text equals the `off` run's (greedy: it must).
struct SpeculativeEntry {
  std::string mode;
  std::string strategy;
  double decode_tokens_per_s = 0;
  // The cost model's figure given this run's acceptance (its verifications as frames of
  // drafts + 1 rows): RunReport::predicted_request_tokens_per_s.
  double predicted_decode_tokens_per_s = 0;
  double acceptance = 0;
  int drafted_tokens = 0, accepted_tokens = 0;
  std::optional<bool> text_identical;  // unset without an `off` run of the same strategy
  double speedup = 0;                  // decode tokens/s over the `off` run's (0: none)
};
std::vector<SpeculativeEntry> speculative_entries(const std::vector<RunReport>& runs);
nlohmann::json to_json(const std::vector<SpeculativeEntry>& entries);
std::string render_speculative(const std::vector<SpeculativeEntry>& entries);

}  // namespace baton::sim
