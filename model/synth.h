// Deterministic synthetic models: real GGUF files with valid metadata, a real tokenizer
// table and random (seeded, portable) weights, for shape/dtype tests and benchmarks.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf.h"
#include "model/hparams.h"
#include "model/tokenizer.h"

namespace baton {

struct SynthShape {
  int n_layers, dim, ffn_dim, n_heads, n_kv_heads, vocab, ctx;
};

// Files mixing weight types the way llama.cpp's Q4_K_M and Q5_K_M presets do (synth.cpp
// says how), the commonest downloads.
enum class SynthMix { None, Q4_K_M, Q5_K_M };
// "q4_K_M" / "q5_K_M" (case-insensitive); nullopt otherwise.
std::optional<SynthMix> parse_synth_mix(std::string_view name);
std::string_view synth_mix_name(SynthMix mix);

// Llama 3.1/3.2's RoPE scaling as the GGUF converter stores it: a rope_freqs tensor of
// per-frequency divisors computed from these (Llama 3.2: factor 32; 3.1: factor 8).
struct Llama3RopeScaling {
  float factor = 32.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_context = 8192;
};

// The rope_freqs values for rope_dims rotated dims at base `theta`, computed as llama.cpp's
// convert_hf_to_gguf.py does: 1 for wavelengths below original_context / high_freq_factor,
// `factor` above original_context / low_freq_factor, a smooth blend in between. Throws
// std::invalid_argument unless factor >= 1, 0 < low < high and original_context > 0.
std::vector<float> llama3_rope_factors(const Llama3RopeScaling& s, float theta, int rope_dims);

// Phi-3's LongRoPE (128k-context Phi-3, Phi-3.5) as its GGUF converter writes it:
// rope.scaling.original_context_length, rope.scaling.attn_factor
// sqrt(1 + ln(context / original) / ln(original)) (1 when the context is not longer), and
// the rope_factors_long / rope_factors_short tensors (longrope_factors).
struct LongRopeScaling {
  int original_context = 4096;
};

// Synthetic LongRoPE factors for rope_dims rotated dims. With t = i / (pairs - 1): short
// 1 + t, long 1 + 31 t^2. Like the real ones, they leave the fastest pairs near 1 and slow
// the others, the long ones far more, so that a few dozen positions already tell the two
// sets (and no factors) apart. Throws std::invalid_argument unless rope_dims is even and >= 4.
std::vector<float> longrope_factors(bool long_factors, int rope_dims);

// YaRN as the GGUF converter writes it: rope.scaling.type yarn, rope.scaling.factor and
// rope.scaling.original_context_length (Qwen2.5 / Qwen3 files converted with rope scaling).
struct YarnRopeScaling {
  float factor = 4.0f;
  int original_context = 4096;
};

struct SynthOptions {
  std::string size = "tiny";             // tiny | tiny-odd | small | 110m | 7b
  std::optional<SynthShape> shape;       // any other shape (then `size` only names it)
  DType dtype = DType::F32;              // matrices; norms stay f32
  Architecture arch = Architecture::Llama;
  TokenizerKind tokenizer = TokenizerKind::Llama;
  uint64_t seed = 1;
  // Called with (tensors done, tensors total) while building.
  std::function<void(int, int)> progress;
  SynthMix mix = SynthMix::None;         // when set, it decides each matrix's type instead of dtype
  std::optional<Llama3RopeScaling> llama3_rope;  // llama only: write rope_freqs (and theta 500000)
  std::optional<LongRopeScaling> long_rope;      // phi3 only: LongRoPE factors and keys
  std::optional<YarnRopeScaling> yarn_rope;      // not gemma: YaRN keys
  bool tied_output = false;              // no output.weight: the head reuses token_embd (Llama 3.2 1B/3B)
};

// A short tag for the options beyond size, type, architecture, tokenizer and seed ("" when
// none), e.g. "llama3rope32-64-tied", "longrope256", "yarn4-64", so files written with
// different options get different names.
std::string synth_variant_name(const SynthOptions& options);

// Throws std::invalid_argument for an unknown size name.
SynthShape synth_shape(const std::string& size);

GgufWriter synth_model(const SynthOptions& options);

// Writes the tokenizer.ggml.* keys (and a chatml chat template) for a vocabulary.
void write_tokenizer_metadata(GgufWriter& writer, const Vocabulary& vocab);

// Quantises a row-major f32 matrix (rows x cols) into `dtype`'s block layout.
std::vector<uint8_t> quantize_matrix(DType dtype, const std::vector<float>& values, int64_t rows, int64_t cols);

}  // namespace baton
