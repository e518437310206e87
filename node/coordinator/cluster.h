// The coordinator's view of the pipeline, on the kj event-loop thread: authenticated
// members, the plan, the loaded and linked stages, and the result sink that the last
// stage delivers logits to. step() sends one frame into the ring and resolves when the
// logits come back round.
#pragma once

#include <kj/async-io.h>

#include <atomic>
#include <functional>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "transport/rpc_peer.h"
#include "node/coordinator/failover_core.h"
#include "node/coordinator/health_policy.h"
#include "node/coordinator/result_router.h"
#include "transport/stage_timing.h"
#include "partition/plan.h"
#include "partition/session_plan.h"
#include "transport/activation_frame.h"
#include "transport/telemetry.h"

namespace baton {

struct ClusterConfig {
  std::vector<std::string> peers;  // host:port of nodes
  std::string secret;
  Strategy strategy = Strategy::Memory;
  WireFormat wire;
  int64_t context = 2048;          // per session
  uint32_t max_sessions = 4;
  DType kv_dtype = DType::F16;
  uint32_t prefill_chunk = 64;
  // Figures for nodes that advertise none (their describe() says 0).
  double default_gflops = 50;
  double default_bandwidth_gbs = 20;
  double default_link_mbps = 1000;
  // Nodes that must join before a first plan (--min-nodes); a recovery plans with fewer.
  uint32_t min_members = 1;
  // When a node steps back for heat or battery (and when it comes back).
  HealthThresholds health;
};

// A node to try: static peers (--peers) must join; discovered ones are only a hint and are
// skipped with a warning when they cannot join (wrong secret, gone, ...).
struct PeerCandidate {
  std::string address;
  bool required = true;
  bool operator==(const PeerCandidate&) const = default;
};

struct Member {
  std::string address;
  std::string name;
  Joined joined;
  DeviceProfile profile;
  double rtt_ms = 0;
  uint64_t memory_mib = 0;
  std::string detected;            // which figures the node measured ("mem,gflops,bw,kind" or fewer)
  std::string telemetry_endpoint;  // its ZeroMQ heartbeats ("" if it publishes none)
  std::vector<uint8_t> heartbeat_key;  // they are sealed with (from describe, inside the channel)
  uint32_t heartbeat_ms = 0;
};

struct MemberProbe {
  std::string address;
  bool online = false;
  uint64_t used_mib = 0;
  uint32_t sessions = 0;
};

// "detected", "configured" or "mem,gflops detected, the rest configured": where a node's
// figures came from, for logs and status pages.
std::string describe_figures(const std::string& detected);

class Cluster {
 public:
  Cluster(kj::AsyncIoContext& io, const Model& model, std::string model_hash, ClusterConfig config);

  // Joins every peer (--peers must join), measures RTT, plans, loads and links the stages.
  kj::Promise<void> assemble() { return assemble(AssemblyKind::Fresh); }
  // Assembles a pipeline over `candidates` (membership changed). With a pipeline serving,
  // the peers it does not know are joined first while it keeps serving; only if one joins
  // (or a member left) is the pipeline dropped and re-planned. Steps issued during the
  // re-plan wait until it is done. Call only when no session is active; `still_idle` is
  // asked again before dropping the pipeline after the probe (false: leave it for now).
  kj::Promise<void> reassemble(std::vector<PeerCandidate> candidates, std::function<bool()> still_idle = {});

  // Failover. Every (re)assembly starts a new epoch; sessions' KV caches live only as long
  // as the epoch they were built in. recover() re-plans over the nodes that still answer
  // (every candidate optional), loads and links them: called when a step sent in
  // `failed_epoch` failed because a node went away. Later calls for the same epoch share
  // the first one's recovery.
  kj::Promise<void> recover(uint64_t failed_epoch, const std::string& why);
  uint64_t epoch() const { return failover_.epoch(); }
  // Nodes given up on since the last (re)assembly.
  const std::set<std::string>& lost() const { return failover_.lost(); }
  // Resolves true if any lost node answers again (joins and describes itself within
  // `timeout`): then rejoin() brings it back into the plan.
  kj::Promise<bool> lost_node_answers(kj::Duration timeout);
  // Re-plans over every candidate that answers (all optional; those that do not are lost
  // again). Call only when no session is active.
  kj::Promise<void> rejoin();
  // Resolves with the epoch once the pipeline is ready (after any (re)assembly in progress).
  kj::Promise<uint64_t> ready_epoch();
  // step() without its wait: only in the turn where ready_epoch() resolved (a session
  // checks the epoch is the one holding its KV caches, then sends, with one wait).
  kj::Promise<StepResult> send_step(uint64_t session, uint64_t step, int64_t pos0, std::vector<int32_t> tokens,
                                    uint32_t top_k, uint32_t batch_group, const std::optional<SamplingRequest>& sampling,
                                    uint32_t verify_rows = 0, bool embed = false);
  // True for failures a re-plan can cure: a node disconnected or stopped answering.
  static bool is_node_failure(const kj::Exception& e);
  const std::vector<PeerCandidate>& candidates() const { return candidates_; }
  // Smoothed RTT (ms) to a node, measured over its RPC connection; nullopt if never measured.
  std::optional<double> rtt_ms(const std::string& address) const;
  // Every `period`: pings every member over RPC (a smoothed RTT) and checks its ZeroMQ
  // heartbeats. A member whose connection broke, or whose heartbeats stopped for
  // `max_missed` of its periods (pings, for a node that publishes none), is lost: the
  // steps in flight fail and the cluster recovers without it.
  kj::Promise<void> ping_loop(kj::Duration period, int max_missed = 3);
  // Heat and battery (from heartbeats, checked in ping_loop): a node over a threshold steps
  // back at the next session boundary, or at once (like a lost node) when critical, and
  // comes back once recovered. replan_wanted() says a re-plan is due; call
  // replan_for_health() when no session is active.
  bool replan_wanted() const { return replan_wanted_; }
  kj::Promise<void> replan_for_health();
  // Nodes stepped back and why, by address; decisions taken so far, by action.
  std::map<std::string, std::string> stepped_back() const { return health_.benched_nodes(); }
  const std::map<std::string, uint64_t>& health_decisions() const { return health_decisions_; }
  // The latest heartbeat of each member that sent one, by address.
  std::map<std::string, TelemetrySubscriber::Sample> telemetry() const { return telemetry_->latest(); }
  const Plan& plan() const { return plan_; }
  // Whether the last assembly failed because no plan fits the members (not a join error).
  bool found_no_plan() const { return found_no_plan_; }
  const std::vector<Member>& members() const { return members_; }
  const ClusterConfig& config() const { return config_; }
  const Model& model() const { return model_; }
  // Sessions the current plan reserved KV for on every stage (0 before the first plan).
  // Safe to read from any thread.
  uint32_t session_slots() const { return session_slots_.load(); }

  // Asks every member to describe itself now (bounded by `timeout`): liveness, memory in
  // use and sessions held, for status pages.
  kj::Promise<std::vector<MemberProbe>> probe(kj::Duration timeout);

  // `batch_group`: see Frame.batchGroup (sessions of one group may share a stage batch).
  // With `sampling` the last stage samples the next token (StepResult.sampled) and
  // `top_k` is unused; without, it returns `top_k` logits (0: all). `verify_rows` > 1
  // (with sampling): the tokens are the last sampled token and drafts, verified on the
  // last stage (Frame.verifyRows; StepResult.sampled holds the accepted drafts and one more).
  kj::Promise<StepResult> step(uint64_t session, uint64_t step, int64_t pos0, std::vector<int32_t> tokens,
                               uint32_t top_k, uint32_t batch_group = 0,
                               std::optional<SamplingRequest> sampling = std::nullopt, uint32_t verify_rows = 0);
  kj::Promise<void> drop_session(uint64_t session);
  // Fails every step in flight with `why`: not a node failure, so no recovery follows
  // (a shutting-down coordinator ends its sessions this way).
  void abort_steps(const std::string& why);

 private:
  class LogFailures final : public kj::TaskSet::ErrorHandler {
   public:
    void taskFailed(kj::Exception&& e) override;
  };

  kj::Promise<void> join_all();
  // Dials, joins (handshake), asks the node to describe itself and measures the RTT.
  kj::Promise<Member> join_one(const std::string& address);
  // The nodes that joined become the members (or the assembly fails: none, or fewer than
  // --min-nodes); their heartbeats are followed from now.
  void seat_members(kj::Array<kj::Maybe<Member>> joined);
  void admit(Member m, std::set<std::string>& ids);
  kj::Promise<void> assemble_current();
  kj::Promise<void> assemble(AssemblyKind kind);
  kj::Promise<void> assemble_tolerant(AssemblyKind kind, const char* done);
  void drop_pipeline();  // forget the stages and members before a new assembly
  void member_lost(const std::string& address, const std::string& why);
  void note_unused(const std::string& address, const std::string& why);  // a discovered node that did not join
  void check_health(const std::map<std::string, TelemetrySubscriber::Sample>& heard);
  kj::Promise<void> load_and_link();

  kj::AsyncIoContext& io_;
  const Model& model_;
  std::string model_hash_;
  ClusterConfig config_;
  std::vector<PeerCandidate> candidates_;
  std::vector<Member> members_;
  std::map<std::string, double> rtt_;  // by address, survives re-planning
  std::map<std::string, int> missed_pings_;
  std::unique_ptr<TelemetrySubscriber> telemetry_;
  FailoverCore failover_;  // epochs, lost nodes, who an assembly tries
  HealthPolicy health_;
  std::map<std::string, uint64_t> health_decisions_;
  std::map<std::string, HeartbeatSource> stepped_back_endpoints_;  // still followed while out of the plan
  bool replan_wanted_ = false;
  std::map<std::string, std::string> skipped_;  // discovered nodes not used, and why (logged once)
  std::chrono::steady_clock::time_point followed_since_;  // when the members' heartbeats were last (re)followed
  // Layer boundaries where activations cross the wire codec: the hops of the plan the
  // running sessions started on. A failover keeps them (a node taking over a lost range
  // round-trips the codec at the old boundary inside it; a new boundary goes exact) so
  // replayed sessions compute exactly what they did and greedy text does not change on a
  // lossy wire. A fresh plan, with no session to replay, takes its own hops.
  std::set<int> quant_points_;
  bool keep_quant_points_ = false;
  kj::ForkedPromise<void> ready_;
  Plan plan_;
  bool found_no_plan_ = false;
  std::atomic<uint32_t> session_slots_{0};
  ResultRouter* router_ = nullptr;
  rpc::ResultSink::Client sink_;
  rpc::ModelSource::Client source_;
  rpc::Stage::Client first_stage_ = nullptr;
  std::vector<rpc::Stage::Client> stages_;
  // Work the cluster starts in the background (recoveries, forwards whose failures come
  // back through the router). Last member: destroyed first, cancelling what still
  // refers to the members above.
  LogFailures task_failures_;
  kj::TaskSet tasks_{task_failures_};
};

}  // namespace baton
