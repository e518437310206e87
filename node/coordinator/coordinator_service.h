// Coordinator.generate over RPC (what `baton submit --coordinator` calls): tokenises the
// prompt (optionally through the chat template), runs a session and streams tokens back.
#pragma once

#include "model/model.h"
#include "node/coordinator/session_runner.h"
#include "transport/baton.capnp.h"

namespace baton {

// Request fields -> generation parameters; throws std::invalid_argument naming the field.
GenerationParams generation_params_from(rpc::GenerateParams::Reader p, int32_t prefill_chunk);

class CoordinatorServer final : public rpc::Coordinator::Server {
 public:
  CoordinatorServer(const Model& model, SessionRunner& runner, int32_t prefill_chunk)
      : model_(model), runner_(runner), prefill_chunk_(prefill_chunk) {}
  // Speculative decoding for the requests of this door (off unless set).
  void set_speculation(const SpeculationParams& s) { speculation_ = s; }

 protected:
  kj::Promise<void> generate(GenerateContext context) override;

 private:
  class IgnoreGoneClient final : public kj::TaskSet::ErrorHandler {
   public:
    void taskFailed(kj::Exception&& e) override;
  };

  const Model& model_;
  SessionRunner& runner_;
  int32_t prefill_chunk_;
  SpeculationParams speculation_;
  IgnoreGoneClient send_failures_;
};

}  // namespace baton
