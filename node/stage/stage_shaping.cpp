#include "node/stage/stage_shaping.h"

#include <fmt/format.h>
#include <sys/prctl.h>

#include <cmath>

#include "node/stage/precise_timer.h"

namespace baton {

// Shared by the wrappers, which may outlive the NodeShaping (the RPC system holds them).
struct NodeShaping::State {
  State(kj::AsyncIoContext& io, const ShapingOptions& o)
      : options(o), timer(io.unixEventPort), downlink(o.link, o.seed), uplink(o.link, o.seed ^ 0x5bd1e995u),
        pacer(o.pace_factor) {}
  ShapingOptions options;
  PreciseTimer timer;
  LinkShaper downlink, uplink;
  ComputePacer pacer;
};

namespace {

uint64_t message_bytes(capnp::MessageSize size) { return size.wordCount * 8; }

// Frames coming in: wait for the downlink, then hand them to the stage.
class IncomingStage final : public rpc::Stage::Server {
 public:
  IncomingStage(std::shared_ptr<NodeShaping::State> s, rpc::Stage::Client inner) : s_(std::move(s)), inner_(kj::mv(inner)) {}

 protected:
  kj::Promise<void> forward(ForwardContext context) override {
    const auto bytes = message_bytes(context.getParams().totalSize());
    const int64_t arrival = s_->downlink.arrival_ns(PreciseTimer::now_ns(), bytes);
    return s_->timer.at(arrival).then([context, inner = inner_]() mutable {
      auto req = inner.forwardRequest();
      req.setFrame(context.getParams().getFrame());
      return req.send().ignoreResult();
    });
  }
  // Behind the frames of the session, or a late frame would bring its cache back.
  kj::Promise<void> dropSession(DropSessionContext context) override {
    const int64_t arrival = s_->downlink.arrival_ns(PreciseTimer::now_ns(), 64);
    const uint64_t session = context.getParams().getSession();
    return s_->timer.at(arrival).then([session, inner = inner_]() mutable {
      auto req = inner.dropSessionRequest();
      req.setSession(session);
      return req.send().ignoreResult();
    });
  }

 private:
  std::shared_ptr<NodeShaping::State> s_;
  rpc::Stage::Client inner_;
};

// The stage's compute just ended (the frame is being sent now): when is it sent on the
// device, and when does it reach the other end of the uplink?
template <typename TimingList>
int64_t outgoing_arrival(NodeShaping::State& s, TimingList timings, uint64_t bytes, uint64_t& compute_us,
                         int64_t& done) {
  compute_us = timings.size() > 0 ? timings[timings.size() - 1].getComputeMicros() : 0;
  const int64_t now = PreciseTimer::now_ns();
  done = s.pacer.paced() ? s.pacer.finish_ns(now, compute_us) : now;
  return s.uplink.arrival_ns(done, bytes);
}

// A paced stage reports the paced compute time, and leaves (sentNanos) when the paced
// compute is over: the uplink delay after that is part of the hop.
template <typename TimingBuilder>
void rewrite_compute(NodeShaping::State& s, TimingBuilder timings, uint64_t compute_us, int64_t done) {
  if (s.pacer.paced() && timings.size() > 0) {
    auto mine = timings[timings.size() - 1];
    mine.setComputeMicros(s.pacer.paced_us(compute_us));
    mine.setSentNanos(static_cast<uint64_t>(done));
  }
}

class OutgoingStage final : public rpc::Stage::Server {
 public:
  OutgoingStage(std::shared_ptr<NodeShaping::State> s, rpc::Stage::Client inner) : s_(std::move(s)), inner_(kj::mv(inner)) {}

 protected:
  kj::Promise<void> forward(ForwardContext context) override {
    auto frame = context.getParams().getFrame();
    uint64_t compute_us = 0;
    int64_t done = 0;
    const int64_t arrival =
        outgoing_arrival(*s_, frame.getTimings(), message_bytes(context.getParams().totalSize()), compute_us, done);
    return s_->timer.at(arrival).then([context, compute_us, done, s = s_, inner = inner_]() mutable {
      auto req = inner.forwardRequest();
      req.setFrame(context.getParams().getFrame());
      rewrite_compute(*s, req.getFrame().getTimings(), compute_us, done);
      return req.send().ignoreResult();
    });
  }
  kj::Promise<void> dropSession(DropSessionContext context) override {
    auto req = inner_.dropSessionRequest();
    req.setSession(context.getParams().getSession());
    return req.send().ignoreResult();
  }

 private:
  std::shared_ptr<NodeShaping::State> s_;
  rpc::Stage::Client inner_;
};

class OutgoingSink final : public rpc::ResultSink::Server {
 public:
  OutgoingSink(std::shared_ptr<NodeShaping::State> s, rpc::ResultSink::Client inner) : s_(std::move(s)), inner_(kj::mv(inner)) {}

 protected:
  kj::Promise<void> deliver(DeliverContext context) override {
    uint64_t compute_us = 0;
    int64_t done = 0;
    const int64_t arrival = outgoing_arrival(*s_, context.getParams().getLogits().getTimings(),
                                             message_bytes(context.getParams().totalSize()), compute_us, done);
    return s_->timer.at(arrival).then([context, compute_us, done, s = s_, inner = inner_]() mutable {
      auto req = inner.deliverRequest();
      req.setLogits(context.getParams().getLogits());
      rewrite_compute(*s, req.getLogits().getTimings(), compute_us, done);
      return req.send().ignoreResult();
    });
  }
  // Behind the results already on the way.
  kj::Promise<void> failed(FailedContext context) override {
    const int64_t arrival = s_->uplink.arrival_ns(PreciseTimer::now_ns(), message_bytes(context.getParams().totalSize()));
    return s_->timer.at(arrival).then([context, inner = inner_]() mutable {
      auto p = context.getParams();
      auto req = inner.failedRequest();
      req.setSession(p.getSession());
      req.setStep(p.getStep());
      req.setStage(p.getStage());
      req.setMessage(p.getMessage());
      return req.send().ignoreResult();
    });
  }

 private:
  std::shared_ptr<NodeShaping::State> s_;
  rpc::ResultSink::Client inner_;
};

}  // namespace

std::string validate_shaping(const ShapingOptions& o) {
  if (std::string problem = validate_link_params(o.link); !problem.empty()) return "link: " + problem;
  if (!std::isfinite(o.pace_factor) || o.pace_factor <= 0 || o.pace_factor > 1e6) {
    return fmt::format("pace factor {} is outside (0, 1e6]", o.pace_factor);
  }
  return {};
}

NodeShaping::NodeShaping(kj::AsyncIoContext& io, const ShapingOptions& options)
    : state_(std::make_shared<State>(io, options)) {
  // Timers on this (event-loop) thread may fire up to the slack late, 50 us by default:
  // per shaped hop that adds up. 1 us is what a simulated link needs.
  if (active()) prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
}

NodeShaping::~NodeShaping() = default;

bool NodeShaping::active() const { return state_->options.link.shaped() || state_->pacer.paced(); }

rpc::Stage::Client NodeShaping::wrap_incoming(rpc::Stage::Client own) {
  if (!state_->options.link.shaped()) return own;
  return kj::heap<IncomingStage>(state_, kj::mv(own));
}

rpc::Stage::Client NodeShaping::wrap_outgoing(rpc::Stage::Client next) {
  if (!active()) return next;
  return kj::heap<OutgoingStage>(state_, kj::mv(next));
}

rpc::ResultSink::Client NodeShaping::wrap_outgoing(rpc::ResultSink::Client sink) {
  if (!active()) return sink;
  return kj::heap<OutgoingSink>(state_, kj::mv(sink));
}

kj::Promise<void> NodeShaping::round_trip() {
  if (!state_->options.link.shaped()) return kj::READY_NOW;
  const int64_t rtt = static_cast<int64_t>(std::llround(2 * state_->options.link.latency_ms * 1e6));
  return state_->timer.at(PreciseTimer::now_ns() + rtt);
}

}  // namespace baton
