// Options shared by the commands that run a model (run, bench, coordinator): model,
// threads, context, KV dtype and sampling, with one definition of their flags.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "model/generation.h"
#include "model/hparams.h"
#include "model/model.h"

namespace CLI { class App; }

namespace baton::cli {

// Sampling and length flags, shared by every command that generates (run, submit, ...).
struct SamplingFlags {
  float temperature = SamplerParams{}.temperature;  // one default everywhere (0.8)
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;  // off by default, as in llama.cpp, so --temp 0 is plain argmax
  uint64_t seed = 0;
  int32_t max_tokens = 256;

  // Validated (throws std::invalid_argument naming the field).
  GenerationParams generation() const;
};

void add_sampling_flags(CLI::App& cmd, SamplingFlags& flags);

// Speculative decoding flags, shared by `run` and `coordinator`.
struct SpeculationFlags {
  std::string mode = "on";  // on (draft model if given, else lookup) | off | lookup | draft
  int32_t max_draft = SpeculationParams{}.max_draft;
  std::string draft_model;  // --draft: GGUF of a small model with the same vocabulary

  // Validated (throws std::invalid_argument naming the flag).
  SpeculationParams params() const;
};

// The draft model of --draft, whole, checked against the target's vocabulary (throws
// std::invalid_argument saying what differs); null without --draft or when off.
std::unique_ptr<Model> open_draft_model(const SpeculationFlags& flags, const Model& target);

void add_speculation_flags(CLI::App& cmd, SpeculationFlags& flags);

struct RunOptions {
  std::optional<std::string> model;
  unsigned threads = 0;  // 0: all cores
  int64_t ctx = 0;       // 0: the model's training context, capped at 4096
  std::string kv_dtype = "f16";
  SamplingFlags sampling;
  SpeculationFlags speculation;

  GenerationParams generation() const {
    GenerationParams p = sampling.generation();
    p.speculation = speculation.params();
    return p;
  }
};

void add_run_options(CLI::App& cmd, RunOptions& options);
int64_t effective_context(int64_t requested, const HyperParams& hp);
// Opens the whole model, with a progress bar for large files.
std::unique_ptr<Model> open_model_with_progress(const std::string& path);

}  // namespace baton::cli
