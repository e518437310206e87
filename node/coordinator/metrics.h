// What the coordinator has served, for GET /metrics (Prometheus text format) and the
// "last request" part of GET /v1/cluster. Sessions record into it from their own
// threads; rendering is a pure function of a snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "node/coordinator/pipeline_backend.h"

namespace baton {

struct SessionOutcome;

// One stage of the last finished request, per decode token.
struct StageFigures {
  uint32_t stage = 0;
  std::string device;
  double compute_ms = 0;
  double transfer_ms = 0;
  double wire_bytes_per_token = 0;
};

struct RequestFigures {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  double tokens_per_s = 0;
  double ttft_ms = 0;
  double kv_cache_mib = 0;
  // Speculative decoding: draft tokens verified and accepted.
  int32_t drafted_tokens = 0;
  int32_t accepted_tokens = 0;
  std::vector<StageFigures> stages;
  std::vector<PipelineStats::StepTrace> trace;  // the first decode steps
};

// Time-to-first-token histogram buckets (seconds), Prometheus style (cumulative on output).
inline constexpr double kTtftBuckets[] = {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

struct MetricsSnapshot {
  uint64_t requests_ok = 0, requests_failed = 0, requests_cancelled = 0, requests_rejected = 0;
  uint64_t prompt_tokens = 0, completion_tokens = 0;
  uint64_t session_recoveries = 0, replayed_tokens = 0;  // failover
  uint64_t verify_steps = 0, drafted_tokens = 0, accepted_tokens = 0;  // speculative decoding
  std::vector<uint64_t> ttft_bucket_counts;  // one per kTtftBuckets entry, not cumulative
  uint64_t ttft_count = 0;
  double ttft_sum_s = 0;
  // Per stage (by device name as planned when the session ran), summed over requests.
  struct StageTotals {
    std::string device;
    double compute_s = 0, transfer_s = 0;
    uint64_t wire_bytes = 0, decode_tokens = 0;
  };
  std::map<uint32_t, StageTotals> stages;
  std::optional<RequestFigures> last;
  // Live gauges, filled in by the caller at render time.
  int sessions_active = 0, sessions_queued = 0, nodes_up = 0, nodes_planned = 0;
  // Nodes stepping back for heat or battery and coming back, by action (plan_out,
  // plan_out_now, plan_back_in); filled in by the caller from the cluster.
  std::map<std::string, uint64_t> health_decisions;
};

class ServiceMetrics {
 public:
  // A session ended. `stage_devices[i]` names the device serving stage i.
  void record(const SessionOutcome& out, const std::vector<std::string>& stage_devices);
  void record_rejected();
  MetricsSnapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  MetricsSnapshot totals_;
};

// Figures of one finished session.
RequestFigures request_figures(const SessionOutcome& out, const std::vector<std::string>& stage_devices);

// Prometheus text exposition format (version 0.0.4).
std::string render_prometheus(const MetricsSnapshot& s);

}  // namespace baton
