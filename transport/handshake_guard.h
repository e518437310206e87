// Admission for connections that have not proved anything yet: at most a few pending
// handshakes per source address and in total, and a token bucket of handshake attempts
// per source so that a weak secret can only be guessed online, slowly. A pure core fed
// with the time; RpcListener does the I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace baton {

struct HandshakeLimits {
  size_t pending_per_source = 8;    // handshakes in progress from one address
  size_t pending_total = 128;       // in progress from everyone (one is evicted beyond)
  double attempts_burst = 10;       // failed handshakes a source may spend at once...
  double attempts_per_second = 0.2; // ...and then one per 5 s
  size_t tracked_sources = 4096;    // bound on the per-source table
};

class HandshakeGuard {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict {
    admit,
    admit_evicting_oldest,  // admitted; the caller drops a pending handshake (handshake_to_evict)
    too_many_pending,       // this source already has pending_per_source handshakes
    too_many_failures,      // this source's bucket is empty; retry_after_s says when
  };
  struct Admission {
    Verdict verdict;
    double retry_after_s = 0;
  };

  explicit HandshakeGuard(HandshakeLimits limits = {}) : limits_(limits) {}

  // A new connection from `source`. An admitted one is pending and holds one attempt
  // from the source's bucket until finished().
  Admission admit(const std::string& source, Clock::time_point now);
  // The pending handshake ended; `spent_a_guess` keeps its attempt charged (the peer saw
  // this side's confirmation and failed to answer it), otherwise it is given back.
  void finished(const std::string& source, bool spent_a_guess, Clock::time_point now);

  size_t pending() const { return pending_total_; }
  size_t tracked_sources() const { return sources_.size(); }

 private:
  struct Source {
    size_t pending = 0;
    double tokens = 0;
    Clock::time_point updated;
  };
  void refill(Source& s, Clock::time_point now) const;
  void forget_idle(Clock::time_point now);

  HandshakeLimits limits_;
  std::map<std::string, Source> sources_;
  size_t pending_total_ = 0;
};

// Which pending handshake to drop when too many are in progress, given for each (oldest
// first) whether its peer has sent a whole hello. A peer that dials and says nothing is
// the cheapest flood there is, while a real peer sends its hello at once: so the oldest
// silent one goes, and only when every peer has spoken the oldest of all. Index into
// the input; the input must not be empty.
size_t handshake_to_evict(const std::vector<bool>& heard_hello_oldest_first);

}  // namespace baton
