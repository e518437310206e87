#include "node/coordinator/cluster_status.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace baton {

using nlohmann::json;

namespace {

json optional_json(const auto& v) { return v ? json(*v) : json(nullptr); }

}  // namespace

json cluster_status_json(const ClusterStatus& s) {
  json nodes = json::array();
  for (const NodeStatus& n : s.nodes) {
    json heartbeat = nullptr;
    if (n.telemetry) {
      const Telemetry& t = *n.telemetry;
      heartbeat = {{"age_ms", n.heartbeat_age_ms.value_or(0)},
                   {"sequence", t.sequence},
                   {"uptime_ms", t.uptime_ms},
                   {"rss_mib", t.rss_mib},
                   {"peak_rss_mib", t.peak_rss_mib},
                   {"frames", t.frames},
                   {"batches", t.batches},
                   {"compute_ms", static_cast<double>(t.compute_us) / 1000.0},
                   {"offered_mib", t.offered_mib},
                   {"temperature_c", optional_json(t.temperature_c)},
                   {"throttled", t.throttled},
                   {"battery_percent", optional_json(t.battery_percent)},
                   {"charging", t.charging}};
    }
    nodes.push_back({{"heartbeat", heartbeat},
                     {"id", n.id},
                     {"address", n.address},
                     {"kind", n.kind},
                     {"memory_mib", n.memory_mib},
                     {"compute_gflops", n.compute_gflops},
                     {"bandwidth_gbs", n.bandwidth_gbs},
                     {"figures", n.figures},
                     {"stepped_back", optional_json(n.stepped_back)},
                     {"rtt_ms", optional_json(n.rtt_ms)},
                     {"online", n.online},
                     {"joined", n.joined},
                     {"in_plan", n.in_plan},
                     {"used_mib", optional_json(n.used_mib)},
                     {"sessions", optional_json(n.sessions)}});
  }
  json plan = json::array();
  for (size_t i = 0; i < s.plan.stages.size(); ++i) {
    const PlanStage& st = s.plan.stages[i];
    plan.push_back({{"stage", i},
                    {"device", st.device_id},
                    {"first", st.first},
                    {"last", st.last},
                    {"embedding", st.holds_embed},
                    {"head", st.holds_head},
                    {"memory_mib", st.total_bytes / (1024.0 * 1024.0)},
                    {"predicted_compute_ms", st.stage_ms},
                    {"predicted_link_ms", st.link_ms}});
  }
  json last = nullptr;
  if (s.last) {
    json stages = json::array();
    for (const StageFigures& f : s.last->stages) {
      stages.push_back({{"stage", f.stage},
                        {"device", f.device},
                        {"compute_ms", f.compute_ms},
                        {"transfer_ms", f.transfer_ms},
                        {"wire_bytes_per_token", f.wire_bytes_per_token}});
    }
    // Stamps relative to the first traced step's departure, in ms.
    json trace = json::array();
    const uint64_t origin = s.last->trace.empty() ? 0 : s.last->trace.front().sent_ns;
    auto ms = [origin](uint64_t ns) { return ns >= origin ? static_cast<double>(ns - origin) / 1e6 : 0.0; };
    for (const auto& step : s.last->trace) {
      json st = json::array();
      for (const auto& t : step.stages) {
        st.push_back({{"stage", t.stage},
                      {"received_ms", ms(t.received_ns)},
                      {"sent_ms", ms(t.sent_ns)},
                      {"compute_ms", static_cast<double>(t.compute_us) / 1000.0},
                      {"decode_ms", static_cast<double>(t.decode_us) / 1000.0}});
      }
      trace.push_back({{"sent_ms", ms(step.sent_ns)}, {"received_ms", ms(step.received_ns)}, {"stages", st}});
    }
    last = {{"trace", trace},
            {"prompt_tokens", s.last->prompt_tokens},
            {"completion_tokens", s.last->completion_tokens},
            {"tokens_per_s", s.last->tokens_per_s},
            {"ttft_ms", s.last->ttft_ms},
            {"kv_cache_mib", s.last->kv_cache_mib},
            {"drafted_tokens", s.last->drafted_tokens},
            {"accepted_tokens", s.last->accepted_tokens},
            {"stages", stages}};
  }
  return {{"model", {{"id", s.model_id}, {"layers", s.layers}}},
          {"strategy", s.strategy},
          {"wire", s.wire},
          {"predicted_tokens_per_s", s.plan.tokens_per_s},
          {"nodes", nodes},
          {"plan", plan},
          {"sessions", {{"active", s.sessions_active}, {"queued", s.sessions_queued}, {"max", s.sessions_max}}},
          {"last_request", last},
          {"health_decisions", s.health_decisions}};
}

namespace {

// A member of `j` of the expected JSON type, or the default when absent or null.
template <typename T>
T field(const json& j, const char* key, T fallback, const char* where) {
  if (!j.is_object()) throw std::invalid_argument(fmt::format("{}: expected an object", where));
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw std::invalid_argument(fmt::format("{}.{}: unexpected type {}", where, key, it->type_name()));
  }
}

template <typename T>
std::optional<T> optional_field(const json& j, const char* key, const char* where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return field<T>(j, key, T{}, where);
}

const json& array_field(const json& j, const char* key, const char* where) {
  static const json empty = json::array();
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return empty;
  if (!it->is_array()) throw std::invalid_argument(fmt::format("{}.{}: expected an array", where, key));
  return *it;
}

uint64_t ns_of_ms(double ms) { return ms > 0 ? static_cast<uint64_t>(ms * 1e6 + 0.5) : 0; }

}  // namespace

ClusterStatus cluster_status_from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("cluster status: expected a JSON object");
  ClusterStatus s;
  const json model = j.value("model", json::object());
  s.model_id = field<std::string>(model, "id", "", "model");
  s.layers = field<int>(model, "layers", 0, "model");
  s.strategy = field<std::string>(j, "strategy", "", "status");
  s.wire = field<std::string>(j, "wire", "", "status");
  s.plan.tokens_per_s = field<double>(j, "predicted_tokens_per_s", 0, "status");
  for (const json& n : array_field(j, "nodes", "status")) {
    NodeStatus ns;
    ns.id = field<std::string>(n, "id", "", "nodes[]");
    ns.address = field<std::string>(n, "address", "", "nodes[]");
    ns.kind = field<std::string>(n, "kind", "", "nodes[]");
    ns.memory_mib = field<int64_t>(n, "memory_mib", 0, "nodes[]");
    ns.compute_gflops = field<double>(n, "compute_gflops", 0, "nodes[]");
    ns.bandwidth_gbs = field<double>(n, "bandwidth_gbs", 0, "nodes[]");
    ns.rtt_ms = optional_field<double>(n, "rtt_ms", "nodes[]");
    ns.online = field<bool>(n, "online", false, "nodes[]");
    ns.joined = field<bool>(n, "joined", false, "nodes[]");
    ns.in_plan = field<bool>(n, "in_plan", false, "nodes[]");
    ns.used_mib = optional_field<uint64_t>(n, "used_mib", "nodes[]");
    ns.sessions = optional_field<uint32_t>(n, "sessions", "nodes[]");
    if (auto hb = n.find("heartbeat"); hb != n.end() && hb->is_object()) {
      Telemetry t;
      t.node = ns.id;
      t.sequence = field<uint64_t>(*hb, "sequence", 0, "heartbeat");
      t.uptime_ms = field<uint64_t>(*hb, "uptime_ms", 0, "heartbeat");
      t.rss_mib = field<uint64_t>(*hb, "rss_mib", 0, "heartbeat");
      t.peak_rss_mib = field<uint64_t>(*hb, "peak_rss_mib", 0, "heartbeat");
      t.frames = field<uint64_t>(*hb, "frames", 0, "heartbeat");
      t.batches = field<uint64_t>(*hb, "batches", 0, "heartbeat");
      t.compute_us = static_cast<uint64_t>(field<double>(*hb, "compute_ms", 0, "heartbeat") * 1000.0 + 0.5);
      ns.telemetry = t;
      ns.heartbeat_age_ms = field<int64_t>(*hb, "age_ms", 0, "heartbeat");
    }
    s.nodes.push_back(std::move(ns));
  }
  for (const json& st : array_field(j, "plan", "status")) {
    PlanStage p;
    p.device_id = field<std::string>(st, "device", "", "plan[]");
    p.first = field<int>(st, "first", 0, "plan[]");
    p.last = field<int>(st, "last", 0, "plan[]");
    p.holds_embed = field<bool>(st, "embedding", false, "plan[]");
    p.holds_head = field<bool>(st, "head", false, "plan[]");
    p.total_bytes = field<double>(st, "memory_mib", 0, "plan[]") * 1024.0 * 1024.0;
    p.stage_ms = field<double>(st, "predicted_compute_ms", 0, "plan[]");
    p.link_ms = field<double>(st, "predicted_link_ms", 0, "plan[]");
    s.plan.stages.push_back(std::move(p));
  }
  s.plan.feasible = !s.plan.stages.empty();
  const json sessions = j.value("sessions", json::object());
  s.sessions_active = field<int>(sessions, "active", 0, "sessions");
  s.sessions_queued = field<int>(sessions, "queued", 0, "sessions");
  s.sessions_max = field<int>(sessions, "max", 0, "sessions");
  if (auto last = j.find("last_request"); last != j.end() && last->is_object()) {
    RequestFigures r;
    r.prompt_tokens = field<int32_t>(*last, "prompt_tokens", 0, "last_request");
    r.completion_tokens = field<int32_t>(*last, "completion_tokens", 0, "last_request");
    r.tokens_per_s = field<double>(*last, "tokens_per_s", 0, "last_request");
    r.ttft_ms = field<double>(*last, "ttft_ms", 0, "last_request");
    r.kv_cache_mib = field<double>(*last, "kv_cache_mib", 0, "last_request");
    r.drafted_tokens = field<int32_t>(*last, "drafted_tokens", 0, "last_request");
    r.accepted_tokens = field<int32_t>(*last, "accepted_tokens", 0, "last_request");
    for (const json& f : array_field(*last, "stages", "last_request")) {
      r.stages.push_back({field<uint32_t>(f, "stage", 0, "last_request.stages[]"),
                          field<std::string>(f, "device", "", "last_request.stages[]"),
                          field<double>(f, "compute_ms", 0, "last_request.stages[]"),
                          field<double>(f, "transfer_ms", 0, "last_request.stages[]"),
                          field<double>(f, "wire_bytes_per_token", 0, "last_request.stages[]")});
    }
    for (const json& step : array_field(*last, "trace", "last_request")) {
      PipelineStats::StepTrace t;
      t.sent_ns = ns_of_ms(field<double>(step, "sent_ms", 0, "trace[]"));
      t.received_ns = ns_of_ms(field<double>(step, "received_ms", 0, "trace[]"));
      for (const json& st : array_field(step, "stages", "trace[]")) {
        StageTimingRecord rec;
        rec.stage = field<uint32_t>(st, "stage", 0, "trace[].stages[]");
        rec.received_ns = ns_of_ms(field<double>(st, "received_ms", 0, "trace[].stages[]"));
        rec.sent_ns = ns_of_ms(field<double>(st, "sent_ms", 0, "trace[].stages[]"));
        rec.compute_us = static_cast<uint64_t>(field<double>(st, "compute_ms", 0, "trace[].stages[]") * 1000.0 + 0.5);
        rec.decode_us = static_cast<uint64_t>(field<double>(st, "decode_ms", 0, "trace[].stages[]") * 1000.0 + 0.5);
        t.stages.push_back(rec);
      }
      r.trace.push_back(std::move(t));
    }
    s.last = std::move(r);
  }
  return s;
}

kj::Promise<ClusterStatus> gather_cluster_status(Cluster& cluster, ClusterStatus base, const DiscoveredNodes& discovered) {
  base.plan = cluster.plan();
  base.strategy = std::string(strategy_name(cluster.plan().strategy));
  base.wire = wire_format_name(cluster.config().wire);
  base.layers = cluster.model().hparams().n_layers;
  std::vector<NodeStatus> nodes;
  const auto heard = cluster.telemetry();
  const auto now = std::chrono::steady_clock::now();
  for (const Member& m : cluster.members()) {
    NodeStatus n;
    n.id = m.profile.id;
    n.address = m.address;
    n.kind = m.profile.kind;
    n.memory_mib = static_cast<int64_t>(m.memory_mib);
    n.compute_gflops = m.profile.compute_gflops;
    n.bandwidth_gbs = m.profile.memory_bandwidth_gbs;
    n.figures = describe_figures(m.detected);
    n.rtt_ms = cluster.rtt_ms(m.address);
    n.joined = true;
    if (auto it = heard.find(m.address); it != heard.end()) {
      n.telemetry = it->second.telemetry;
      n.heartbeat_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second.received).count();
    }
    n.in_plan = std::any_of(base.plan.stages.begin(), base.plan.stages.end(),
                            [&](const PlanStage& s) { return s.device_id == m.profile.id; });
    nodes.push_back(std::move(n));
  }
  // Nodes out of the plan for heat or battery: still followed, shown with the reason.
  for (const auto& [address, why] : cluster.stepped_back()) {
    auto it = std::find_if(nodes.begin(), nodes.end(), [&](const NodeStatus& n) { return n.address == address; });
    if (it == nodes.end()) {
      NodeStatus n;
      n.id = address;
      n.address = address;
      n.online = true;
      if (auto h = heard.find(address); h != heard.end()) {
        n.id = h->second.telemetry.node.empty() ? address : h->second.telemetry.node;
        n.telemetry = h->second.telemetry;
        n.heartbeat_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - h->second.received).count();
      }
      it = nodes.insert(nodes.end(), std::move(n));
    }
    it->stepped_back = why;
  }
  base.health_decisions = cluster.health_decisions();
  if (discovered) {
    for (NodeStatus& d : discovered()) {
      const bool member = std::any_of(nodes.begin(), nodes.end(), [&](const NodeStatus& n) { return n.address == d.address; });
      if (!member) nodes.push_back(std::move(d));
    }
  }
  return cluster.probe(2 * kj::SECONDS)
      .then([base = std::move(base), nodes = std::move(nodes)](std::vector<MemberProbe> probes) mutable {
        for (const MemberProbe& p : probes) {
          for (NodeStatus& n : nodes) {
            if (n.joined && n.address == p.address) {
              n.online = p.online;
              if (p.online) {
                n.used_mib = p.used_mib;
                n.sessions = p.sessions;
              }
            }
          }
        }
        base.nodes = std::move(nodes);
        return kj::mv(base);
      });
}

}  // namespace baton
