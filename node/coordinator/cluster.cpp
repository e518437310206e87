#include "node/coordinator/cluster.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <algorithm>
#include <set>

#include "model/cost_profile.h"
#include "model/unicode_utf8.h"
#include "node/model_source.h"
#include "transport/user_errors.h"
#include "transport/sampling_wire.h"

namespace baton {

namespace {

constexpr auto kJoinTimeout = 10 * kj::SECONDS;
constexpr auto kLoadTimeout = 600 * kj::SECONDS;  // shard transfer of a large range
constexpr auto kStepTimeout = 120 * kj::SECONDS;

// Why a node could not join, in a sentence: "10.0.0.7:7100: connection refused (is `baton
// node` running there?)", "refused by phone: wrong cluster secret".
std::string join_failure(const kj::Exception& e) {
  if (e.getType() == kj::Exception::Type::OVERLOADED) return "no answer within the join timeout";
  if (const std::string reason = unreachable_reason(e); !reason.empty()) {
    return reason + " (is `baton node` still running there?)";
  }
  return plain_message(e);
}

}  // namespace

std::string describe_figures(const std::string& detected) {
  if (detected.empty()) return "configured";
  if (detected == "mem,gflops,bw,kind") return "detected";
  return detected + " detected, the rest configured";
}

Cluster::Cluster(kj::AsyncIoContext& io, const Model& model, std::string model_hash, ClusterConfig config)
    : io_(io),
      model_(model),
      model_hash_(std::move(model_hash)),
      config_(std::move(config)),
      health_(config_.health),
      ready_(kj::Promise<void>(kj::READY_NOW).fork()),
      sink_(nullptr),
      source_(kj::heap<ModelSourceServer>(model.file(), model_hash_)) {
  for (const auto& p : config_.peers) candidates_.push_back({p, true});
  telemetry_ = std::make_unique<TelemetrySubscriber>();
  auto router = kj::heap<ResultRouter>(model.hparams().vocab_size);
  router_ = router.get();
  sink_ = kj::mv(router);
}

namespace {

// What a node said about itself, as a member still without its connection. Throws when it
// serves another coordinator.
Member member_from(rpc::NodeInfo::Reader info, const std::string& address) {
  Member m;
  m.address = address;
  if (info.hasServingCoordinator() && info.getServingCoordinator().size() > 0) {
    throw std::runtime_error(fmt::format(
        "{} serves {}; a node serves one coordinator at a time (stop that one, or use another node)",
        std::string(info.getName()), std::string(info.getServingCoordinator())));
  }
  // A node's name enters here: printable UTF-8 of a DNS label's size, or the node is known
  // by its address.
  m.name = info.getName();
  if (m.name.empty() || m.name.size() > 63 || !unicode::is_printable_utf8(m.name)) {
    spdlog::warn("node at {} gave an unusable name ({} bytes, not printable UTF-8 of 1..63); calling it by its address",
                 address, m.name.size());
    m.name = address;
  }
  m.memory_mib = info.getMemoryMib();
  m.detected = info.getDetected();
  if (info.hasTelemetryEndpoint() && info.getTelemetryEndpoint().size() > 0) {
    m.telemetry_endpoint = reachable_endpoint(info.getTelemetryEndpoint(), address.substr(0, address.rfind(':')));
    m.heartbeat_ms = info.getHeartbeatMillis();
    m.heartbeat_key.assign(info.getHeartbeatKey().begin(), info.getHeartbeatKey().end());
  }
  m.profile.id = m.name;
  m.profile.kind = info.getKind();
  m.profile.memory_mib = static_cast<int64_t>(info.getMemoryMib());
  m.profile.compute_gflops = info.getComputeGflops();
  m.profile.memory_bandwidth_gbs = info.getBandwidthGbs();
  return m;
}

// The member with its round-trip time over the RPC connection: best of three pings.
kj::Promise<Member> with_rtt(Member m) {
  auto best = kj::heap<double>(1e9);
  auto ping_once = [](Member& mem, double& b) {
    auto req = mem.joined.node.pingRequest();
    req.setSentNanos(steady_now_ns());
    return req.send().then([&b](capnp::Response<rpc::Node::PingResults> r) {
      b = std::min(b, (steady_now_ns() - r.getSentNanos()) / 1e6);
    });
  };
  auto mem = kj::heap<Member>(kj::mv(m));
  auto& mr = *mem;
  auto& br = *best;
  return ping_once(mr, br)
      .then([&mr, &br, ping_once] { return ping_once(mr, br); })
      .then([&mr, &br, ping_once] { return ping_once(mr, br); })
      .then([mem = kj::mv(mem), best = kj::mv(best)]() mutable {
        mem->rtt_ms = *best;
        return kj::mv(*mem);
      });
}

}  // namespace

kj::Promise<Member> Cluster::join_one(const std::string& address) {
  return dial_and_join(*io_.provider, address, config_.secret, "coordinator")
      .then([address](Joined j) {
        auto req = j.node.describeRequest();
        return req.send().then([j = kj::mv(j), address](capnp::Response<rpc::Node::DescribeResults> r) mutable {
          Member m = member_from(r.getInfo(), address);
          m.joined = kj::mv(j);
          return m;
        });
      })
      .then([](Member m) { return with_rtt(kj::mv(m)); });
}

kj::Promise<void> Cluster::join_all() {
  if (candidates_.empty()) throw std::invalid_argument("no nodes: pass --peers host:port,... or let discovery find some");
  std::vector<std::string> addresses;
  for (const PeerCandidate& c : candidates_) addresses.push_back(c.address);
  if (failover_.everyone_lost(addresses)) throw std::runtime_error("every node of the cluster is gone");
  kj::Vector<kj::Promise<kj::Maybe<Member>>> joins;
  auto& timer = io_.provider->getTimer();
  // Nodes stepped back (heat, battery) sit out, unless every node has: then the cluster
  // runs on them rather than not at all.
  const bool all_stepped_back = std::all_of(candidates_.begin(), candidates_.end(), [this](const PeerCandidate& c) {
    return health_.benched(c.address) || failover_.lost().count(c.address) > 0;
  });
  if (all_stepped_back && !health_.benched_nodes().empty()) {
    spdlog::warn("every node has stepped back (heat or battery): planning with them anyway");
  }
  for (const PeerCandidate& candidate : candidates_) {
    const std::string address = candidate.address;
    if (!failover_.should_try(address)) continue;  // known to be gone
    if (health_.benched(address) && !all_stepped_back) continue;
    const bool required = failover_.join_required(candidate.required);
    joins.add(timer.timeoutAfter(kJoinTimeout, join_one(address))
                  .then([](Member m) -> kj::Maybe<Member> { return kj::mv(m); },
                        [this, address, required](kj::Exception&& e) -> kj::Maybe<Member> {
                          if (required) {
                            throw std::runtime_error(fmt::format("could not join node {}: {}", address,
                                                                 join_failure(e)));
                          }
                          if (failover_.join_failed(address)) {  // tried again when it answers
                            spdlog::warn("node {} is gone, planning without it: {}", address, join_failure(e));
                          } else {
                            note_unused(address, join_failure(e));
                          }
                          return nullptr;
                        }));
  }
  return kj::joinPromises(joins.releaseAsArray()).then([this](kj::Array<kj::Maybe<Member>> results) {
    seat_members(kj::mv(results));
  });
}

void Cluster::seat_members(kj::Array<kj::Maybe<Member>> joined) {
  std::set<std::string> ids;
  members_.clear();
  for (auto& maybe : joined) {
    KJ_IF_MAYBE(found, maybe) admit(kj::mv(*found), ids);
  }
  if (members_.empty()) throw std::runtime_error("no node could join the cluster");
  if (!failover_.tolerates_missing() && members_.size() < config_.min_members) {
    std::string names;
    for (const Member& m : members_) names += (names.empty() ? "" : ", ") + m.address;
    throw std::runtime_error(
        fmt::format("{} node(s) joined ({}), --min-nodes is {}", members_.size(), names, config_.min_members));
  }
  std::map<std::string, HeartbeatSource> endpoints = stepped_back_endpoints_;  // to hear when they recover
  for (const Member& m : members_) {
    if (!m.telemetry_endpoint.empty()) endpoints[m.address] = HeartbeatSource{m.telemetry_endpoint, m.heartbeat_key};
  }
  telemetry_->follow(std::move(endpoints));
  // The heartbeat silence clock of every member starts now: a node frozen right after
  // this (re)plan, never heard on its new subscription, is still caught (ping_loop).
  followed_since_ = std::chrono::steady_clock::now();
}

void Cluster::note_unused(const std::string& address, const std::string& why) {
  // One line per neighbour and reason, not one per attempt.
  std::string& last = skipped_[address];
  if (last != why) {
    spdlog::warn("discovered node {} is not used: {}", address, why);
    last = why;
  } else {
    spdlog::debug("discovered node {} is still not used: {}", address, why);
  }
}

void Cluster::admit(Member m, std::set<std::string>& ids) {
  skipped_.erase(m.address);
  if (auto it = rtt_.find(m.address); it != rtt_.end()) {
    m.rtt_ms = it->second;  // the smoothed figure beats three fresh pings
  } else {
    rtt_[m.address] = m.rtt_ms;
  }
  // Names come from the nodes; make ids unique so the plan can tell them apart.
  std::string id = m.profile.id.empty() ? m.address : m.profile.id;
  for (int n = 2; ids.count(id); ++n) id = fmt::format("{}#{}", m.profile.id, n);
  ids.insert(id);
  m.profile.id = id;
  if (m.profile.kind.empty()) m.profile.kind = "other";
  if (m.profile.memory_mib <= 0) m.profile.memory_mib = int64_t{1} << 24;  // node set no limit
  if (m.profile.compute_gflops <= 0) m.profile.compute_gflops = config_.default_gflops;
  if (m.profile.memory_bandwidth_gbs <= 0) m.profile.memory_bandwidth_gbs = config_.default_bandwidth_gbs;
  m.profile.link_latency_ms = m.rtt_ms / 2;
  m.profile.link_bandwidth_mbps = config_.default_link_mbps;
  spdlog::info("joined {} at {}: {}, {}, {:.1f} GFLOP/s, {:.1f} GB/s ({}), RTT {:.2f} ms", m.profile.id, m.address,
               m.profile.kind, m.memory_mib ? fmt::format("{} MiB", m.memory_mib) : std::string("no memory limit"),
               m.profile.compute_gflops, m.profile.memory_bandwidth_gbs, describe_figures(m.detected), m.rtt_ms);
  members_.push_back(kj::mv(m));
}

kj::Promise<void> Cluster::assemble(AssemblyKind kind) {
  failover_.begin(kind);
  // A recovery replays sessions onto the new plan: keep their quantisation points.
  keep_quant_points_ = kind == AssemblyKind::Recovery;
  auto done = assemble_current()
                  .then([this] { failover_.assembled(); },
                        [this](kj::Exception&& e) {
                          failover_.assembly_failed();
                          kj::throwFatalException(kj::mv(e));
                        })
                  .fork();
  ready_ = done.addBranch().fork();
  return done.addBranch();
}

kj::Promise<uint64_t> Cluster::ready_epoch() {
  return ready_.addBranch().then([this] { return failover_.epoch(); });
}

bool Cluster::is_node_failure(const kj::Exception& e) {
  // DISCONNECTED: a connection on the ring broke (capnp carries the type back along the
  // forward chain). OVERLOADED: kj's timeouts, i.e. a node that stopped answering.
  return e.getType() == kj::Exception::Type::DISCONNECTED || e.getType() == kj::Exception::Type::OVERLOADED;
}

kj::Promise<void> Cluster::recover(uint64_t failed_epoch, const std::string& why) {
  if (!failover_.recovery_needed(failed_epoch)) return ready_.addBranch();  // recovered (or recovering) already
  spdlog::warn("pipeline lost ({}): re-planning over the nodes that still answer", why);
  return assemble_tolerant(AssemblyKind::Recovery, "pipeline recovered");
}

kj::Promise<void> Cluster::rejoin() {
  return assemble_tolerant(AssemblyKind::Rejoin, "re-planned with the nodes that answer");
}

void Cluster::drop_pipeline() {
  stages_.clear();
  first_stage_ = nullptr;
  members_.clear();  // closes the old connections; nodes load their new ranges on request
}

kj::Promise<void> Cluster::assemble_tolerant(AssemblyKind kind, const char* done) {
  drop_pipeline();
  return assemble(kind).then([this, done] { spdlog::info("{}: {} stage(s)", done, plan_.stages.size()); });
}

kj::Promise<bool> Cluster::lost_node_answers(kj::Duration timeout) {
  kj::Vector<kj::Promise<bool>> probes;
  for (const std::string& address : failover_.lost()) {
    if (health_.benched(address)) continue;  // stepped back: it returns by its heartbeats
    auto join = dial_and_join(*io_.provider, address, config_.secret, "coordinator").then([](Joined j) {
      // A node that now serves another coordinator does not count as back.
      return j.node.describeRequest().send().then([j = kj::mv(j)](capnp::Response<rpc::Node::DescribeResults> r) {
        return !r.getInfo().hasServingCoordinator() || r.getInfo().getServingCoordinator().size() == 0;
      });
    });
    probes.add(io_.provider->getTimer().timeoutAfter(timeout, kj::mv(join)).catch_([](kj::Exception&&) { return false; }));
  }
  return kj::joinPromises(probes.releaseAsArray()).then([](kj::Array<bool> answers) {
    return std::any_of(answers.begin(), answers.end(), [](bool a) { return a; });
  });
}

void Cluster::member_lost(const std::string& address, const std::string& why) {
  const bool member = std::any_of(members_.begin(), members_.end(), [&](const Member& m) { return m.address == address; });
  if (!failover_.member_lost(address, member)) return;
  const std::string reason = fmt::format("node {} {}", address, why);
  router_->fail_all(kj::Exception(kj::Exception::Type::DISCONNECTED, __FILE__, __LINE__, kj::str(reason)));
  tasks_.add(recover(failover_.epoch(), reason).catch_([](kj::Exception&& e) {
    spdlog::error("recovery failed: {}", plain_message(e));
  }));
}

kj::Promise<void> Cluster::reassemble(std::vector<PeerCandidate> candidates, std::function<bool()> still_idle) {
  found_no_plan_ = false;
  if (stages_.empty()) {  // nothing serving yet: plan from scratch
    candidates_ = std::move(candidates);
    drop_pipeline();
    return assemble(AssemblyKind::Fresh);
  }
  // A pipeline is serving: first join the peers it does not know, while it keeps serving.
  // When none of them joins (a spoofed or silent announcement) and no member left, the
  // pipeline stays as it is; nothing waited for the probe.
  std::set<std::string> members;
  for (const Member& m : members_) members.insert(m.address);
  bool member_left = false;
  for (const std::string& address : members) {
    member_left |= std::none_of(candidates.begin(), candidates.end(), [&](const PeerCandidate& c) { return c.address == address; });
  }
  kj::Vector<kj::Promise<bool>> probes;
  for (const PeerCandidate& c : candidates) {
    if (members.count(c.address)) continue;
    auto join = dial_and_join(*io_.provider, c.address, config_.secret, "coordinator").then([](Joined j) {
      return j.node.describeRequest().send().then([j = kj::mv(j)](auto) { return true; });
    });
    probes.add(io_.provider->getTimer().timeoutAfter(kJoinTimeout, kj::mv(join)).catch_([this, address = c.address](kj::Exception&& e) {
      note_unused(address, join_failure(e) + "; the pipeline stays as it is");
      return false;
    }));
  }
  return kj::joinPromises(probes.releaseAsArray())
      .then([this, candidates = std::move(candidates), member_left,
             still_idle = std::move(still_idle)](kj::Array<bool> joined) mutable -> kj::Promise<void> {
        if (!member_left && std::none_of(joined.begin(), joined.end(), [](bool j) { return j; })) return kj::READY_NOW;
        if (still_idle && !still_idle()) return kj::READY_NOW;  // a session started meanwhile: next time
        candidates_ = std::move(candidates);
        drop_pipeline();
        return assemble(AssemblyKind::Fresh);
      });
}

std::optional<double> Cluster::rtt_ms(const std::string& address) const {
  auto it = rtt_.find(address);
  if (it == rtt_.end()) return std::nullopt;
  return it->second;
}

kj::Promise<void> Cluster::ping_loop(kj::Duration period, int max_missed) {
  auto& timer = io_.provider->getTimer();
  return timer.afterDelay(period).then([this, period, max_missed, &timer] {
    // Heartbeats: silence longer than max_missed of the node's (or our) periods.
    const auto heard = telemetry_->latest();
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, std::string>> silent;
    for (const Member& m : members_) {
      if (m.telemetry_endpoint.empty()) continue;  // pings alone tell (below)
      // Silent since its last heartbeat or, when none came yet, since it was followed.
      auto it = heard.find(m.address);
      const auto since = it == heard.end() ? followed_since_ : it->second.received;
      const auto allowed = std::chrono::milliseconds(
          std::max<int64_t>(period / kj::MILLISECONDS, m.heartbeat_ms) * max_missed);
      const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - since);
      if (age > allowed) silent.emplace_back(m.address, fmt::format("sent no heartbeat for {} ms", age.count()));
    }
    for (const auto& [address, why] : silent) member_lost(address, why);
    check_health(heard);

    kj::Vector<kj::Promise<void>> pings;
    for (auto& m : members_) {
      const bool has_heartbeats = !m.telemetry_endpoint.empty();
      auto req = m.joined.node.pingRequest();
      req.setSentNanos(steady_now_ns());
      const std::string address = m.address;
      // A ping not answered within the period counts as missed (a sleeping phone keeps
      // its TCP connection open but answers nothing).
      pings.add(timer.timeoutAfter(period, req.send())
                    .then(
                        [this, address](capnp::Response<rpc::Node::PingResults> r) {
                          missed_pings_[address] = 0;
                          const double sample = static_cast<double>(steady_now_ns() - r.getSentNanos()) / 1e6;
                          auto [it, fresh] = rtt_.emplace(address, sample);
                          if (!fresh) it->second = 0.75 * it->second + 0.25 * sample;  // smooth out jitter
                        },
                        [this, address, max_missed, has_heartbeats](kj::Exception&& e) {
                          const int missed = ++missed_pings_[address];
                          spdlog::warn("node {} did not answer a ping ({} in a row): {}", address, missed,
                                       plain_message(e));
                          if (e.getType() == kj::Exception::Type::DISCONNECTED) {
                            member_lost(address, "disconnected");
                          } else if (!has_heartbeats && missed >= max_missed) {
                            member_lost(address, fmt::format("missed {} pings", missed));
                          }
                        }));
    }
    return kj::joinPromises(pings.releaseAsArray()).then([this, period, max_missed] { return ping_loop(period, max_missed); });
  });
}

void Cluster::check_health(const std::map<std::string, TelemetrySubscriber::Sample>& heard) {
  for (const auto& [address, sample] : heard) {
    const Telemetry& t = sample.telemetry;
    auto d = health_.update(address, HealthReading{t.temperature_c, t.throttled, t.battery_percent, t.charging});
    if (!d) continue;
    ++health_decisions_[to_string(d->action)];
    const std::string who = t.node.empty() ? address : fmt::format("{} ({})", t.node, address);
    switch (d->action) {
      case HealthPolicy::Action::plan_out:
      case HealthPolicy::Action::plan_out_now: {
        for (const Member& m : members_) {
          if (m.address == address && !m.telemetry_endpoint.empty()) stepped_back_endpoints_[address] = HeartbeatSource{m.telemetry_endpoint, m.heartbeat_key};
        }
        const bool now = d->action == HealthPolicy::Action::plan_out_now;
        spdlog::warn("node {} steps back {}: {}", who, now ? "now" : "at the next session boundary", d->reason);
        if (now) {
          member_lost(address, "stepped back: " + d->reason);
        } else {
          replan_wanted_ = true;
        }
        break;
      }
      case HealthPolicy::Action::plan_back_in:
        spdlog::info("node {} comes back at the next session boundary: {}", who, d->reason);
        stepped_back_endpoints_.erase(address);
        failover_.forgive(address);
        replan_wanted_ = true;
        break;
    }
  }
}

kj::Promise<void> Cluster::replan_for_health() {
  replan_wanted_ = false;
  return assemble_tolerant(AssemblyKind::Recovery, "re-planned for heat and battery");
}

kj::Promise<std::vector<MemberProbe>> Cluster::probe(kj::Duration timeout) {
  kj::Vector<kj::Promise<MemberProbe>> probes;
  for (auto& m : members_) {
    const std::string address = m.address;
    probes.add(io_.provider->getTimer()
                   .timeoutAfter(timeout, m.joined.node.describeRequest().send())
                   .then(
                       [address](capnp::Response<rpc::Node::DescribeResults> r) {
                         return MemberProbe{address, true, r.getInfo().getUsedMib(), r.getInfo().getSessions()};
                       },
                       [address](kj::Exception&&) { return MemberProbe{address, false, 0, 0}; }));
  }
  return kj::joinPromises(probes.releaseAsArray()).then([](kj::Array<MemberProbe> all) {
    return std::vector<MemberProbe>(all.begin(), all.end());
  });
}

kj::Promise<void> Cluster::assemble_current() {
  return join_all().then([this] {
    std::vector<DeviceProfile> devices;
    for (const auto& m : members_) devices.push_back(m.profile);
    const PlanRequest req = cluster_plan_request(cost_profile_from_gguf(model_.file()), std::move(devices),
                                                 config_.kv_dtype, wire_bytes_per_element(config_.wire));
    SessionPlan sp = plan_for_sessions(req, config_.context, config_.max_sessions, config_.strategy);
    plan_ = std::move(sp.plan);
    found_no_plan_ = !plan_.feasible;
    if (!plan_.feasible) throw std::runtime_error(fmt::format("no plan fits this cluster: {}", plan_.reason));
    if (sp.sessions < config_.max_sessions) {
      spdlog::warn("the nodes' memory holds KV caches for {} session(s) of {} tokens, not {}: serving {} at once",
                   sp.sessions, config_.context, config_.max_sessions, sp.sessions);
    }
    session_slots_ = sp.sessions;
    if (!keep_quant_points_) {
      quant_points_.clear();
      for (size_t i = 0; i + 1 < plan_.stages.size(); ++i) quant_points_.insert(plan_.stages[i].last);
    } else if (config_.wire.codec != ActivationCodec::F32) {
      spdlog::info("activations stay quantised after layers {} as before the failover", fmt::join(quant_points_, ", "));
    }
    for (const auto& s : plan_.stages) {
      spdlog::info("plan ({}): {} holds layers [{}, {}){}{}", strategy_name(plan_.strategy), s.device_id, s.first,
                   s.last, s.holds_embed ? " +embedding" : "", s.holds_head ? " +head" : "");
    }
    return load_and_link();
  });
}

kj::Promise<void> Cluster::load_and_link() {
  kj::Vector<kj::Promise<void>> loads;
  for (size_t i = 0; i < plan_.stages.size(); ++i) {
    const PlanStage& s = plan_.stages[i];
    Member& m = members_[s.device_index];
    auto req = m.joined.node.loadRequest();
    auto a = req.initAssignment();
    a.setModelHash(model_hash_);
    a.setFirst(s.first);
    a.setLast(s.last);
    a.setWithEmbedding(s.holds_embed);
    a.setWithHead(s.holds_head);
    a.setContextLength(static_cast<uint32_t>(config_.context));
    a.setMaxSessions(session_slots_.load());
    a.setKvDtype(config_.kv_dtype == DType::Q8_0 ? "q8_0" : config_.kv_dtype == DType::F32 ? "f32" : "f16");
    a.setMaxFrameRows(config_.prefill_chunk);
    a.setStageIndex(static_cast<uint32_t>(i));
    std::vector<int32_t> inside;
    for (int q : quant_points_) {
      if (q > s.first && q < s.last) inside.push_back(q);
    }
    auto points = a.initQuantizeAfter(static_cast<unsigned>(inside.size()));
    for (unsigned k = 0; k < inside.size(); ++k) points.set(k, inside[k]);
    a.setExactOutput(i + 1 < plan_.stages.size() && !quant_points_.count(s.last));
    req.setSource(source_);
    const std::string who = m.profile.id;
    loads.add(io_.provider->getTimer()
                  .timeoutAfter(kLoadTimeout, req.send())
                  .then([who](capnp::Response<rpc::Node::LoadResults> r) {
                    spdlog::info("{} loaded its layers ({} MiB in use)", who, r.getInfo().getUsedMib());
                  },
                        [who](kj::Exception&& e) -> void {
                          throw std::runtime_error(fmt::format("{} could not load its layers: {}", who,
                                                               plain_message(e)));
                        }));
  }
  return kj::joinPromises(loads.releaseAsArray()).then([this] {
    kj::Vector<kj::Promise<void>> links;
    for (size_t i = 0; i < plan_.stages.size(); ++i) {
      Member& m = members_[plan_.stages[i].device_index];
      auto req = m.joined.node.linkRequest();
      if (i + 1 < plan_.stages.size()) {
        req.setNextAddress(members_[plan_.stages[i + 1].device_index].address);
      } else {
        req.setSink(sink_);
      }
      links.add(req.send().ignoreResult());
      stages_.push_back(m.joined.node.stageRequest().send().getStage());
    }
    first_stage_ = stages_.front();
    return kj::joinPromises(links.releaseAsArray());
  });
}

kj::Promise<StepResult> Cluster::step(uint64_t session, uint64_t step, int64_t pos0, std::vector<int32_t> tokens,
                                      uint32_t top_k, uint32_t batch_group, std::optional<SamplingRequest> sampling,
                                      uint32_t verify_rows) {
  // While the pipeline is being (re)assembled, wait for it.
  return ready_.addBranch().then([this, session, step, pos0, tokens = std::move(tokens), top_k, batch_group,
                                  sampling = std::move(sampling), verify_rows]() mutable {
    return send_step(session, step, pos0, std::move(tokens), top_k, batch_group, sampling, verify_rows);
  });
}

kj::Promise<StepResult> Cluster::send_step(uint64_t session, uint64_t step, int64_t pos0, std::vector<int32_t> tokens,
                                           uint32_t top_k, uint32_t batch_group,
                                           const std::optional<SamplingRequest>& sampling, uint32_t verify_rows,
                                           bool embed) {
  auto result = router_->expect(session, step);
  auto req = first_stage_.forwardRequest();
  auto f = req.initFrame();
  f.setSession(session);
  f.setStep(step);
  f.setPos0(static_cast<uint64_t>(pos0));
  auto list = f.initTokens(static_cast<unsigned>(tokens.size()));
  for (unsigned i = 0; i < tokens.size(); ++i) list.set(i, tokens[i]);
  f.setWire(static_cast<uint32_t>(config_.wire.codec));
  f.setWireZstd(config_.wire.zstd);
  f.setTopK(top_k);
  f.setBatchGroup(batch_group);
  if (sampling) write_sampling(*sampling, f.initSampling());
  f.setVerifyRows(verify_rows);
  f.setEmbed(embed);
  // The forward chain resolves after the last stage has delivered; a failure anywhere on
  // the way comes back here and fails this step.
  tasks_.add(req.send().then([](capnp::Response<rpc::Stage::ForwardResults>) {},
                             [this, session, step](kj::Exception&& e) { router_->fail(session, step, e); }));
  return io_.provider->getTimer().timeoutAfter(kStepTimeout, kj::mv(result));
}

void Cluster::LogFailures::taskFailed(kj::Exception&& e) {
  spdlog::debug("cluster background task: {}", e.getDescription().cStr());
}

void Cluster::abort_steps(const std::string& why) {
  router_->fail_all(kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::str(why)));
}

kj::Promise<void> Cluster::drop_session(uint64_t session) {
  kj::Vector<kj::Promise<void>> drops;
  for (auto& stage : stages_) {
    auto req = stage.dropSessionRequest();
    req.setSession(session);
    drops.add(req.send().ignoreResult().catch_([](kj::Exception&&) {}));
  }
  return kj::joinPromises(drops.releaseAsArray());
}

}  // namespace baton
