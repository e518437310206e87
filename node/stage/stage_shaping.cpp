#include "node/stage/stage_shaping.h"

#include <fmt/format.h>
#include <sys/prctl.h>

#include <cmath>
#include <deque>
#include <map>
#include <utility>

#include "node/stage/precise_timer.h"
#include "transport/compute_pacer.h"

namespace baton {

// Shared by the wrappers, which may outlive the NodeShaping (the RPC system holds them).
struct NodeShaping::State {
  State(kj::AsyncIoContext& io, const ShapingOptions& o)
      : options(o), timer(io.unixEventPort), downlink(o.link, o.seed), uplink(o.link, o.seed ^ 0x5bd1e995u),
        pacer(o.roofline() ? ComputePacer(o.device_gflops, o.device_gbs) : ComputePacer(o.pace_factor)) {}
  ShapingOptions options;
  PreciseTimer timer;
  LinkShaper downlink, uplink;
  ComputePacer pacer;
  // The shape of each frame that came in, until its result leaves: the pacer charges a
  // frame by its rows, and the logits leaving for the sink do not carry them. Bounded:
  // the oldest go first (a frame the stage refused never leaves).
  std::map<std::pair<uint64_t, uint64_t>, FrameShape> shapes;
  std::deque<std::pair<uint64_t, uint64_t>> shape_order;

  void remember(uint64_t session, uint64_t step, const FrameShape& shape) {
    constexpr size_t kMaxShapes = 4096;
    if (shapes.insert_or_assign({session, step}, shape).second) shape_order.emplace_back(session, step);
    while (shape_order.size() > kMaxShapes) {
      shapes.erase(shape_order.front());
      shape_order.pop_front();
    }
  }
  // A frame this node did not see come in counts as one decoded row with logits.
  FrameShape take(uint64_t session, uint64_t step) {
    auto it = shapes.find({session, step});
    if (it == shapes.end()) return {};
    const FrameShape shape = it->second;
    shapes.erase(it);
    return shape;
  }
};

namespace {

uint64_t message_bytes(capnp::MessageSize size) { return size.wordCount * 8; }

FrameShape shape_of(rpc::Frame::Reader frame) {
  FrameShape shape;
  shape.rows = static_cast<int>(frame.isTokens() ? frame.getTokens().size() : frame.getHidden().getRows());
  shape.logits_rows = frame.getEmbed() ? 0 : static_cast<int>(std::max<uint32_t>(1, frame.getVerifyRows()));
  shape.position = static_cast<double>(frame.getPos0());
  return shape;
}

// Frames coming in: wait for the downlink, then hand them to the stage.
class IncomingStage final : public rpc::Stage::Server {
 public:
  IncomingStage(std::shared_ptr<NodeShaping::State> s, rpc::Stage::Client inner) : s_(std::move(s)), inner_(kj::mv(inner)) {}

 protected:
  kj::Promise<void> forward(ForwardContext context) override {
    const auto bytes = message_bytes(context.getParams().totalSize());
    const auto frame = context.getParams().getFrame();
    s_->remember(frame.getSession(), frame.getStep(), shape_of(frame));
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
int64_t outgoing_arrival(NodeShaping::State& s, TimingList timings, uint64_t bytes, const FrameShape& shape,
                         ComputePacer::Paced& paced) {
  const uint64_t compute_us = timings.size() > 0 ? timings[timings.size() - 1].getComputeMicros() : 0;
  paced = s.pacer.finish(PreciseTimer::now_ns(), compute_us, shape);
  return s.uplink.arrival_ns(paced.done_ns, bytes);
}

// A paced stage reports the paced compute time, and leaves (sentNanos) when the paced
// compute is over: the uplink delay after that is part of the hop.
template <typename TimingBuilder>
void rewrite_compute(NodeShaping::State& s, TimingBuilder timings, const ComputePacer::Paced& paced) {
  if (s.pacer.paced() && timings.size() > 0) {
    auto mine = timings[timings.size() - 1];
    mine.setComputeMicros(paced.compute_us);
    mine.setSentNanos(static_cast<uint64_t>(paced.done_ns));
  }
}

class OutgoingStage final : public rpc::Stage::Server {
 public:
  OutgoingStage(std::shared_ptr<NodeShaping::State> s, rpc::Stage::Client inner) : s_(std::move(s)), inner_(kj::mv(inner)) {}

 protected:
  kj::Promise<void> forward(ForwardContext context) override {
    auto frame = context.getParams().getFrame();
    FrameShape shape = s_->take(frame.getSession(), frame.getStep());
    shape.logits_rows = 0;  // the head is on a later stage
    ComputePacer::Paced paced;
    const int64_t arrival =
        outgoing_arrival(*s_, frame.getTimings(), message_bytes(context.getParams().totalSize()), shape, paced);
    return s_->timer.at(arrival).then([context, paced, s = s_, inner = inner_]() mutable {
      auto req = inner.forwardRequest();
      req.setFrame(context.getParams().getFrame());
      rewrite_compute(*s, req.getFrame().getTimings(), paced);
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
    const auto logits = context.getParams().getLogits();
    const FrameShape shape = s_->take(logits.getSession(), logits.getStep());
    ComputePacer::Paced paced;
    const int64_t arrival =
        outgoing_arrival(*s_, logits.getTimings(), message_bytes(context.getParams().totalSize()), shape, paced);
    return s_->timer.at(arrival).then([context, paced, s = s_, inner = inner_]() mutable {
      auto req = inner.deliverRequest();
      req.setLogits(context.getParams().getLogits());
      rewrite_compute(*s, req.getLogits().getTimings(), paced);
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
  for (const auto& [name, value] : {std::pair{"GFLOP/s", o.device_gflops}, std::pair{"GB/s", o.device_gbs}}) {
    if (!std::isfinite(value) || value < 0 || value > 1e7) return fmt::format("device {} {} is outside [0, 1e7]", name, value);
  }
  if ((o.device_gflops > 0) != (o.device_gbs > 0)) return "roofline pacing needs both the device's GFLOP/s and its GB/s";
  return {};
}

NodeShaping::NodeShaping(kj::AsyncIoContext& io, const ShapingOptions& options)
    : state_(std::make_shared<State>(io, options)) {
  // Timers on this (event-loop) thread may fire up to the slack late, 50 us by default:
  // per shaped hop that adds up. 1 us is what a simulated link needs.
  if (active() || options.roofline()) prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
}

NodeShaping::~NodeShaping() = default;

bool NodeShaping::active() const { return state_->options.link.shaped() || state_->pacer.paced(); }

void NodeShaping::set_stage(const StageWork& work) { state_->pacer.set_stage(work); }

rpc::Stage::Client NodeShaping::wrap_incoming(rpc::Stage::Client own) {
  // Roofline pacing needs every frame's shape, even behind an unshaped link.
  if (!state_->options.link.shaped() && !state_->options.roofline()) return own;
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
