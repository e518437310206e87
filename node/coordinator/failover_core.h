// The coordinator's failover decisions, without I/O (like discovery/responder_core): which
// epoch the pipeline is in, which nodes are lost, who an assembly tries and whether a
// node that cannot join is fatal, when a failed step starts a recovery and when it only
// waits for one. `Cluster` feeds it events and does what it says; the tests script it.
//
// Every (re)assembly starts a new epoch; sessions' KV caches live only as long as the
// epoch they were built in.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace baton {

// Why the pipeline is being (re)built; the kind decides who is tried.
enum class AssemblyKind {
  Fresh,     // a new membership (start, discovery): static peers must join, lost ones forgiven
  Recovery,  // a node went away mid-generation: every candidate optional, lost ones skipped
  Rejoin,    // between sessions, lost nodes answer again: everyone tried, all optional
};

enum class PipelineState { None, Assembling, Ready, Failed };

class FailoverCore {
 public:
  // An assembly of `kind` begins; returns its epoch.
  uint64_t begin(AssemblyKind kind);
  void assembled();  // the current epoch's pipeline is loaded and linked
  void assembly_failed();

  // For the assembly under way: try this candidate at all?
  bool should_try(const std::string& address) const;
  // ... and is it fatal if this candidate cannot join? (`required`: a static peer)
  bool join_required(bool required) const;
  // A candidate could not join: during a recovery or rejoin it is lost (and tried again
  // when it answers). Returns true if it was recorded as lost.
  bool join_failed(const std::string& address);
  // Every candidate is known to be lost: a recovery has no one to try.
  bool everyone_lost(const std::vector<std::string>& candidates) const;

  // A member of the pipeline went away (broken connection, silent heartbeats). Returns
  // true if the caller must fail the steps in flight and start a recovery now; false if
  // one is already under way (it will not wait for this node) or it was no member.
  bool member_lost(const std::string& address, bool is_member);
  // A step sent in `failed_epoch` failed because a node went away: does it need a new
  // recovery (true), or has one been started (or finished) since (false: wait for it)?
  bool recovery_needed(uint64_t failed_epoch) const;

  // A lost node is known to be back (its heartbeats say it recovered from heat or battery):
  // the next assembly tries it again.
  void forgive(const std::string& address) { lost_.erase(address); }
  // Does the assembly under way go on without candidates that do not join (a recovery or
  // rejoin), rather than fail (a fresh membership)?
  bool tolerates_missing() const { return tolerant(); }

  // Between sessions: is there a lost node worth probing?
  bool has_lost() const { return !lost_.empty(); }

  uint64_t epoch() const { return epoch_; }
  PipelineState state() const { return state_; }
  AssemblyKind kind() const { return kind_; }
  const std::set<std::string>& lost() const { return lost_; }

 private:
  bool tolerant() const { return state_ == PipelineState::Assembling && kind_ != AssemblyKind::Fresh; }

  uint64_t epoch_ = 0;
  PipelineState state_ = PipelineState::None;
  AssemblyKind kind_ = AssemblyKind::Fresh;
  std::set<std::string> lost_;
};

}  // namespace baton
