// `baton model perplexity FILE --text TEXT`: the model's perplexity on a text, in windows
// as model/perplexity.h describes (non-overlapping, fresh context, every prediction scored).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "model/model.h"
#include "model/perplexity.h"
#include "tensor/thread_pool.h"
#include "tools/model_commands.h"

namespace baton::cli {

namespace {

// A text larger than this is refused rather than read: hours of scoring, gigabytes of ids.
constexpr uintmax_t kMaxTextBytes = 256u << 20;
// The default window when the model's own context is longer (llama.cpp's default too).
constexpr int64_t kDefaultContext = 512;

struct PerplexityArgs {
  std::string model;
  std::string text;
  int64_t context = 0;
  unsigned threads = 0;
  std::string kv_dtype = "f16";
  int64_t max_windows = 0;
  bool special = false;
  bool json = false;
};

std::string read_text(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw std::invalid_argument(fmt::format("--text '{}': {}", path, ec.message()));
  if (size > kMaxTextBytes) {
    throw std::invalid_argument(fmt::format("--text '{}' is {} MiB; at most {} MiB are read: cut it down", path,
                                            size >> 20, kMaxTextBytes >> 20));
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::invalid_argument(fmt::format("--text '{}' cannot be opened", path));
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// One line per tenth on a log, a rewritten line on a terminal.
auto progress_printer() {
  const bool tty = isatty(STDERR_FILENO);
  return [tty, last = int64_t{-1}](int64_t done, int64_t total, double ppl) mutable {
    const int64_t tenth = done * 10 / total;
    if (tty) {
      fmt::print(stderr, "\rwindow {}/{}  perplexity so far {:.3f}", done, total, ppl);
      if (done == total) fmt::print(stderr, "\n");
    } else if (tenth != last) {
      fmt::print(stderr, "window {}/{}  perplexity so far {:.3f}\n", done, total, ppl);
    }
    last = tenth;
  };
}

int perplexity(const PerplexityArgs& a) {
  const std::string text = read_text(a.text);
  ModelOpenOptions open;
  open.prefault = false;
  const auto model = Model::open(a.model, open);
  const Tokenizer& tok = model->tokenizer();
  // With --special the text writes its own <s> ... </s>, so no BOS is added in front.
  const std::vector<int32_t> tokens = tok.encode(text, tok.add_bos() && !a.special, a.special);

  PerplexityOptions o;
  const int64_t ctx_train = model->hparams().ctx_train;
  o.context = a.context > 0 ? a.context : ctx_train > 0 ? std::min(ctx_train, kDefaultContext) : kDefaultContext;
  o.kv_dtype = parse_kv_dtype(a.kv_dtype);
  o.max_windows = a.max_windows;
  o.progress = progress_printer();
  ThreadPool pool(a.threads);
  fmt::print(stderr, "{} tokens, {} windows of {} (+1) tokens, {} thread(s)\n", tokens.size(),
             perplexity_windows(static_cast<int64_t>(tokens.size()), o.context, o.max_windows), o.context, pool.size());
  const auto start = std::chrono::steady_clock::now();
  const PerplexityResult r = measure_perplexity(model->transformer(), tokens, o, &pool);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (a.json) {
    nlohmann::json j = {{"model", a.model}, {"text", a.text}, {"tokens", tokens.size()}, {"context", o.context},
                        {"windows", r.windows}, {"predicted", r.predicted}, {"mean_nll", r.mean_nll},
                        {"mean_nll_stderr", r.mean_nll_stderr}, {"perplexity", r.perplexity},
                        {"perplexity_stderr", r.perplexity_stderr}, {"kv_dtype", a.kv_dtype}, {"seconds", secs}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("perplexity {:.3f} ± {:.3f} (mean NLL {:.4f} ± {:.4f} nats/token) over {} tokens: {} windows of {}, "
               "non-overlapping, each from an empty context, every prediction scored; {:.0f} tokens/s\n",
               r.perplexity, r.perplexity_stderr, r.mean_nll, r.mean_nll_stderr, r.predicted, r.windows, o.context,
               static_cast<double>(r.predicted) / secs);
  }
  return 0;
}

}  // namespace

void register_model_perplexity(CLI::App& group, CommandRunner& runner) {
  auto a = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = group.add_subcommand("perplexity", "Perplexity of a model on a text file");
  cmd->add_option("model", a->model, "GGUF model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--text", a->text, "Text file to score (UTF-8)")->required()->check(CLI::ExistingFile);
  cmd->add_option("-c,--context", a->context,
                  "Window: tokens fed per window, all predictions scored (default: the model's context, at most 512)");
  cmd->add_option("--threads", a->threads, "Threads (0: one per core)")->capture_default_str();
  cmd->add_option("--kv-dtype", a->kv_dtype, "KV cache type: f16, q8_0 or f32")->capture_default_str();
  cmd->add_option("--max-windows", a->max_windows, "Score only the first N windows (0: all), for a quick figure")
      ->capture_default_str();
  cmd->add_flag("--special", a->special,
                "The text writes control tokens itself (e.g. <s>...</s> around each document): parse them, add no BOS");
  cmd->add_flag("--json", a->json, "Print the result as one JSON object");
  cmd->callback([a, &runner] { runner = [a] { return perplexity(*a); }; });
}

}  // namespace baton::cli
