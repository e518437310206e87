// `baton run`: the whole model in this process. Interactive multi-turn chat by default;
// --prompt for a single completion.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <optional>

#include "model/chat_template.h"
#include "model/draft_model.h"
#include "model/generation.h"
#include "model/local_backend.h"
#include "model/model.h"
#include "model/prompt.h"
#include "tensor/thread_pool.h"
#include "tools/commands.h"
#include "tools/default_model.h"
#include "tools/line_editor.h"
#include "tools/progress.h"
#include "tools/run_options.h"

namespace baton::cli {

namespace {

// SIGINT must reach the decode loop; a signal handler can only touch a lock-free atomic
// with static storage, so this one flag is the exception to "no globals".
std::atomic<bool> g_interrupted{false};

void on_sigint(int) { g_interrupted.store(true); }

void install_sigint_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read of the next prompt returns on Ctrl-C
  sigaction(SIGINT, &sa, nullptr);
}

struct RunArgs {
  RunOptions common;
  std::optional<std::string> prompt;
  std::string system;
  bool chat = false;  // --prompt: apply the chat template
  bool raw = false;   // interactive: plain text continuation instead of chat turns
};

void print_status(const GenerationResult& r, double ttft_ms, double decode_secs, const KVCache& kv) {
  const double tps = decode_secs > 0 && r.completion_tokens > 1 ? (r.completion_tokens - 1) / decode_secs : 0.0;
  fmt::print(stderr, "\n[{} tokens, {:.1f} tok/s, time to first token {:.0f} ms, KV cache {:.2f} MB, {}]\n",
             r.completion_tokens, tps, ttft_ms, static_cast<double>(kv.bytes_used()) / 1e6,
             finish_reason_name(r.finish));
}

// Generates one reply, streaming to stdout, and prints the status line.
GenerationResult reply(Generator& gen, const LocalBackend& backend, const std::vector<int32_t>& input,
                       const GenerationParams& params) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::optional<clock::time_point> first;
  GenerationCallbacks cb;
  cb.on_token = [&](int32_t, const std::string& text) {
    if (!first) first = clock::now();
    fmt::print("{}", text);
    std::fflush(stdout);
  };
  g_interrupted.store(false);
  GenerationResult r = gen.generate(input, params, cb, &g_interrupted);
  const auto end = clock::now();
  const double ttft_ms = first ? std::chrono::duration<double, std::milli>(*first - start).count() : 0.0;
  const double decode_secs = first ? std::chrono::duration<double>(end - *first).count() : 0.0;
  print_status(r, ttft_ms, decode_secs, backend.kv_cache());
  return r;
}

int run(const RunArgs& args) {
  const std::string path = resolve_model(args.common.model);
  auto model = open_model_with_progress(path);
  const Tokenizer& tok = model->tokenizer();
  ThreadPool pool(args.common.threads);
  const int64_t ctx = effective_context(args.common.ctx, model->hparams());
  LocalBackend backend(model->transformer(), parse_kv_dtype(args.common.kv_dtype), ctx, &pool);
  Generator gen(backend, tok, [] {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
  });
  GenerationParams params = args.common.generation();
  const std::unique_ptr<Model> draft = open_draft_model(args.common.speculation, *model);
  std::optional<ModelDrafter> drafter;
  if (draft) {
    drafter.emplace(*draft, ctx);
    params.drafter = [&drafter](std::span<const int32_t> context, int32_t k, const SamplingRequest& r) {
      return drafter->propose(context, k, r);
    };
  }
  const ChatTemplateKind tmpl = detect_chat_template(model->chat_template_source());
  spdlog::info("model {}: {} layers, dim {}, vocab {}, context {}, {} threads, chat template {}", path,
               model->hparams().n_layers, model->hparams().dim, model->hparams().vocab_size, ctx, pool.size(),
               chat_template_name(tmpl));

  install_sigint_handler();
  std::vector<ChatMessage> messages;
  if (!args.system.empty()) messages.push_back({"system", args.system});
  auto encode_turns = [&] {
    Prompt p;
    p.chat = true;
    p.messages = messages;
    return prompt_to_ids(tok, tmpl, p);
  };
  auto encode_text = [&](const std::string& text) {
    Prompt p;
    p.text = text;
    return prompt_to_ids(tok, tmpl, p);
  };

  if (args.prompt) {
    std::vector<int32_t> input;
    if (args.chat) {
      messages.push_back({"user", *args.prompt});
      input = encode_turns();
    } else {
      input = encode_text(*args.prompt);
      fmt::print("{}", *args.prompt);
    }
    reply(gen, backend, input, params);
    return 0;
  }

  fmt::print(stderr, "baton chat — type a message; /clear resets the conversation, /quit or Ctrl-D exits,\n"
                     "Ctrl-C stops the current reply.{}\n", args.raw ? " (raw continuation mode)" : "");
  std::string raw_text;
  LineEditor editor(default_history_file());
  for (;;) {
    fmt::print("\n");
    std::string line;
    g_interrupted.store(false);
    const ReadResult got = editor.read("> ", line);
    if (got == ReadResult::Interrupted) {  // Ctrl-C at the prompt: stay
      fmt::print("\n(Ctrl-D or /quit to exit)");
      continue;
    }
    if (got == ReadResult::EndOfInput) {
      fmt::print("\n");
      return 0;
    }
    if (line == "/quit" || line == "/exit") return 0;
    if (line == "/clear") {
      messages.clear();
      if (!args.system.empty()) messages.push_back({"system", args.system});
      raw_text.clear();
      gen.clear();
      fmt::print(stderr, "(context cleared)\n");
      continue;
    }
    if (line.empty()) continue;
    try {
      if (args.raw) {
        raw_text += line;
        GenerationResult r = reply(gen, backend, encode_text(raw_text), params);
        raw_text += r.text;
      } else {
        messages.push_back({"user", line});
        GenerationResult r = reply(gen, backend, encode_turns(), params);
        messages.push_back({"assistant", r.text});
      }
    } catch (const std::length_error& e) {
      fmt::print(stderr, "\nbaton: {} — use /clear or a larger --ctx\n", e.what());
      if (!args.raw) messages.pop_back();
    }
  }
}

}  // namespace

void register_run(CLI::App& app, CommandRunner& runner) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model on this machine: interactive chat, or one --prompt");
  add_run_options(*cmd, args->common);
  cmd->add_option("-p,--prompt", args->prompt, "Complete this text once and exit (no chat template unless --chat)");
  cmd->add_flag("--chat", args->chat, "With --prompt: wrap the prompt in the model's chat template");
  cmd->add_flag("--raw", args->raw, "Interactive: continue plain text instead of chat turns");
  cmd->add_option("--system", args->system, "System message for chat");
  cmd->callback([args, &runner] { runner = [args] { return run(*args); }; });
}

}  // namespace baton::cli
