#include "transport/handshake_guard.h"

#include <algorithm>

namespace baton {

void HandshakeGuard::refill(Source& s, Clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - s.updated).count();
  if (elapsed > 0) s.tokens = std::min(limits_.attempts_burst, s.tokens + elapsed * limits_.attempts_per_second);
  s.updated = std::max(s.updated, now);
}

void HandshakeGuard::forget_idle(Clock::time_point now) {
  // A source with nothing pending and a full bucket carries no state worth keeping.
  for (auto it = sources_.begin(); it != sources_.end();) {
    refill(it->second, now);
    if (it->second.pending == 0 && it->second.tokens >= limits_.attempts_burst) {
      it = sources_.erase(it);
    } else {
      ++it;
    }
  }
}

HandshakeGuard::Admission HandshakeGuard::admit(const std::string& source, Clock::time_point now) {
  auto it = sources_.find(source);
  if (it == sources_.end()) {
    if (sources_.size() >= limits_.tracked_sources) forget_idle(now);
    if (sources_.size() >= limits_.tracked_sources) {
      // Every tracked source is busy or penalised: a flood from many addresses. Treat the
      // newcomer as out of attempts rather than grow without bound.
      return {Verdict::too_many_failures, 1.0 / limits_.attempts_per_second};
    }
    it = sources_.emplace(source, Source{0, limits_.attempts_burst, now}).first;
  }
  Source& s = it->second;
  refill(s, now);
  if (s.pending >= limits_.pending_per_source) return {Verdict::too_many_pending, 0};
  if (s.tokens < 1) return {Verdict::too_many_failures, (1 - s.tokens) / limits_.attempts_per_second};
  s.tokens -= 1;
  ++s.pending;
  ++pending_total_;
  return {pending_total_ > limits_.pending_total ? Verdict::admit_evicting_oldest : Verdict::admit, 0};
}

void HandshakeGuard::finished(const std::string& source, bool spent_a_guess, Clock::time_point now) {
  auto it = sources_.find(source);
  if (it == sources_.end()) return;
  Source& s = it->second;
  refill(s, now);
  if (s.pending > 0) {
    --s.pending;
    --pending_total_;
  }
  if (!spent_a_guess) s.tokens = std::min(limits_.attempts_burst, s.tokens + 1);
}

size_t handshake_to_evict(const std::vector<bool>& heard_hello_oldest_first) {
  for (size_t i = 0; i < heard_hello_oldest_first.size(); ++i) {
    if (!heard_hello_oldest_first[i]) return i;
  }
  return 0;
}

}  // namespace baton
