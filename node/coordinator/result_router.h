// The coordinator's end of the ring: the last stage delivers each step's sampled token
// or logits (or a stage reports a failure) here, and the step that waits resolves.
#pragma once

#include <kj/async.h>

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "model/sampling_request.h"
#include "transport/stage_timing.h"
#include "transport/baton.capnp.h"

namespace baton {

struct StepResult {
  std::vector<float> logits;  // full vocabulary (top-k replies are expanded with -inf);
                              // empty when the last stage sampled
  std::vector<SampledToken> sampled;  // the tokens the last stage chose, when asked to
  uint64_t rng_draws = 0;             // the generator's position after them
  std::vector<float> embedding_sum;   // the frame asked to embed: its rows' final norms summed
  std::vector<StageTimingRecord> timings;
  uint64_t sent_ns = 0, received_ns = 0;  // steady clock at the coordinator
};

class ResultRouter final : public rpc::ResultSink::Server {
 public:
  explicit ResultRouter(int vocab_size) : vocab_(vocab_size) {}
  kj::Promise<StepResult> expect(uint64_t session, uint64_t step);
  void fail(uint64_t session, uint64_t step, const kj::Exception& e);
  // Fails every step in flight (the pipeline they travel on is gone).
  void fail_all(const kj::Exception& e);

 protected:
  kj::Promise<void> deliver(DeliverContext context) override;
  kj::Promise<void> failed(FailedContext context) override;

 private:
  int vocab_;
  struct Pending {
    kj::Own<kj::PromiseFulfiller<StepResult>> fulfiller;
    uint64_t sent_ns = 0;  // steady clock, when the step was sent into the ring
  };
  std::map<std::pair<uint64_t, uint64_t>, Pending> pending_;
};

}  // namespace baton
