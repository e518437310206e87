// `baton submit`: send a prompt to a coordinator and stream the reply to the terminal, over
// the coordinator's RPC (authenticated with the cluster secret) or, with --url, its
// OpenAI-compatible HTTP API.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "transport/rpc_peer.h"
#include "transport/user_errors.h"
#include "tools/commands.h"
#include "tools/run_options.h"
#include "tools/submit_http.h"
#include "transport/auth.h"

namespace baton::cli {

namespace {

struct SubmitArgs {
  std::string coordinator = "127.0.0.1:7070";
  std::string url;  // non-empty: HTTP instead of RPC
  std::string prompt;
  std::string secret;
  SamplingFlags sampling;
  std::vector<std::string> stop;
  std::vector<int32_t> prompt_ids;
  bool chat = false;
  bool json = false;
  double wait_s = 10;
};

class PrintingStream final : public rpc::TokenStream::Server {
 public:
  explicit PrintingStream(bool quiet) : quiet_(quiet) {}

 protected:
  kj::Promise<void> token(TokenContext context) override {
    if (!quiet_) {
      fmt::print("{}", context.getParams().getText().cStr());
      std::fflush(stdout);
    }
    return kj::READY_NOW;
  }
  kj::Promise<void> done(DoneContext) override { return kj::READY_NOW; }

 private:
  bool quiet_;
};

// Connects and authenticates, waiting up to `wait_s` for a coordinator that is still
// starting (nothing listens until its pipeline is ready).
Joined join_coordinator(kj::AsyncIoContext& io, const std::string& address, const std::string& secret, double wait_s) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(wait_s * 1000));
  bool said = false;
  for (;;) {
    try {
      return io.provider->getTimer()
          .timeoutAfter(10 * kj::SECONDS, dial_and_join(*io.provider, address, secret, "client"))
          .wait(io.waitScope);
    } catch (const kj::Exception& e) {
      const std::string reason = unreachable_reason(e);
      if (reason.empty()) {
        const std::string why = plain_message(e);
        const bool secret_problem = why.find("secret") != std::string::npos;
        throw std::runtime_error(fmt::format("the coordinator at {} did not accept this client: {}{}", address, why,
                                             secret_problem ? " (use the coordinator's secret: BATON_SECRET or --secret)"
                                                            : ""));
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        throw std::runtime_error(fmt::format(
            "cannot reach the coordinator at {} ({}): is 'baton coordinator' running? Start it, or pass "
            "--coordinator HOST:PORT",
            address, reason));
      }
      if (!said) {
        fmt::print(stderr, "waiting up to {:g} s for the coordinator at {} ({})\n", wait_s, address, reason);
        said = true;
      }
      io.provider->getTimer().afterDelay(250 * kj::MILLISECONDS).wait(io.waitScope);
    }
  }
}

int run_submit(const SubmitArgs& a) {
  if (a.prompt.empty() && a.prompt_ids.empty()) throw std::invalid_argument("give a prompt (text or --prompt-ids)");
  if (!a.url.empty()) {
    HttpSubmit h;
    h.url = a.url;
    h.prompt = a.prompt;
    h.prompt_ids = a.prompt_ids;
    h.chat = a.chat;
    h.json = a.json;
    h.params = a.sampling.generation();
    h.params.stop = a.stop;
    return submit_over_http(h);
  }
  const std::string secret = resolve_secret(a.secret);
  auto io = kj::setupAsyncIo();
  Joined joined = join_coordinator(io, a.coordinator, secret, a.wait_s);
  auto req = joined.coordinator.generateRequest();
  req.setPrompt(a.prompt);
  auto p = req.initParams();
  const GenerationParams g = a.sampling.generation();
  p.setMaxTokens(g.max_tokens);
  p.setTemperature(g.sampling.temperature);
  p.setTopK(g.sampling.top_k);
  p.setTopP(g.sampling.top_p);
  p.setMinP(g.sampling.min_p);
  p.setRepeatPenalty(g.sampling.repeat_penalty);
  p.setSeed(g.sampling.seed);
  p.setChat(a.chat);
  auto ids = p.initPromptIds(static_cast<unsigned>(a.prompt_ids.size()));
  for (unsigned i = 0; i < a.prompt_ids.size(); ++i) ids.set(i, a.prompt_ids[i]);
  auto stop = p.initStop(static_cast<unsigned>(a.stop.size()));
  for (unsigned i = 0; i < a.stop.size(); ++i) stop.set(i, a.stop[i]);
  req.setStream(kj::heap<PrintingStream>(a.json));
  auto r = [&] {
    try {
      return req.send().wait(io.waitScope);
    } catch (const kj::Exception& e) {
      if (e.getType() != kj::Exception::Type::DISCONNECTED) throw;
      throw std::runtime_error(fmt::format("the coordinator at {} went away before the reply was complete ({})",
                                           a.coordinator, plain_message(e)));
    }
  }();
  auto s = r.getSummary();
  if (a.json) {
    nlohmann::json j = {{"text", s.getText().cStr()},
                        {"prompt_tokens", s.getPromptTokens()},
                        {"completion_tokens", s.getCompletionTokens()},
                        {"finish_reason", s.getFinishReason().cStr()}};
    auto& out_ids = j["completion_ids"] = nlohmann::json::array();
    for (int32_t id : s.getCompletionIds()) out_ids.push_back(id);
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("\n");
    std::fflush(stdout);  // the text's line ends before the summary on stderr
    fmt::print(stderr, "[{} prompt tokens, {} generated, {}]\n", s.getPromptTokens(), s.getCompletionTokens(),
               s.getFinishReason().cStr());
  }
  return 0;
}

}  // namespace

void register_submit(CLI::App& app, CommandRunner& runner) {
  auto a = std::make_shared<SubmitArgs>();
  CLI::App* cmd = app.add_subcommand("submit", "Send a prompt to a coordinator and stream the reply");
  cmd->add_option("prompt", a->prompt, "The prompt");
  cmd->add_option("--prompt-ids", a->prompt_ids, "The prompt as token ids (comma-separated) instead of text")->delimiter(',');
  cmd->add_option("--coordinator", a->coordinator, "Coordinator RPC address (HOST:PORT)")->capture_default_str();
  cmd->add_option("--wait", a->wait_s, "Seconds to wait for a coordinator that is still starting")
      ->check(CLI::Range(0.0, 3600.0))->capture_default_str();
  cmd->add_option("--url", a->url, "Use the coordinator's HTTP API instead of RPC (e.g. http://127.0.0.1:8080)");
  cmd->add_option("-s,--secret", a->secret, "Cluster secret (default: $BATON_SECRET)");
  add_sampling_flags(*cmd, a->sampling);
  cmd->add_option("--stop", a->stop, "Stop string (repeatable)");
  cmd->add_flag("--chat", a->chat, "Wrap the prompt in the model's chat template");
  cmd->add_flag("--json", a->json, "Print one JSON object instead of streaming text");
  cmd->callback([a, &runner] { runner = [a] { return run_submit(*a); }; });
}

}  // namespace baton::cli
