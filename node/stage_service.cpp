#include "node/stage_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <numeric>

#include "model/sampler.h"
#include "node/rpc_peer.h"
#include "transport/activation_frame.h"

namespace baton {

namespace {

// Copies a wire activation, refusing payloads larger than any valid frame for this
// stage could be (the largest codec, uncompressible data) before allocating the copy.
ActivationFrame from_wire(rpc::Activation::Reader a, uint64_t session, uint64_t step, const FrameLimits& limits) {
  const uint64_t largest = ZSTD_compressBound(uint64_t{limits.max_rows} * limits.expected_cols * sizeof(float));
  if (a.getPayload().size() > largest) {
    throw FrameError(fmt::format("payload of {} bytes is larger than any {}-row frame of dim {} can be",
                                 a.getPayload().size(), limits.max_rows, limits.expected_cols));
  }
  ActivationFrame f;
  f.session = session;
  f.step = step;
  f.rows = a.getRows();
  f.cols = a.getCols();
  f.codec = a.getCodec();
  f.zstd = a.getZstd();
  f.checksum = a.getChecksum();
  auto payload = a.getPayload();
  f.payload.assign(payload.begin(), payload.end());
  return f;
}

void to_wire(const ActivationFrame& f, rpc::Activation::Builder a) {
  a.setRows(f.rows);
  a.setCols(f.cols);
  a.setCodec(f.codec);
  a.setZstd(f.zstd);
  a.setChecksum(f.checksum);
  a.setPayload(kj::arrayPtr(f.payload.data(), f.payload.size()));
}

uint64_t micros_since(std::chrono::steady_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t).count());
}

}  // namespace

StageRuntime::StageRuntime(std::unique_ptr<Model> model, const StageAssignment& a, unsigned threads)
    : model_(std::move(model)), assignment_(a), pool_(threads) {}

uint64_t StageRuntime::kv_bytes_reserved() const {
  return KVCache::bytes_for(assignment_.kv_dtype, assignment_.range.size(), assignment_.context,
                            model_->hparams().kv_dim()) *
         assignment_.max_sessions;
}

void StageRuntime::link_next(rpc::Stage::Client next) {
  next_ = kj::mv(next);
  sink_ = nullptr;
}

void StageRuntime::link_sink(rpc::ResultSink::Client sink) {
  sink_ = kj::mv(sink);
  next_ = nullptr;
}

KVCache& StageRuntime::cache_for(uint64_t session) {
  auto it = caches_.find(session);
  if (it != caches_.end()) return *it->second;
  if (caches_.size() >= assignment_.max_sessions) {
    throw std::runtime_error(fmt::format("stage {} already holds {} sessions (its limit); drop one first",
                                         assignment_.stage_index, caches_.size()));
  }
  auto cache = std::make_unique<KVCache>(assignment_.kv_dtype, assignment_.range, assignment_.context,
                                         model_->hparams().kv_dim());
  return *caches_.emplace(session, std::move(cache)).first->second;
}

void StageRuntime::drop_session(uint64_t session) { caches_.erase(session); }

kj::Promise<void> StageRuntime::forward(rpc::Frame::Reader frame) {
  const HyperParams& hp = model_->hparams();
  const uint64_t session = frame.getSession();
  const uint64_t step = frame.getStep();
  const uint64_t pos0 = frame.getPos0();
  const auto& a = assignment_;

  // Validate everything about the frame before touching the cache or allocating.
  size_t rows = 0;
  std::vector<float> hidden;
  uint64_t decode_us = 0;
  if (frame.isTokens()) {
    if (!a.with_embedding) throw std::invalid_argument(fmt::format("stage {} does not embed tokens", a.stage_index));
    auto tokens = frame.getTokens();
    rows = tokens.size();
    if (rows == 0 || rows > a.max_frame_rows) {
      throw std::invalid_argument(fmt::format("frame has {} tokens, allowed 1..{}", rows, a.max_frame_rows));
    }
    std::vector<int32_t> ids;
    ids.reserve(rows);
    for (int32_t id : tokens) ids.push_back(id);
    hidden.resize(rows * static_cast<size_t>(hp.dim));
    model_->transformer().embed(ids, hidden.data());
  } else {
    if (a.with_embedding) throw std::invalid_argument(fmt::format("stage {} expects token ids, got hidden states", a.stage_index));
    const auto td = std::chrono::steady_clock::now();
    const FrameLimits limits{static_cast<uint32_t>(hp.dim), a.max_frame_rows};
    hidden = codec_.decode(from_wire(frame.getHidden(), session, step, limits), limits);
    rows = hidden.size() / static_cast<size_t>(hp.dim);
    decode_us = micros_since(td);
  }
  if (pos0 + rows > static_cast<uint64_t>(a.context)) {
    throw std::out_of_range(fmt::format("session {}: positions {}..{} exceed the context of {}", session, pos0,
                                        pos0 + rows, a.context));
  }
  KVCache& kv = cache_for(session);
  if (pos0 > static_cast<uint64_t>(kv.size())) {
    throw std::out_of_range(fmt::format("session {}: frame starts at position {} but only {} are cached", session,
                                        pos0, kv.size()));
  }
  kv.set_size(static_cast<int64_t>(pos0));  // drop anything after pos0 (prefix reuse, rollback)

  const auto tc = std::chrono::steady_clock::now();
  model_->transformer().forward_layers(a.range.first, a.range.last, hidden.data(), static_cast<int64_t>(rows),
                                       static_cast<int64_t>(pos0), kv, &pool_);
  uint64_t compute_us = micros_since(tc);
  // The token moves on to another stage (maybe another process on this machine): let
  // our workers sleep rather than spin on the cores it needs.
  pool_.park();

  auto add_timing = [&](capnp::List<rpc::StageTiming>::Builder list, uint64_t raw, uint64_t wire) {
    auto prior = frame.getTimings();
    for (uint32_t i = 0; i < prior.size(); ++i) list.setWithCaveats(i, prior[i]);
    auto mine = list[prior.size()];
    mine.setStage(a.stage_index);
    mine.setComputeMicros(compute_us);
    mine.setDecodeMicros(decode_us);
    mine.setRawBytes(raw);
    mine.setWireBytes(wire);
  };

  if (a.with_head) {
    KJ_IF_MAYBE(sink, sink_) {
      const auto th = std::chrono::steady_clock::now();
      std::vector<float> logits(static_cast<size_t>(hp.vocab_size));
      model_->transformer().head(hidden.data() + (rows - 1) * static_cast<size_t>(hp.dim), 1, logits.data(), &pool_);
      compute_us += micros_since(th);
      auto req = sink->deliverRequest();
      auto out = req.initLogits();
      out.setSession(session);
      out.setStep(step);
      const uint32_t k = frame.getTopK();
      uint64_t wire = 0;
      if (k == 0 || k >= logits.size()) {
        out.initFull(static_cast<unsigned>(logits.size()));
        auto full = out.getFull();
        for (size_t i = 0; i < logits.size(); ++i) full.set(static_cast<unsigned>(i), logits[i]);
        wire = logits.size() * 4;
      } else {
        // Only the k best (ties: lower id first), enough for greedy / top-k sampling.
        std::vector<int32_t> order(logits.size());
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t x, int32_t y) {
          return logits[static_cast<size_t>(x)] > logits[static_cast<size_t>(y)] ||
                 (logits[static_cast<size_t>(x)] == logits[static_cast<size_t>(y)] && x < y);
        });
        auto top = out.initTop();
        auto ids = top.initIds(k);
        auto values = top.initValues(k);
        for (uint32_t i = 0; i < k; ++i) {
          ids.set(i, order[i]);
          values.set(i, logits[static_cast<size_t>(order[i])]);
        }
        wire = k * 8ull;
      }
      add_timing(out.initTimings(frame.getTimings().size() + 1), logits.size() * 4, wire);
      return req.send().ignoreResult();
    }
    throw std::logic_error(fmt::format("stage {} holds the head but has no result sink (not linked)", a.stage_index));
  }
  KJ_IF_MAYBE(next, next_) {
    auto codec = codec_from_id(frame.getWire());
    if (!codec) throw std::invalid_argument(fmt::format("frame asks for unknown wire codec id {}", frame.getWire()));
    WireFormat wf{*codec, frame.getWireZstd(), 1};
    ActivationFrame out = codec_.encode(session, step, hidden.data(), static_cast<uint32_t>(rows),
                                        static_cast<uint32_t>(hp.dim), wf);
    auto req = next->forwardRequest();
    auto f = req.initFrame();
    f.setSession(session);
    f.setStep(step);
    f.setPos0(pos0);
    to_wire(out, f.initHidden());
    f.setWire(frame.getWire());
    f.setWireZstd(frame.getWireZstd());
    f.setTopK(frame.getTopK());
    add_timing(f.initTimings(frame.getTimings().size() + 1), hidden.size() * 4, out.payload.size());
    return req.send().ignoreResult();
  }
  throw std::logic_error(fmt::format("stage {} has no next stage (not linked)", a.stage_index));
}

kj::Promise<void> StageServer::forward(ForwardContext context) {
  auto runtime = *runtime_;
  if (!runtime) throw_rpc_error("this node has no layers loaded");
  try {
    return runtime->forward(context.getParams().getFrame()).attach(kj::mv(runtime));
  } catch (const kj::Exception&) {
    throw;
  } catch (const std::exception& e) {
    spdlog::warn("stage refused a frame: {}", e.what());
    throw_rpc_error(e.what());
  }
}

kj::Promise<void> StageServer::dropSession(DropSessionContext context) {
  if (auto runtime = *runtime_) runtime->drop_session(context.getParams().getSession());
  return kj::READY_NOW;
}

}  // namespace baton
