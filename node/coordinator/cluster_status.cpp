#include "node/coordinator/cluster_status.h"

#include <algorithm>
#include <chrono>

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
