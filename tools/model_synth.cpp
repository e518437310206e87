// `baton model synth`: write a deterministic synthetic Llama-family GGUF.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <optional>

#include "model/synth.h"
#include "tools/model_commands.h"

namespace baton::cli {

namespace {

struct SynthArgs {
  std::string out;
  std::string size = "small";
  std::string dtype = "q8_0";
  std::string arch = "llama";
  std::string tokenizer = "llama";
  uint64_t seed = 1;
  std::string rope_scaling = "none";
  Llama3RopeScaling llama3;
  std::optional<float> rope_factor;         // llama3 and yarn; each has its own default
  std::optional<int> rope_original_context;  // llama3, longrope and yarn; likewise
  bool tied_output = false;
};

int synth(const SynthArgs& a) {
  SynthOptions o;
  o.size = a.size;
  if (const auto mix = parse_synth_mix(a.dtype)) {
    o.mix = *mix;
  } else {
    const auto dt = parse_dtype(a.dtype);
    if (!dt || *dt == DType::Q8_K) throw std::invalid_argument(fmt::format("--dtype '{}' is not a weight type baton writes", a.dtype));
    o.dtype = *dt;
  }
  o.arch = *parse_architecture(a.arch);  // --arch is checked against the list
  if (a.rope_scaling == "llama3") {
    if (o.arch != Architecture::Llama) throw std::invalid_argument("--rope-scaling llama3 needs --arch llama");
    o.llama3_rope = a.llama3;
    o.llama3_rope->factor = a.rope_factor.value_or(o.llama3_rope->factor);
    o.llama3_rope->original_context = a.rope_original_context.value_or(o.llama3_rope->original_context);
  } else if (a.rope_scaling == "longrope") {
    if (o.arch != Architecture::Phi3) throw std::invalid_argument("--rope-scaling longrope needs --arch phi3");
    if (a.rope_factor) throw std::invalid_argument("--rope-factor does not apply to longrope (its factors are tensors)");
    o.long_rope = LongRopeScaling{};
    o.long_rope->original_context = a.rope_original_context.value_or(o.long_rope->original_context);
  } else if (a.rope_scaling == "yarn") {
    if (o.arch == Architecture::Gemma2 || o.arch == Architecture::Gemma3) {
      throw std::invalid_argument("--rope-scaling yarn is not synthesised for gemma");
    }
    o.yarn_rope = YarnRopeScaling{};
    o.yarn_rope->factor = a.rope_factor.value_or(o.yarn_rope->factor);
    o.yarn_rope->original_context = a.rope_original_context.value_or(o.yarn_rope->original_context);
  }
  o.tied_output = a.tied_output;
  o.tokenizer = a.tokenizer == "gpt2" ? TokenizerKind::Gpt2 : TokenizerKind::Llama;
  o.seed = a.seed;
  int last = -1;
  o.progress = [&](int done, int total) {
    const int pct = done * 100 / total;
    if (pct / 10 != last / 10) fmt::print(stderr, "\rsynthesising: {:3d}%", pct);
    last = pct;
  };
  GgufWriter w = synth_model(o);
  fmt::print(stderr, "\n");
  w.write(a.out);
  fmt::print("wrote {} ({:.1f} MB): {} {} {}, tokenizer {}, seed {}\n", a.out,
             static_cast<double>(std::filesystem::file_size(a.out)) / 1e6, a.arch, a.size, a.dtype, a.tokenizer, a.seed);
  return 0;
}

}  // namespace

void register_model_synth(CLI::App& group, CommandRunner& runner) {
  auto a = std::make_shared<SynthArgs>();
  CLI::App* cmd = group.add_subcommand("synth", "Write a deterministic synthetic model (random weights, real tokenizer)");
  cmd->add_option("-o,--out", a->out, "Output GGUF file")->required();
  cmd->add_option("--size", a->size,
                  "tiny (~1M params), tiny-odd (tiny with a feed-forward width of 544, not a multiple of 256), "
                  "tiny6 (tiny with 6 layers), small (~25M), 110m (~125M), 7b (Llama-2-7B's shapes, 6.7B)")
      ->check(CLI::IsMember({"tiny", "tiny-odd", "tiny6", "small", "110m", "7b"}))->capture_default_str();
  cmd->add_option("--dtype", a->dtype,
                  "Weight type: f32, f16, bf16, q8_0, q4_0, q5_0, q5_1, iq4_nl, q4_K, q5_K, q6_K; or a mix as "
                  "llama.cpp's presets make them: q4_K_M, q5_K_M (Q6_K head, or tied embedding, and some "
                  "attn_v/ffn_down; Q5_0/Q5_1 and Q8_0 where rows are not whole 256-blocks)")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0", "q5_0", "q5_1", "iq4_nl", "q4_K", "q5_K", "q6_K",
                             "q4_K_M", "q5_K_M"}))
      ->capture_default_str();
  cmd->add_option("--arch", a->arch,
                  "Architecture: llama, mistral, qwen2 (Q/K/V biases), qwen3 (query/key head norms, head size 2 * "
                  "width / heads), phi3 (fused attn_qkv and gate/up), gemma2/gemma3 (sliding window of 6 positions, "
                  "so short prompts reach past it; gemma3 needs --size tiny6 or larger to have a global layer)")
      ->check(CLI::IsMember({"llama", "mistral", "qwen2", "qwen3", "phi3", "gemma2", "gemma3"}))
      ->capture_default_str();
  CLI::Option* scaling = cmd->add_option("--rope-scaling", a->rope_scaling,
                  "llama3: write Llama 3.1/3.2's rope_freqs tensor as llama.cpp's converter computes it from the "
                  "--rope-* values below (and RoPE base 500000); longrope (phi3): Phi-3 128k's LongRoPE, i.e. "
                  "rope_factors_long/short tensors, the original context and the attention factor the converter "
                  "derives from it; yarn: rope.scaling.type yarn with --rope-factor and --rope-original-context")
      ->check(CLI::IsMember({"none", "llama3", "longrope", "yarn"}))
      ->capture_default_str();
  cmd->add_option("--rope-factor", a->rope_factor, "llama3 or yarn scaling factor (llama3 default 32, as Llama 3.2; "
                  "3.1: 8; yarn default 4)")
      ->check(CLI::Range(1.0f, 1e6f))
      ->needs(scaling);
  cmd->add_option("--rope-low-freq-factor", a->llama3.low_freq_factor, "llama3 low_freq_factor")
      ->needs(scaling)
      ->capture_default_str();
  cmd->add_option("--rope-high-freq-factor", a->llama3.high_freq_factor, "llama3 high_freq_factor")
      ->needs(scaling)
      ->capture_default_str();
  cmd->add_option("--rope-original-context", a->rope_original_context,
                  "original context length (default 8192 for llama3, as Llama 3; 4096 for longrope and yarn). "
                  "Smaller makes short prompts reach the scaled frequencies; for longrope, contexts above it use "
                  "the long factors")
      ->check(CLI::PositiveNumber)
      ->needs(scaling);
  cmd->add_flag("--tied-output", a->tied_output, "No output.weight: the head reuses token_embd (as Llama 3.2 1B/3B)");
  cmd->add_option("--tokenizer", a->tokenizer, "Tokenizer kind")->check(CLI::IsMember({"llama", "gpt2"}))->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed for the weights")->capture_default_str();
  cmd->callback([a, &runner] { runner = [a] { return synth(*a); }; });
}

}  // namespace baton::cli
