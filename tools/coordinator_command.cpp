// `baton coordinator`: join the nodes, plan, load and link the pipeline, serve prompts.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "model/kv_cache.h"
#include "node/cluster.h"
#include "node/coordinator_service.h"
#include "node/model_identity.h"
#include "node/rpc_peer.h"
#include "node/session_runner.h"
#include "tools/commands.h"
#include "tools/default_model.h"
#include "tools/event_loop.h"
#include "transport/auth.h"

namespace baton::cli {

namespace {

struct CoordinatorArgs {
  std::vector<std::string> peers;
  std::optional<std::string> model;
  std::string secret;
  std::string listen = "127.0.0.1:7070";
  std::string wire = "int8+zstd";
  std::string strategy = "memory";
  int64_t ctx = 2048;
  uint32_t max_sessions = 4;
  std::string kv_dtype = "f16";
  uint32_t prefill_chunk = 64;
};

int run_coordinator(CoordinatorArgs args) {
  ClusterConfig cfg;
  cfg.peers = args.peers;
  cfg.secret = resolve_secret(args.secret);
  cfg.wire = parse_wire_format(args.wire);
  cfg.strategy = *parse_strategy(args.strategy);
  cfg.context = args.ctx;
  cfg.max_sessions = args.max_sessions;
  cfg.kv_dtype = parse_kv_dtype(args.kv_dtype);
  cfg.prefill_chunk = args.prefill_chunk;

  const std::string path = resolve_model(args.model);
  ModelOpenOptions opt;
  opt.range = LayerRange{0, 0};  // the coordinator holds no layers: tokenizer and shards only
  opt.with_embedding = false;
  opt.with_head = false;
  opt.prefault = false;
  auto model = Model::open(path, opt);
  const std::string hash = model_file_hash(path);
  if (cfg.context > model->hparams().ctx_train) {
    spdlog::warn("context {} is longer than the {} tokens the model was trained with", cfg.context,
                 model->hparams().ctx_train);
  }

  capture_shutdown_signals();
  auto io = kj::setupAsyncIo();
  Cluster cluster(io, *model, hash, cfg);
  fmt::print("coordinator: joining {} node(s), model {} ({})\n", cfg.peers.size(), path, hash.substr(0, 12));
  std::fflush(stdout);
  cluster.assemble().wait(io.waitScope);

  SessionRunner runner(kj::getCurrentThreadExecutor(), cluster, model->tokenizer());
  rpc::Coordinator::Client service = kj::heap<CoordinatorServer>(*model, runner, static_cast<int32_t>(cfg.prefill_chunk));
  const std::string secret = cfg.secret;
  RpcListener listener(io, args.listen, [&](std::function<void()> close, std::string peer) -> capnp::Capability::Client {
    return kj::heap<GateServer>(secret, "coordinator", std::move(peer), std::move(close), nullptr, service);
  });
  fmt::print("coordinator ready on {} (port {}): {} stage(s), wire {}, predicted {:.1f} tokens/s\n", args.listen,
             listener.port(), cluster.plan().stages.size(), wire_format_name(cfg.wire), cluster.plan().tokens_per_s);
  std::fflush(stdout);
  const char* sig = listener.run().then([] { return "accept loop ended"; }).exclusiveJoin(shutdown_signal(io)).wait(io.waitScope);
  spdlog::info("coordinator shutting down ({})", sig);
  return 0;
}

}  // namespace

void register_coordinator(CLI::App& app, CommandRunner& runner) {
  auto a = std::make_shared<CoordinatorArgs>();
  CLI::App* cmd = app.add_subcommand("coordinator", "Plan a model over nodes, load them, and serve prompts");
  cmd->add_option("--peers", a->peers, "Nodes as HOST:PORT (comma-separated)")->delimiter(',')->required();
  cmd->add_option("-m,--model", a->model, "GGUF model (default: the shipped model)");
  cmd->add_option("-s,--secret", a->secret, "Cluster secret (default: $BATON_SECRET)");
  cmd->add_option("-l,--listen", a->listen, "Address for `baton submit` (HOST:PORT)")->capture_default_str();
  cmd->add_option("--wire", a->wire, "Activation encoding between stages: f32, f16, int8, each optionally +zstd")
      ->capture_default_str();
  cmd->add_option("--strategy", a->strategy, "Planner: memory (proportional) or latency (fastest predicted)")
      ->check(CLI::IsMember({"memory", "latency"}))->capture_default_str();
  cmd->add_option("-c,--ctx", a->ctx, "Context per session (tokens)")->check(CLI::Range(int64_t{16}, int64_t{1} << 20))->capture_default_str();
  cmd->add_option("--max-sessions", a->max_sessions, "Concurrent sessions every stage reserves KV for")
      ->check(CLI::Range(1u, 1024u))->capture_default_str();
  cmd->add_option("--kv-dtype", a->kv_dtype, "KV cache type on the stages")->check(CLI::IsMember({"f16", "q8_0", "int8", "f32"}))->capture_default_str();
  cmd->add_option("--prefill-chunk", a->prefill_chunk, "Prompt tokens per frame")->check(CLI::Range(1u, 4096u))->capture_default_str();
  cmd->callback([a, &runner] { runner = [a] { return run_coordinator(*a); }; });
}

}  // namespace baton::cli
