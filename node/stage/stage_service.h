// The stage role: a contiguous layer range, one KV cache per session, and Stage.forward.
// Frames are validated against the model's dims and the assignment's caps before any
// allocation; a bad frame fails only its own call, the stage keeps serving the rest.
//
// Batching: frames are queued and computed on the next event-loop turn after the socket
// has been polled, so frames of different sessions that reached the stage together run
// as one batch (the weights are read once for all their rows; decode is bound by reading
// weights), if the coordinator put them in the same batch group. A frame's results are
// bit-identical batched or alone.
#pragma once

#include <kj/async-io.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "model/kv_cache.h"
#include "model/model.h"
#include "transport/stage_timing.h"
#include "tensor/thread_pool.h"
#include "transport/activation_frame.h"
#include "transport/baton.capnp.h"

namespace baton {

struct StageAssignment {
  LayerRange range;
  bool with_embedding = false;
  bool with_head = false;
  uint32_t stage_index = 0;
  int64_t context = 0;
  uint32_t max_sessions = 1;
  DType kv_dtype = DType::F16;
  uint32_t max_frame_rows = 512;
  // Failover: layer boundaries inside the range where the hidden state takes the wire
  // codec's round trip (sorted), and whether the output goes out exact (f32).
  std::vector<int> quantize_after;
  bool exact_output = false;
};

class StageRuntime {
 public:
  // `timer` schedules batch computation; without one (unit tests) frames run one by one
  // as soon as they arrive.
  StageRuntime(std::unique_ptr<Model> model, const StageAssignment& assignment, unsigned threads,
               kj::Timer* timer = nullptr);
  ~StageRuntime();

  const StageAssignment& assignment() const { return assignment_; }
  const Model& model() const { return *model_; }
  uint64_t kv_bytes_reserved() const;  // what max_sessions full caches take
  size_t sessions() const { return caches_.size(); }

  // Where results go: the next stage, or (last stage) the coordinator's sink.
  void link_next(rpc::Stage::Client next);
  void link_sink(rpc::ResultSink::Client sink);

  kj::Promise<void> forward(rpc::Frame::Reader frame);
  void drop_session(uint64_t session);
  void drop_all_sessions() { caches_.clear(); }
  // Frames computed together so far, for logs and tests: batches run and frames in them.
  uint64_t batches_run() const { return batches_run_; }
  uint64_t frames_batched() const { return frames_batched_; }
  uint64_t compute_micros() const { return compute_us_total_; }

 private:
  struct Pending;  // a validated frame waiting for its batch
  // Rows of a frame that go through the head: the last, or a speculative frame's verified ones.
  static size_t head_rows_of(const Pending& p);
  KVCache& cache_for(uint64_t session);
  void schedule_drain();
  void drain();
  void compute_batch(std::vector<std::unique_ptr<Pending>> batch);
  kj::Promise<void> send_on(Pending& p, const float* logits_row);

  std::unique_ptr<Model> model_;
  StageAssignment assignment_;
  ThreadPool pool_;
  FrameCodec codec_;  // reused zstd contexts for every frame in and out
  std::map<uint64_t, std::unique_ptr<KVCache>> caches_;
  // Last stage: each session's token ids at its cached positions (-1 where a frame did
  // not say), the window of the sampler's penalties.
  std::map<uint64_t, std::vector<int32_t>> tokens_;
  kj::Maybe<rpc::Stage::Client> next_;
  kj::Maybe<rpc::ResultSink::Client> sink_;
  kj::Timer* timer_;
  std::deque<std::unique_ptr<Pending>> queue_;
  bool drain_scheduled_ = false;
  kj::Canceler drain_canceler_;  // the scheduled drain must not outlive the runtime
  uint64_t batches_run_ = 0, frames_batched_ = 0, compute_us_total_ = 0;
};

// Stage.forward / Stage.dropSession over a shared runtime (the runtime may be replaced
// by a reload; the server refuses calls while none is loaded).
class StageServer final : public rpc::Stage::Server {
 public:
  explicit StageServer(std::shared_ptr<StageRuntime>* runtime) : runtime_(runtime) {}

 protected:
  kj::Promise<void> forward(ForwardContext context) override;
  kj::Promise<void> dropSession(DropSessionContext context) override;

 private:
  std::shared_ptr<StageRuntime>* runtime_;
};

}  // namespace baton
