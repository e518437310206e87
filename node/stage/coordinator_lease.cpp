#include "node/stage/coordinator_lease.h"

#include <fmt/format.h>

namespace baton {

std::string CoordinatorLease::describe(const Holder& h, Clock::time_point) const {
  // Stable text (no ages): a refused coordinator logs a repeated refusal only once.
  return fmt::format("the coordinator at {}", h.peer);
}

std::string CoordinatorLease::other_holder(uint64_t connection, Clock::time_point now) const {
  if (!holder_ || holder_->connection == connection) return "";
  if (holder_->in_flight == 0 && now - holder_->last_heard > stale_after_) return "";  // silent too long: gone
  return describe(*holder_, now);
}

std::string CoordinatorLease::claim(uint64_t connection, const std::string& peer, Clock::time_point now) {
  last_takeover_.reset();
  if (std::string other = other_holder(connection, now); !other.empty()) return other;
  if (holder_ && holder_->connection == connection) {
    holder_->last_heard = now;
    return "";
  }
  if (holder_) last_takeover_ = describe(*holder_, now);
  holder_ = Holder{connection, peer, now, now};
  return "";
}

void CoordinatorLease::heard(uint64_t connection, Clock::time_point now) {
  if (holder_ && holder_->connection == connection) holder_->last_heard = now;
}

void CoordinatorLease::call_started(uint64_t connection, Clock::time_point now) {
  if (!holder_ || holder_->connection != connection) return;
  holder_->last_heard = now;
  ++holder_->in_flight;
}

void CoordinatorLease::call_ended(uint64_t connection, Clock::time_point now) {
  if (!holder_ || holder_->connection != connection) return;
  holder_->last_heard = now;
  if (holder_->in_flight > 0) --holder_->in_flight;
}

void CoordinatorLease::release(uint64_t connection) {
  if (holder_ && holder_->connection == connection) holder_.reset();
}

}  // namespace baton
