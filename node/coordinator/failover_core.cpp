#include "node/coordinator/failover_core.h"

#include <algorithm>

namespace baton {

uint64_t FailoverCore::begin(AssemblyKind kind) {
  kind_ = kind;
  state_ = PipelineState::Assembling;
  // A new membership forgives everyone; a rejoin tries everyone again (who still does
  // not answer is lost again). A recovery keeps the lost set: it must not wait for them.
  if (kind != AssemblyKind::Recovery) lost_.clear();
  return ++epoch_;
}

void FailoverCore::assembled() { state_ = PipelineState::Ready; }

void FailoverCore::assembly_failed() { state_ = PipelineState::Failed; }

bool FailoverCore::should_try(const std::string& address) const {
  return !(state_ == PipelineState::Assembling && kind_ == AssemblyKind::Recovery && lost_.count(address));
}

bool FailoverCore::join_required(bool required) const { return required && !tolerant(); }

bool FailoverCore::join_failed(const std::string& address) {
  if (!tolerant()) return false;
  lost_.insert(address);
  return true;
}

bool FailoverCore::everyone_lost(const std::vector<std::string>& candidates) const {
  if (!(state_ == PipelineState::Assembling && kind_ == AssemblyKind::Recovery)) return false;
  return std::all_of(candidates.begin(), candidates.end(), [this](const std::string& a) { return lost_.count(a) > 0; });
}

bool FailoverCore::member_lost(const std::string& address, bool is_member) {
  if (!is_member) return false;
  lost_.insert(address);  // even during a recovery: it must not wait for this one
  return !tolerant();
}

bool FailoverCore::recovery_needed(uint64_t failed_epoch) const { return failed_epoch == epoch_; }

}  // namespace baton
