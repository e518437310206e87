#include "tools/run_options.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include <algorithm>

#include "model/draft_model.h"
#include "tools/progress.h"

namespace baton::cli {

GenerationParams SamplingFlags::generation() const {
  GenerationParams p;
  p.max_tokens = max_tokens;
  p.sampling.temperature = temperature;
  p.sampling.top_k = top_k;
  p.sampling.top_p = top_p;
  p.sampling.min_p = min_p;
  p.sampling.repeat_penalty = repeat_penalty;
  p.sampling.seed = seed;
  validate(p.sampling);
  return p;
}

void add_run_options(CLI::App& cmd, RunOptions& o) {
  cmd.add_option("-m,--model", o.model, "GGUF model file (default: the shipped model)");
  cmd.add_option("-t,--threads", o.threads, "Threads for the kernels (0: all cores)")->capture_default_str();
  cmd.add_option("-c,--ctx", o.ctx, "Context length in tokens (0: model's, at most 4096)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))->capture_default_str();
  cmd.add_option("--kv-dtype", o.kv_dtype, "KV cache type")
      ->check(CLI::IsMember({"f16", "q8_0", "int8", "f32"}))->capture_default_str();
  add_sampling_flags(cmd, o.sampling);
  add_speculation_flags(cmd, o.speculation);
}

SpeculationParams SpeculationFlags::params() const {
  SpeculationParams p;
  p.enabled = mode != "off";
  p.use_draft_model = mode == "draft" || (mode == "on" && !draft_model.empty());
  if (mode == "draft" && draft_model.empty()) {
    throw std::invalid_argument("--speculative draft needs a draft model: add --draft MODEL.gguf");
  }
  p.max_draft = max_draft;
  validate(p);
  return p;
}

std::unique_ptr<Model> open_draft_model(const SpeculationFlags& flags, const Model& target) {
  if (flags.draft_model.empty() || !flags.params().use_draft_model) return nullptr;
  auto draft = Model::open(flags.draft_model);
  require_same_vocabulary(target, *draft, flags.draft_model);
  spdlog::info("draft model {}: {} layers, dim {}", flags.draft_model, draft->hparams().n_layers, draft->hparams().dim);
  return draft;
}

void add_speculation_flags(CLI::App& cmd, SpeculationFlags& o) {
  cmd.add_option("--speculative", o.mode,
                 "Speculative decoding: draft tokens and verify them in one forward (fewer round trips when drafts "
                 "are right). on: with the --draft model if given, else by prompt lookup (earlier text); lookup; "
                 "draft (needs --draft); off. Greedy text is the same either way")
      ->check(CLI::IsMember({"on", "off", "lookup", "draft"}))
      ->capture_default_str();
  cmd.add_option("--draft", o.draft_model,
                 "Draft model for speculative decoding: a small GGUF with the same vocabulary, run on this machine")
      ->check(CLI::ExistingFile);
  cmd.add_option("--draft-max", o.max_draft, "Most draft tokens verified per forward (the draft length adapts below it)")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
}

void add_sampling_flags(CLI::App& cmd, SamplingFlags& o) {
  cmd.add_option("--temp", o.temperature, "Sampling temperature (0: greedy)")
      ->check(CLI::Range(0.0f, 100.0f))->capture_default_str();
  cmd.add_option("--top-k", o.top_k, "Keep the k most likely tokens (0: off)")
      ->check(CLI::Range(0, 1 << 20))->capture_default_str();
  cmd.add_option("--top-p", o.top_p, "Nucleus sampling mass (1: off)")
      ->check(CLI::Range(0.0f, 1.0f))->capture_default_str();
  cmd.add_option("--min-p", o.min_p, "Drop tokens below min-p x the top probability (0: off)")
      ->check(CLI::Range(0.0f, 1.0f))->capture_default_str();
  cmd.add_option("--repeat-penalty", o.repeat_penalty, "Penalty for recently seen tokens (1: off)")
      ->check(CLI::Range(0.0f, 10.0f))->capture_default_str();
  // The check runs on the text: CLI11 would otherwise wrap -1 into 2^64 - 1.
  cmd.add_option("--seed", o.seed, "Random seed for sampling (0 .. 2^64-1)")
      ->check(CLI::Validator(
          [](std::string& text) {
            return text.find('-') != std::string::npos ? std::string("a seed is 0 or more, not negative") : std::string();
          },
          "0..2^64-1"))
      ->capture_default_str();
  cmd.add_option("-n,--max-tokens", o.max_tokens, "Most tokens per reply")
      ->check(CLI::Range(0, 1 << 20))->capture_default_str();
}

int64_t effective_context(int64_t requested, const HyperParams& hp) {
  if (requested > 0) return requested;
  return std::min<int64_t>(hp.ctx_train, 4096);
}

std::unique_ptr<Model> open_model_with_progress(const std::string& path) {
  ProgressBar bar("Loading model");
  ModelOpenOptions opt;
  opt.progress = [&](uint64_t done, uint64_t total) { bar.update(done, total); };
  auto model = Model::open(path, opt);
  bar.finish();
  return model;
}

}  // namespace baton::cli
