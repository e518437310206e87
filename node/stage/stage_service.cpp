#include "node/stage/stage_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <optional>
#include <set>

#include "model/sampler.h"
#include "model/speculative.h"
#include "tensor/activation_codec.h"
#include "transport/rpc_peer.h"
#include "transport/activation_frame.h"
#include "transport/sampling_wire.h"
#include "transport/wire_convert.h"

namespace baton {

namespace {

uint64_t micros_since(std::chrono::steady_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t).count());
}

}  // namespace

// A frame that passed validation, with its input rows, waiting to be computed.
struct StageRuntime::Pending {
  uint64_t session = 0, step = 0, pos0 = 0;
  size_t rows = 0;
  std::vector<float> hidden;  // rows x dim, in place through the layers
  uint64_t decode_us = 0, compute_us = 0;
  uint64_t received_ns = 0;
  uint32_t wire = 0, top_k = 0, group = 0;
  uint32_t verify_rows = 0;  // speculative decoding: sample after each of the last rows
  bool wire_zstd = false;
  bool embed = false;                // embeddings: no head, the rows' final norms summed
  std::vector<float> embedding_sum;  // last stage, when embedding
  std::vector<int32_t> ids;                // the rows' token ids (empty: unknown)
  std::optional<SamplingRequest> sampling;  // sample the next token (last stage)
  std::vector<StageTimingRecord> prior;  // earlier stages' timings, passed along
  kj::Own<kj::PromiseFulfiller<kj::Promise<void>>> done;
};

size_t StageRuntime::head_rows_of(const Pending& p) {
  if (p.embed) return 0;
  return p.sampling && p.verify_rows > 1 ? p.verify_rows : 1;
}

StageRuntime::StageRuntime(std::unique_ptr<Model> model, const StageAssignment& a, unsigned threads, kj::Timer* timer)
    : model_(std::move(model)), assignment_(a), pool_(threads), timer_(timer) {}

StageRuntime::~StageRuntime() = default;

uint64_t StageRuntime::kv_bytes_reserved() const {
  return KVCache::bytes_for(assignment_.kv_dtype, assignment_.range, assignment_.context, model_->hparams().kv_dim(),
                            model_->hparams().sliding_windows()) *
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
                                         model_->hparams().kv_dim(), model_->hparams().sliding_windows());
  return *caches_.emplace(session, std::move(cache)).first->second;
}

void StageRuntime::drop_session(uint64_t session) {
  caches_.erase(session);
  tokens_.erase(session);
}

kj::Promise<void> StageRuntime::forward(rpc::Frame::Reader frame) {
  const HyperParams& hp = model_->hparams();
  const auto& a = assignment_;
  auto p = std::make_unique<Pending>();
  p->received_ns = steady_now_ns();
  p->session = frame.getSession();
  p->step = frame.getStep();
  p->pos0 = frame.getPos0();

  // Validate everything about the frame before touching the cache or allocating.
  if (frame.isTokens()) {
    if (!a.with_embedding) throw std::invalid_argument(fmt::format("stage {} does not embed tokens", a.stage_index));
    auto tokens = frame.getTokens();
    p->rows = tokens.size();
    if (p->rows == 0 || p->rows > a.max_frame_rows) {
      throw std::invalid_argument(fmt::format("frame has {} tokens, allowed 1..{}", p->rows, a.max_frame_rows));
    }
    p->ids.reserve(p->rows);
    for (int32_t id : tokens) p->ids.push_back(id);
    p->hidden.resize(p->rows * static_cast<size_t>(hp.dim));
    model_->transformer().embed(p->ids, p->hidden.data());
  } else {
    if (a.with_embedding) throw std::invalid_argument(fmt::format("stage {} expects token ids, got hidden states", a.stage_index));
    const auto td = std::chrono::steady_clock::now();
    const FrameLimits limits{static_cast<uint32_t>(hp.dim), a.max_frame_rows};
    p->hidden = codec_.decode(activation_from_wire(frame.getHidden(), p->session, p->step, limits), limits);
    p->rows = p->hidden.size() / static_cast<size_t>(hp.dim);
    p->decode_us = micros_since(td);
    auto row_tokens = frame.getRowTokens();
    if (row_tokens.size() != 0 && row_tokens.size() != p->rows) {
      throw std::invalid_argument(
          fmt::format("frame carries {} row token ids for {} rows", row_tokens.size(), p->rows));
    }
    for (int32_t id : row_tokens) p->ids.push_back(id);
  }
  if (frame.hasSampling()) p->sampling = read_sampling(frame.getSampling(), hp.vocab_size);
  p->verify_rows = frame.getVerifyRows();
  if (p->verify_rows > 1) {
    if (p->verify_rows > p->rows) {
      throw std::invalid_argument(fmt::format("frame asks to verify {} rows but has {}", p->verify_rows, p->rows));
    }
    if (!p->sampling) throw std::invalid_argument("frame asks to verify drafts without sampling parameters");
    if (p->ids.empty()) throw std::invalid_argument("frame asks to verify drafts without their token ids");
  }
  p->embed = frame.getEmbed();
  if (p->embed && (p->sampling || p->verify_rows > 1)) {
    throw std::invalid_argument("a frame asks for an embedding and a sampled token at once");
  }
  if (p->pos0 + p->rows > static_cast<uint64_t>(a.context)) {
    throw std::out_of_range(fmt::format("session {}: positions {}..{} exceed the context of {}", p->session, p->pos0,
                                        p->pos0 + p->rows, a.context));
  }
  if (!a.with_head) {
    if (!codec_from_id(frame.getWire())) {
      throw std::invalid_argument(fmt::format("frame asks for unknown wire codec id {}", frame.getWire()));
    }
  }
  p->wire = frame.getWire();
  p->wire_zstd = frame.getWireZstd();
  p->top_k = frame.getTopK();
  p->group = frame.getBatchGroup();
  for (auto t : frame.getTimings()) {
    p->prior.push_back(timing_from_wire(t));
  }
  auto paf = kj::newPromiseAndFulfiller<kj::Promise<void>>();
  p->done = kj::mv(paf.fulfiller);
  queue_.push_back(std::move(p));
  schedule_drain();
  return kj::mv(paf.promise);
}

void StageRuntime::schedule_drain() {
  if (drain_scheduled_) return;
  drain_scheduled_ = true;
  if (!timer_) {
    drain();
    return;
  }
  // A zero delay makes the loop poll the sockets first; evalLast then runs once the frames
  // that were waiting there have been read and queued, so they join this batch.
  auto run = timer_->afterDelay(0 * kj::NANOSECONDS).then([this] { return kj::evalLast([this] { drain(); }); });
  drain_canceler_.wrap(kj::mv(run)).detach([](kj::Exception&&) {});
}

void StageRuntime::drain() {
  drain_scheduled_ = false;
  // The oldest frame's group, one frame per session (a session's frames build on each
  // other's KV). Other groups wait for the next turn: they are meant to be on another
  // stage by then, working in parallel with this batch.
  std::vector<std::unique_ptr<Pending>> batch;
  std::deque<std::unique_ptr<Pending>> later;
  std::set<uint64_t> sessions;
  const uint32_t group = queue_.empty() ? 0 : queue_.front()->group;
  while (!queue_.empty()) {
    auto p = std::move(queue_.front());
    queue_.pop_front();
    if (p->group == group && sessions.insert(p->session).second) {
      batch.push_back(std::move(p));
    } else {
      later.push_back(std::move(p));
    }
  }
  queue_ = std::move(later);
  if (!batch.empty()) compute_batch(std::move(batch));
  if (!queue_.empty()) schedule_drain();
}

namespace {

// What the next stage would see of the frame's hidden state after a hop: encoded with the
// frame's wire codec and decoded (zstd, being lossless, is left out).
void round_trip_through_wire(uint32_t wire, float* hidden, uint64_t rows, uint64_t dim) {
  const ActivationCodec codec = *codec_from_id(wire);  // the id was checked on arrival
  if (codec == ActivationCodec::F32) return;
  std::vector<uint8_t> encoded;
  encode_activations(codec, hidden, rows, dim, encoded);
  decode_activations(codec, encoded.data(), encoded.size(), rows, dim, hidden);
}

}  // namespace

void StageRuntime::compute_batch(std::vector<std::unique_ptr<Pending>> batch) {
  const HyperParams& hp = model_->hparams();
  const auto& a = assignment_;
  // Bind each frame to its cache; a frame that cannot (too many sessions, a gap in its
  // positions) fails alone.
  std::vector<std::unique_ptr<Pending>> ready;
  std::vector<Transformer::Sequence> seqs;
  for (auto& p : batch) {
    try {
      KVCache& kv = cache_for(p->session);
      if (p->pos0 > static_cast<uint64_t>(kv.size())) {
        throw std::out_of_range(fmt::format("session {}: frame starts at position {} but only {} are cached", p->session,
                                            p->pos0, kv.size()));
      }
      kv.set_size(static_cast<int64_t>(p->pos0));  // drop anything after pos0 (prefix reuse, rollback)
      if (a.with_head) {
        // The sequence the sampler's penalties look at, kept in step with the cache.
        auto& seen = tokens_[p->session];
        seen.resize(p->pos0, -1);
        if (p->ids.empty()) {
          seen.resize(p->pos0 + p->rows, -1);
        } else {
          seen.insert(seen.end(), p->ids.begin(), p->ids.end());
        }
      }
      seqs.push_back({p->hidden.data(), static_cast<int64_t>(p->rows), static_cast<int64_t>(p->pos0), &kv});
      ready.push_back(std::move(p));
    } catch (const std::exception& e) {
      spdlog::warn("stage refused a frame: {}", e.what());
      p->done->reject(KJ_EXCEPTION(FAILED, e.what()));
    }
  }
  if (ready.empty()) return;
  std::vector<float> logits;
  try {
    const auto tc = std::chrono::steady_clock::now();
    // The range in pieces split at the quantisation points a failover kept: there the
    // hidden state takes the wire codec's round trip, as it did crossing a hop before.
    int from = a.range.first;
    for (size_t q = 0; q <= a.quantize_after.size(); ++q) {
      const int to = q < a.quantize_after.size() ? a.quantize_after[q] : a.range.last;
      model_->transformer().forward_layers_batch(from, to, seqs, &pool_);
      if (to != a.range.last) {
        for (auto& p : ready) round_trip_through_wire(p->wire, p->hidden.data(), p->rows, static_cast<uint64_t>(hp.dim));
      }
      from = to;
    }
    if (a.with_head) {
      // The last row of every frame (the last verify_rows of a speculative one), through
      // the head together.
      const auto dim = static_cast<size_t>(hp.dim);
      size_t head_rows = 0;
      for (auto& p : ready) head_rows += head_rows_of(*p);
      std::vector<float> last_rows(head_rows * dim);
      size_t at = 0;
      for (auto& p : ready) {
        const size_t n = head_rows_of(*p);
        const float* rows = p->hidden.data() + (p->rows - n) * dim;
        std::copy(rows, rows + n * dim, last_rows.begin() + static_cast<std::ptrdiff_t>(at * dim));
        at += n;
      }
      if (head_rows > 0) {
        logits.resize(head_rows * static_cast<size_t>(hp.vocab_size));
        model_->transformer().head(last_rows.data(), static_cast<int64_t>(head_rows), logits.data(), &pool_);
      }
      for (auto& p : ready) {
        if (!p->embed) continue;
        p->embedding_sum.assign(dim, 0.0f);
        model_->transformer().add_final_norms(p->hidden.data(), static_cast<int64_t>(p->rows),
                                              p->embedding_sum.data());
      }
    }
    // Every frame of the batch waited for all of it: that is its compute time here.
    const uint64_t compute_us = micros_since(tc);
    compute_us_total_ += compute_us;
    for (auto& p : ready) p->compute_us = compute_us;
  } catch (const std::exception& e) {
    spdlog::warn("stage {} failed a batch of {} frame(s): {}", a.stage_index, ready.size(), e.what());
    for (auto& p : ready) p->done->reject(KJ_EXCEPTION(FAILED, e.what()));
    return;
  }
  ++batches_run_;
  frames_batched_ += ready.size();
  // The tokens move on to another stage (maybe another process on this machine): let our
  // workers sleep rather than spin on the cores it needs.
  pool_.park();
  size_t logits_row = 0;
  for (size_t i = 0; i < ready.size(); ++i) {
    Pending& p = *ready[i];
    const float* frame_logits = a.with_head ? logits.data() + logits_row * static_cast<size_t>(hp.vocab_size) : nullptr;
    logits_row += head_rows_of(p);
    try {
      p.done->fulfill(send_on(p, frame_logits));
    } catch (const std::exception& e) {
      p.done->reject(KJ_EXCEPTION(FAILED, e.what()));
    } catch (const kj::Exception& e) {
      p.done->reject(kj::cp(e));
    }
  }
}

kj::Promise<void> StageRuntime::send_on(Pending& p, const float* logits_row) {
  const HyperParams& hp = model_->hparams();
  const auto& a = assignment_;
  auto add_timing = [&](capnp::List<rpc::StageTiming>::Builder list, uint64_t raw, uint64_t wire) {
    for (uint32_t i = 0; i < p.prior.size(); ++i) {
      timing_to_wire(p.prior[i], list[i]);
    }
    timing_to_wire({a.stage_index, p.compute_us, p.decode_us, raw, wire, p.received_ns, steady_now_ns()},
                   list[static_cast<uint32_t>(p.prior.size())]);
  };
  const auto n_timings = static_cast<unsigned>(p.prior.size() + 1);

  if (a.with_head) {
    KJ_IF_MAYBE(sink, sink_) {
      const size_t vocab = static_cast<size_t>(hp.vocab_size);
      auto req = sink->deliverRequest();
      auto out = req.initLogits();
      out.setSession(p.session);
      out.setStep(p.step);
      uint64_t wire = 0;
      if (p.embed) {
        auto sum = out.initEmbeddingSum(static_cast<unsigned>(p.embedding_sum.size()));
        for (unsigned i = 0; i < p.embedding_sum.size(); ++i) sum.set(i, p.embedding_sum[i]);
        wire = p.embedding_sum.size() * 4;
      } else if (p.sampling && p.verify_rows > 1) {
        // Verify the drafts here: the accepted ones and the next token go back.
        std::vector<float> rows(logits_row, logits_row + p.verify_rows * vocab);
        const VerifyResult r = verify_rows(rows, vocab, tokens_[p.session], p.verify_rows, *p.sampling);
        auto list = out.initSampled(static_cast<unsigned>(r.tokens.size()));
        for (unsigned i = 0; i < r.tokens.size(); ++i) write_sampled(r.tokens[i], list[i]);
        out.setRngDraws(r.rng_draws);
        wire = (out.asReader().getSampled().totalSize().wordCount + 1) * sizeof(capnp::word);
      } else if (p.sampling) {
        // Sample here: only the token (and logprobs when asked) goes back.
        std::vector<float> row(logits_row, logits_row + vocab);
        const SampleResult r = sample_next(row, tokens_[p.session], *p.sampling);
        write_sampled(r.token, out.initSampled(1)[0]);
        out.setRngDraws(r.rng_draws);
        // What the token costs on the wire: the list with its element(s) and the draw count
        // (the session, step and timings envelope is the same for every result).
        wire = (out.asReader().getSampled().totalSize().wordCount + 1) * sizeof(capnp::word);
      } else {
        const uint32_t k = p.top_k;
        if (k == 0 || k >= vocab) {
          out.initFull(static_cast<unsigned>(vocab));
          auto full = out.getFull();
          for (size_t i = 0; i < vocab; ++i) full.set(static_cast<unsigned>(i), logits_row[i]);
          wire = vocab * 4;
        } else {
          // Only the k best (ties: lower id first), enough for greedy / top-k sampling.
          std::vector<int32_t> order(vocab);
          std::iota(order.begin(), order.end(), 0);
          std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t x, int32_t y) {
            return logits_row[x] > logits_row[y] || (logits_row[x] == logits_row[y] && x < y);
          });
          auto top = out.initTop();
          auto ids = top.initIds(k);
          auto values = top.initValues(k);
          for (uint32_t i = 0; i < k; ++i) {
            ids.set(i, order[i]);
            values.set(i, logits_row[order[i]]);
          }
          wire = k * 8ull;
        }
      }
      add_timing(out.initTimings(n_timings), p.embed ? p.embedding_sum.size() * 4 : vocab * 4, wire);
      return req.send().ignoreResult();
    }
    throw std::logic_error(fmt::format("stage {} holds the head but has no result sink (not linked)", a.stage_index));
  }
  KJ_IF_MAYBE(next, next_) {
    // The frame's wire, unless a failover moved a hop here that was none before (exact).
    const ActivationCodec codec = a.exact_output ? ActivationCodec::F32 : *codec_from_id(p.wire);
    WireFormat wf{codec, p.wire_zstd, 1};  // the id was checked on arrival
    ActivationFrame out = codec_.encode(p.session, p.step, p.hidden.data(), static_cast<uint32_t>(p.rows),
                                        static_cast<uint32_t>(hp.dim), wf);
    auto req = next->forwardRequest();
    auto f = req.initFrame();
    f.setSession(p.session);
    f.setStep(p.step);
    f.setPos0(p.pos0);
    activation_to_wire(out, f.initHidden());
    f.setWire(p.wire);
    f.setWireZstd(p.wire_zstd);
    f.setTopK(p.top_k);
    f.setBatchGroup(p.group);
    if (p.sampling) write_sampling(*p.sampling, f.initSampling());
    f.setVerifyRows(p.verify_rows);
    f.setEmbed(p.embed);
    if (!p.ids.empty()) {
      auto ids = f.initRowTokens(static_cast<unsigned>(p.ids.size()));
      for (unsigned i = 0; i < p.ids.size(); ++i) ids.set(i, p.ids[i]);
    }
    add_timing(f.initTimings(n_timings), p.hidden.size() * 4, out.payload.size());
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
