#include "node/coordinator/result_router.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <limits>

#include "transport/rpc_peer.h"
#include "transport/sampling_wire.h"
#include "transport/wire_convert.h"

namespace baton {

kj::Promise<StepResult> ResultRouter::expect(uint64_t session, uint64_t step) {
  auto paf = kj::newPromiseAndFulfiller<StepResult>();
  if (!pending_.emplace(std::make_pair(session, step), Pending{kj::mv(paf.fulfiller), steady_now_ns()}).second) {
    throw_rpc_error(fmt::format("session {} step {} is already in flight", session, step));
  }
  return kj::mv(paf.promise);
}

void ResultRouter::fail_all(const kj::Exception& e) {
  auto pending = kj::mv(pending_);
  pending_.clear();
  for (auto& [key, p] : pending) p.fulfiller->reject(kj::cp(e));
}

void ResultRouter::fail(uint64_t session, uint64_t step, const kj::Exception& e) {
  auto it = pending_.find({session, step});
  if (it == pending_.end()) return;
  it->second.fulfiller->reject(kj::cp(e));
  pending_.erase(it);
}

kj::Promise<void> ResultRouter::deliver(DeliverContext context) {
  auto l = context.getParams().getLogits();
  auto it = pending_.find({l.getSession(), l.getStep()});
  if (it == pending_.end()) {
    spdlog::warn("logits for session {} step {} that nobody waits for (cancelled?)", l.getSession(), l.getStep());
    return kj::READY_NOW;
  }
  StepResult r;
  r.received_ns = steady_now_ns();
  r.sent_ns = it->second.sent_ns;
  // At most a handful of tokens per step (one, or a verified draft and the next).
  constexpr unsigned kMaxSampled = 64;
  // An embedding's sum is one row of the model's width; the backend checks the width.
  constexpr unsigned kMaxEmbeddingWidth = 1u << 16;
  if (l.hasEmbeddingSum() && l.getEmbeddingSum().size() > 0) {
    auto sum = l.getEmbeddingSum();
    if (sum.size() > kMaxEmbeddingWidth) {
      it->second.fulfiller->reject(KJ_EXCEPTION(FAILED, "last stage returned an oversized embedding", sum.size()));
      pending_.erase(it);
      return kj::READY_NOW;
    }
    r.embedding_sum.reserve(sum.size());
    for (float v : sum) r.embedding_sum.push_back(v);
  } else if (l.hasSampled() && l.getSampled().size() > 0) {
    try {
      if (l.getSampled().size() > kMaxSampled) throw std::invalid_argument("too many sampled tokens");
      for (auto t : l.getSampled()) r.sampled.push_back(read_sampled(t, vocab_));
    } catch (const std::invalid_argument& e) {
      it->second.fulfiller->reject(KJ_EXCEPTION(FAILED, "last stage returned a bad token", e.what()));
      pending_.erase(it);
      return kj::READY_NOW;
    }
    r.rng_draws = l.getRngDraws();
  } else if (l.isFull()) {
    auto full = l.getFull();
    if (full.size() != static_cast<unsigned>(vocab_)) {
      it->second.fulfiller->reject(KJ_EXCEPTION(FAILED, "last stage returned the wrong number of logits", full.size()));
      pending_.erase(it);
      return kj::READY_NOW;
    }
    r.logits.reserve(full.size());
    for (float v : full) r.logits.push_back(v);
  } else {
    auto ids = l.getTop().getIds();
    auto values = l.getTop().getValues();
    r.logits.assign(static_cast<size_t>(vocab_), -std::numeric_limits<float>::infinity());
    for (unsigned i = 0; i < ids.size() && i < values.size(); ++i) {
      const int32_t id = ids[i];
      if (id >= 0 && id < vocab_) r.logits[static_cast<size_t>(id)] = values[i];
    }
  }
  for (auto t : l.getTimings()) {
    r.timings.push_back(timing_from_wire(t));
  }
  it->second.fulfiller->fulfill(kj::mv(r));
  pending_.erase(it);
  return kj::READY_NOW;
}

kj::Promise<void> ResultRouter::failed(FailedContext context) {
  auto p = context.getParams();
  fail(p.getSession(), p.getStep(),
       kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                     kj::str("stage ", p.getStage(), ": ", p.getMessage())));
  return kj::READY_NOW;
}

}  // namespace baton
