// The stage role: a contiguous layer range, one KV cache per session, and Stage.forward.
// Frames are validated against the model's dims and the assignment's caps before any
// allocation; a bad frame fails only its own call, the stage keeps serving the rest.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "model/kv_cache.h"
#include "model/model.h"
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
};

class StageRuntime {
 public:
  StageRuntime(std::unique_ptr<Model> model, const StageAssignment& assignment, unsigned threads);

  const StageAssignment& assignment() const { return assignment_; }
  const Model& model() const { return *model_; }
  uint64_t kv_bytes_reserved() const;  // what max_sessions full caches take
  size_t sessions() const { return caches_.size(); }

  // Where results go: the next stage, or (last stage) the coordinator's sink.
  void link_next(rpc::Stage::Client next);
  void link_sink(rpc::ResultSink::Client sink);

  kj::Promise<void> forward(rpc::Frame::Reader frame);
  void drop_session(uint64_t session);

 private:
  KVCache& cache_for(uint64_t session);

  std::unique_ptr<Model> model_;
  StageAssignment assignment_;
  ThreadPool pool_;
  FrameCodec codec_;  // reused zstd contexts for every frame in and out
  std::map<uint64_t, std::unique_ptr<KVCache>> caches_;
  kj::Maybe<rpc::Stage::Client> next_;
  kj::Maybe<rpc::ResultSink::Client> sink_;
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
