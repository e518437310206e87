#include "node/coordinator/cluster.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <algorithm>
#include <set>

#include "model/cost_profile.h"
#include "node/model_source.h"
#include "transport/sampling_wire.h"

namespace baton {

namespace {

constexpr auto kJoinTimeout = 10 * kj::SECONDS;
constexpr auto kLoadTimeout = 600 * kj::SECONDS;  // shard transfer of a large range
constexpr auto kStepTimeout = 120 * kj::SECONDS;

}  // namespace

Cluster::Cluster(kj::AsyncIoContext& io, const Model& model, std::string model_hash, ClusterConfig config)
    : io_(io),
      model_(model),
      model_hash_(std::move(model_hash)),
      config_(std::move(config)),
      ready_(kj::Promise<void>(kj::READY_NOW).fork()),
      sink_(nullptr),
      source_(kj::heap<ModelSourceServer>(model.file(), model_hash_)) {
  for (const auto& p : config_.peers) candidates_.push_back({p, true});
  telemetry_ = std::make_unique<TelemetrySubscriber>();
  auto router = kj::heap<ResultRouter>(model.hparams().vocab_size);
  router_ = router.get();
  sink_ = kj::mv(router);
}

kj::Promise<void> Cluster::join_all() {
  if (candidates_.empty()) throw std::invalid_argument("no nodes: pass --peers host:port,... or let discovery find some");
  std::vector<std::string> addresses;
  for (const PeerCandidate& c : candidates_) addresses.push_back(c.address);
  if (failover_.everyone_lost(addresses)) throw std::runtime_error("every node of the cluster is gone");
  kj::Vector<kj::Promise<kj::Maybe<Member>>> joins;
  auto& timer = io_.provider->getTimer();
  for (const PeerCandidate& candidate : candidates_) {
    const std::string address = candidate.address;
    if (!failover_.should_try(address)) continue;  // known to be gone
    const bool required = failover_.join_required(candidate.required);
    auto p = dial_and_join(io_.provider->getNetwork(), address, config_.secret, "coordinator")
                 .then([address](Joined j) {
                   auto req = j.node.describeRequest();
                   return req.send().then([j = kj::mv(j), address](capnp::Response<rpc::Node::DescribeResults> r) mutable {
                     Member m;
                     m.address = address;
                     auto info = r.getInfo();
                     m.name = info.getName();
                     m.memory_mib = info.getMemoryMib();
                     if (info.hasTelemetryEndpoint() && info.getTelemetryEndpoint().size() > 0) {
                       m.telemetry_endpoint = reachable_endpoint(info.getTelemetryEndpoint(),
                                                                 address.substr(0, address.rfind(':')));
                       m.heartbeat_ms = info.getHeartbeatMillis();
                     }
                     m.profile.id = m.name;
                     m.profile.kind = info.getKind();
                     m.profile.memory_mib = static_cast<int64_t>(info.getMemoryMib());
                     m.profile.compute_gflops = info.getComputeGflops();
                     m.profile.memory_bandwidth_gbs = info.getBandwidthGbs();
                     m.joined = kj::mv(j);
                     return m;
                   });
                 })
                 .then([](Member m) {
                   // Round-trip time over the RPC connection: best of three pings.
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
                 });
    joins.add(timer.timeoutAfter(kJoinTimeout, kj::mv(p))
                  .then([](Member m) -> kj::Maybe<Member> { return kj::mv(m); },
                        [this, address, required](kj::Exception&& e) -> kj::Maybe<Member> {
                          if (required) {
                            throw std::runtime_error(fmt::format("could not join node {}: {}", address,
                                                                 e.getDescription().cStr()));
                          }
                          if (failover_.join_failed(address)) {  // tried again when it answers
                            spdlog::warn("node {} is gone, planning without it: {}", address, e.getDescription().cStr());
                          } else {
                            spdlog::warn("discovered node {} is not used: {}", address, e.getDescription().cStr());
                          }
                          return nullptr;
                        }));
  }
  return kj::joinPromises(joins.releaseAsArray()).then([this](kj::Array<kj::Maybe<Member>> results) {
    std::set<std::string> ids;
    members_.clear();
    for (auto& maybe : results) {
      KJ_IF_MAYBE(found, maybe) admit(kj::mv(*found), ids);
    }
    if (members_.empty()) throw std::runtime_error("no node could join the cluster");
    std::map<std::string, std::string> endpoints;
    for (const Member& m : members_) {
      if (!m.telemetry_endpoint.empty()) endpoints[m.address] = m.telemetry_endpoint;
    }
    telemetry_->follow(std::move(endpoints));
  });
}

void Cluster::admit(Member m, std::set<std::string>& ids) {
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
  spdlog::info("joined {} at {}: {} MiB, {:.0f} GFLOP/s, RTT {:.2f} ms", m.profile.id, m.address, m.memory_mib,
               m.profile.compute_gflops, m.rtt_ms);
  members_.push_back(kj::mv(m));
}

kj::Promise<void> Cluster::assemble(AssemblyKind kind) {
  failover_.begin(kind);
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
    auto join = dial_and_join(io_.provider->getNetwork(), address, config_.secret, "coordinator").then([](Joined j) {
      return j.node.describeRequest().send().then([j = kj::mv(j)](auto) { return true; });
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
    spdlog::error("recovery failed: {}", e.getDescription().cStr());
  }));
}

kj::Promise<void> Cluster::reassemble(std::vector<PeerCandidate> candidates) {
  candidates_ = std::move(candidates);
  drop_pipeline();
  return assemble(AssemblyKind::Fresh);
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
      auto it = heard.find(m.address);
      if (m.telemetry_endpoint.empty() || it == heard.end()) continue;  // not heard yet: no verdict
      const auto allowed = std::chrono::milliseconds(
          std::max<int64_t>(period / kj::MILLISECONDS, m.heartbeat_ms) * max_missed);
      const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second.received);
      if (age > allowed) silent.emplace_back(m.address, fmt::format("sent no heartbeat for {} ms", age.count()));
    }
    for (const auto& [address, why] : silent) member_lost(address, why);

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
                                       e.getDescription().cStr());
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
    if (!plan_.feasible) throw std::runtime_error(fmt::format("no plan fits this cluster: {}", plan_.reason));
    if (sp.sessions < config_.max_sessions) {
      spdlog::warn("the nodes' memory holds KV caches for {} session(s) of {} tokens, not {}: serving {} at once",
                   sp.sessions, config_.context, config_.max_sessions, sp.sessions);
    }
    session_slots_ = sp.sessions;
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
    req.setSource(source_);
    const std::string who = m.profile.id;
    loads.add(io_.provider->getTimer()
                  .timeoutAfter(kLoadTimeout, req.send())
                  .then([who](capnp::Response<rpc::Node::LoadResults> r) {
                    spdlog::info("{} loaded its layers ({} MiB in use)", who, r.getInfo().getUsedMib());
                  },
                        [who](kj::Exception&& e) -> void {
                          throw std::runtime_error(fmt::format("{} could not load its layers: {}", who,
                                                               e.getDescription().cStr()));
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
                                      uint32_t top_k, uint32_t batch_group, std::optional<SamplingRequest> sampling) {
  // While the pipeline is being (re)assembled, wait for it.
  return ready_.addBranch().then([this, session, step, pos0, tokens = std::move(tokens), top_k, batch_group,
                                  sampling = std::move(sampling)]() mutable {
    return send_step(session, step, pos0, std::move(tokens), top_k, batch_group, sampling);
  });
}

kj::Promise<StepResult> Cluster::send_step(uint64_t session, uint64_t step, int64_t pos0, std::vector<int32_t> tokens,
                                           uint32_t top_k, uint32_t batch_group,
                                           const std::optional<SamplingRequest>& sampling) {
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
