#include "node/coordinator/coordinator_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "model/chat_template.h"
#include "model/prompt.h"
#include "transport/rpc_peer.h"

namespace baton {

GenerationParams generation_params_from(rpc::GenerateParams::Reader p, int32_t prefill_chunk) {
  GenerationParams g;
  g.max_tokens = p.getMaxTokens();
  if (g.max_tokens < 0 || g.max_tokens > (1 << 20)) {
    throw std::invalid_argument(fmt::format("maxTokens must be in [0, {}], got {}", 1 << 20, g.max_tokens));
  }
  g.sampling.temperature = p.getTemperature();
  g.sampling.top_k = p.getTopK();
  g.sampling.top_p = p.getTopP();
  g.sampling.min_p = p.getMinP();
  g.sampling.repeat_penalty = p.getRepeatPenalty();
  g.sampling.seed = p.getSeed();
  if (p.getStop().size() > 16) throw std::invalid_argument("at most 16 stop strings");
  for (auto s : p.getStop()) g.stop.emplace_back(s.cStr());
  g.prefill_chunk = prefill_chunk;
  validate(g.sampling);
  return g;
}

namespace {

// The request's prompt as prompt_to_ids takes it: ids when given, else the text, or one
// user turn through the model's chat template.
Prompt prompt_from(rpc::GenerateParams::Reader p, rpc::Coordinator::GenerateParams::Reader call) {
  Prompt prompt;
  for (int32_t id : p.getPromptIds()) prompt.ids.push_back(id);
  if (!prompt.ids.empty()) return prompt;
  prompt.chat = p.getChat();
  if (prompt.chat) prompt.messages.push_back({"user", call.getPrompt()});
  else prompt.text = call.getPrompt();
  return prompt;
}

}  // namespace

void CoordinatorServer::IgnoreGoneClient::taskFailed(kj::Exception&& e) {
  // The client hung up mid-stream; its call is being cancelled too.
  spdlog::debug("token not delivered: {}", e.getDescription().cStr());
}

kj::Promise<void> CoordinatorServer::generate(GenerateContext context) {
  auto p = context.getParams();
  GenerationParams params;
  std::vector<int32_t> input;
  try {
    params = generation_params_from(p.getParams(), prefill_chunk_);
    params.speculation = speculation_;
    input = prompt_to_ids(model_.tokenizer(), detect_chat_template(model_.chat_template_source()),
                          prompt_from(p.getParams(), p));
  } catch (const PromptError& e) {
    throw_rpc_error(fmt::format("{}: {}", e.field, e.what()));
  } catch (const std::exception& e) {
    throw_rpc_error(e.what());
  }
  auto stream = kj::heap<rpc::TokenStream::Client>(p.getStream());
  auto paf = kj::newPromiseAndFulfiller<SessionOutcome>();
  // Callbacks run on this (event-loop) thread; `alive` guards against a call that was
  // cancelled (client gone) while the generation thread still reports.
  auto alive = std::make_shared<bool>(true);
  // The call owns the token sends in flight: they end with it.
  auto sends = kj::heap<kj::TaskSet>(send_failures_);
  kj::TaskSet* sends_ptr = sends.get();
  SessionCallbacks cb;
  rpc::TokenStream::Client* stream_ptr = stream.get();
  auto fulfiller = kj::mv(paf.fulfiller);
  auto* fulfiller_ptr = fulfiller.get();
  cb.on_token = [alive, stream_ptr, sends_ptr](int32_t id, const std::string& text) {
    if (!*alive) return;
    auto req = stream_ptr->tokenRequest();
    req.setText(text);
    req.setId(id);
    sends_ptr->add(req.send());
  };
  cb.on_done = [alive, fulfiller_ptr](const SessionOutcome& out) {
    if (*alive) fulfiller_ptr->fulfill(SessionOutcome(out));
  };
  const StartResult started = runner_.try_start(std::move(input), params, cb);
  if (!started.started()) throw_rpc_error(started.refusal);
  std::shared_ptr<std::atomic<bool>> cancel = started.cancel;
  return paf.promise
      .then([context](SessionOutcome out) mutable {
        if (!out.error.empty()) throw_rpc_error(out.error);
        auto s = context.getResults().initSummary();
        s.setPromptTokens(out.result.prompt_tokens);
        s.setCompletionTokens(out.result.completion_tokens);
        s.setFinishReason(finish_reason_name(out.result.finish));
        s.setText(out.result.text);
        auto ids = s.initCompletionIds(static_cast<unsigned>(out.ids.size()));
        for (unsigned i = 0; i < out.ids.size(); ++i) ids.set(i, out.ids[i]);
      })
      .attach(kj::mv(stream), kj::mv(sends), kj::mv(fulfiller), kj::defer([alive, cancel] {
                *alive = false;
                cancel->store(true);  // finished, or the client went away: stop generating
              }));
}

}  // namespace baton
