// A node serves one coordinator at a time. The first coordinator connection that loads
// layers holds the lease; another is refused, with the holder named, until the holder is
// gone: its connection broke (release) or it made no call for `stale_after` (a coordinator
// pings every --heartbeat-ms, so silence means it stopped). Pure: fed connection ids and
// times, unit-tested on scripted sequences; NodeConnection is its I/O shell.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace baton {

class CoordinatorLease {
 public:
  using Clock = std::chrono::steady_clock;
  explicit CoordinatorLease(std::chrono::milliseconds stale_after) : stale_after_(stale_after) {}

  // Who holds the lease, if it is not `connection` and still counts as present:
  // "the coordinator at 10.0.0.2:41234". Empty when
  // `connection` may take (or already holds) the lease.
  std::string other_holder(uint64_t connection, Clock::time_point now) const;
  // Takes the lease for `connection` when other_holder() is empty; returns that refusal
  // otherwise. A takeover from a silent holder is logged by the caller.
  std::string claim(uint64_t connection, const std::string& peer, Clock::time_point now);
  // Any call from `connection` (pings included) shows it is still there; a holder with a
  // call in flight (a long load) is never silent.
  void heard(uint64_t connection, Clock::time_point now);
  void call_started(uint64_t connection, Clock::time_point now);
  void call_ended(uint64_t connection, Clock::time_point now);
  // The connection closed.
  void release(uint64_t connection);
  bool held_by(uint64_t connection) const { return holder_ && holder_->connection == connection; }
  // The holder that was taken over from by the last claim, if the claim replaced a silent one.
  const std::optional<std::string>& last_takeover() const { return last_takeover_; }

 private:
  struct Holder {
    uint64_t connection = 0;
    std::string peer;
    Clock::time_point since, last_heard;
    int in_flight = 0;
  };
  std::string describe(const Holder& h, Clock::time_point now) const;

  std::chrono::milliseconds stale_after_;
  std::optional<Holder> holder_;
  std::optional<std::string> last_takeover_;
};

}  // namespace baton
