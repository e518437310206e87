#include "model/hparams.h"

#include <fmt/format.h>

#include <cmath>
#include <optional>

#include "model/gguf.h"

namespace baton {

namespace {

Architecture require_architecture(const std::string& name, const std::string& label) {
  if (const auto arch = parse_architecture(name)) return *arch;
  throw GgufError(fmt::format("{}: unsupported architecture '{}' (baton runs llama, mistral, qwen2, qwen3, phi3, gemma2, gemma3)",
                              label, name));
}

int positive_int(const GgufFile& f, const std::string& key, uint64_t max_value) {
  const uint64_t v = f.get_u64(key);
  if (v == 0 || v > max_value) {
    throw GgufError(fmt::format("{}: '{}' must be in [1, {}], found {}", f.path(), key, max_value, v));
  }
  return static_cast<int>(v);
}

// An optional floating-point key as the float the math uses. NaN and infinities (and
// doubles beyond float's range, which become infinities) are refused naming the key:
// they would pass every "> x" check below and poison every activation.
std::optional<float> finite_float(const GgufFile& f, const std::string& key) {
  const auto v = f.opt_f64(key);
  if (!v) return std::nullopt;
  const float x = static_cast<float>(*v);
  if (!std::isfinite(*v) || !std::isfinite(x)) {
    throw GgufError(fmt::format("{}: '{}' must be a finite number, found {}", f.path(), key, *v));
  }
  return x;
}

// What each architecture changes in the Llama block, and the metadata that must agree with
// it. Llama and Mistral are the plain block with interleaved RoPE (Llama 3's rope_freqs
// tensor, when a file has it, is bound with the weights).

// Qwen2: Q/K/V biases; RoPE rotates the two halves of each head (GPT-NeoX layout).
void apply_qwen2(HyperParams& hp) {
  hp.rope.layout = RopeLayout::NeoX;
  hp.qkv_bias = true;
}

// Qwen3: Qwen2 without the biases, with an RMSNorm over every query and key head before
// RoPE. Its head size comes from attention.key_length and need not be dim / n_heads
// (Qwen3-0.6B: width 1024, 16 heads of 128). The head norm covers the whole head, so RoPE
// must rotate all of it, as llama.cpp requires too.
void apply_qwen3(const GgufFile& f, HyperParams& hp) {
  hp.rope.layout = RopeLayout::NeoX;
  hp.qk_norm = true;
  if (hp.rope.rope_dims != hp.head_dim) {
    throw GgufError(fmt::format("{}: qwen3.rope.dimension_count {} must equal the head size {} (attention.key_length)",
                                f.path(), hp.rope.rope_dims, hp.head_dim));
  }
}

// Phi-3: q, k and v in one matrix, gate and up in one; NeoX RoPE. The query width is the
// model width (llama.cpp reads attn_qkv as [dim, dim + 2 * kv_dim]). The 128k-context
// variants (LongRoPE) carry rope_factors_long/short, which the weights bind, and
// rope.scaling.attn_factor, read with the other scaling keys. phi3.attention.sliding_window
// is ignored, as llama.cpp ignores it (it runs every Phi-3 with full attention).
void apply_phi3(const GgufFile& f, HyperParams& hp) {
  hp.rope.layout = RopeLayout::NeoX;
  hp.fused_qkv = true;
  hp.fused_gate_up = true;
  if (hp.q_dim() != hp.dim) {
    throw GgufError(fmt::format("{}: phi3 needs head_count * head size == embedding_length, found {} * {} != {}",
                                f.path(), hp.n_heads, hp.head_dim, hp.dim));
  }
}

void apply_architecture(const GgufFile& f, HyperParams& hp) {
  switch (hp.arch) {
    case Architecture::Llama:
    case Architecture::Mistral:
    case Architecture::Gemma2:  // read_gemma_hparams, below
    case Architecture::Gemma3: return;
    case Architecture::Qwen2: return apply_qwen2(hp);
    case Architecture::Qwen3: return apply_qwen3(f, hp);
    case Architecture::Phi3: return apply_phi3(f, hp);
  }
}

// A float key that must lie in (low, high] when present.
std::optional<float> float_in(const GgufFile& f, const std::string& key, float low, float high) {
  const auto v = finite_float(f, key);
  if (v && !(*v > low && *v <= high)) {
    throw GgufError(fmt::format("{}: '{}' must be in ({}, {}], found {}", f.path(), key, low, high, *v));
  }
  return v;
}

// RoPE scaling as llama.cpp reads it (llama_model::load_hparams, llama_context's cparams):
//   rope.scaling.type: none, linear (the default), yarn or longrope;
//   rope.scaling.factor: positions * 1 / factor for linear, yarn and longrope (none: ignored);
//   rope.scaling.original_context_length (else context_length): YaRN's correction dims and
//     LongRoPE's choice between rope_factors_long and rope_factors_short;
//   rope.scaling.attn_factor: multiplies cos and sin, whatever the type (LongRoPE files);
//   yarn: extrapolation factor 1, beta_fast 32, beta_slow 1, and cos/sin times
//     1 + 0.1 ln(factor) (ggml's rope_yarn). llama.cpp reads yarn_ext_factor / yarn_beta_fast
//     / yarn_beta_slow only for some architectures; baton reads them whenever a yarn file has
//     them, since they are the model's own values (the converter copies them from its config).
void read_rope_scaling(const GgufFile& f, HyperParams& hp) {
  const std::string p = hp.arch_name + ".";
  const std::string type = f.opt_string(p + "rope.scaling.type").value_or("linear");
  if (type == "none") {
    hp.rope_scaling = RopeScaling::None;
  } else if (type == "linear") {
    hp.rope_scaling = RopeScaling::Linear;
  } else if (type == "yarn") {
    hp.rope_scaling = RopeScaling::Yarn;
  } else if (type == "longrope") {
    hp.rope_scaling = RopeScaling::LongRope;
  } else {
    throw GgufError(fmt::format("{}: {}rope.scaling.type '{}' is not supported (none, linear, yarn, longrope)", f.path(), p,
                                type));
  }
  hp.rope.original_context = f.find(p + "rope.scaling.original_context_length")
                                 ? positive_int(f, p + "rope.scaling.original_context_length", 1 << 24)
                                 : hp.ctx_train;
  hp.rope.attn_factor = float_in(f, p + "rope.scaling.attn_factor", 0.0f, 100.0f).value_or(1.0f);
  const auto factor = finite_float(f, p + "rope.scaling.factor");
  if (factor && hp.rope_scaling != RopeScaling::None) {
    if (!(*factor >= 1.0f) || *factor > 1e6f) {
      throw GgufError(fmt::format("{}: {}rope.scaling.factor must be in [1, 1e6], found {}", f.path(), p, *factor));
    }
    hp.rope.freq_scale = 1.0f / *factor;
  }
  if (hp.rope_scaling != RopeScaling::Yarn) return;
  if (!factor) {
    throw GgufError(fmt::format("{}: {}rope.scaling.type is yarn but {}rope.scaling.factor is missing", f.path(), p, p));
  }
  for (const char* unsupported : {"rope.scaling.yarn_attn_factor", "rope.scaling.yarn_log_multiplier"}) {
    if (f.find(p + unsupported)) {
      throw GgufError(fmt::format("{}: {}{} is set; baton computes YaRN's attention factor as 1 + 0.1 ln(factor), as "
                                  "llama.cpp does for this architecture, and does not apply another one",
                                  f.path(), p, unsupported));
    }
  }
  hp.rope.ext_factor = finite_float(f, p + "rope.scaling.yarn_ext_factor").value_or(1.0f);
  if (!(hp.rope.ext_factor >= 0.0f && hp.rope.ext_factor <= 1.0f)) {
    throw GgufError(fmt::format("{}: '{}rope.scaling.yarn_ext_factor' must be in [0, 1], found {}", f.path(), p,
                                hp.rope.ext_factor));
  }
  hp.rope.beta_fast = float_in(f, p + "rope.scaling.yarn_beta_fast", 0.0f, 1e4f).value_or(32.0f);
  hp.rope.beta_slow = float_in(f, p + "rope.scaling.yarn_beta_slow", 0.0f, 1e4f).value_or(1.0f);
}

}  // namespace

std::string architecture_name(Architecture arch) {
  switch (arch) {
    case Architecture::Llama: return "llama";
    case Architecture::Mistral: return "mistral";
    case Architecture::Qwen2: return "qwen2";
    case Architecture::Gemma2: return "gemma2";
    case Architecture::Gemma3: return "gemma3";
    case Architecture::Qwen3: return "qwen3";
    case Architecture::Phi3: return "phi3";
  }
  return "unknown";
}

std::optional<Architecture> parse_architecture(std::string_view name) {
  for (Architecture a : {Architecture::Llama, Architecture::Mistral, Architecture::Qwen2, Architecture::Qwen3,
                         Architecture::Phi3, Architecture::Gemma2, Architecture::Gemma3}) {
    if (name == architecture_name(a)) return a;
  }
  return std::nullopt;
}

HyperParams read_hparams(const GgufFile& f) {
  HyperParams hp;
  hp.arch_name = f.get_string("general.architecture");
  hp.arch = require_architecture(hp.arch_name, f.path());
  const std::string p = hp.arch_name + ".";
  // Bounds are generous (largest open models are well inside) but stop absurd values
  // before they turn into allocations.
  hp.n_layers = positive_int(f, p + "block_count", 1024);
  hp.dim = positive_int(f, p + "embedding_length", 1 << 16);
  hp.ffn_dim = positive_int(f, p + "feed_forward_length", 1 << 18);
  hp.n_heads = positive_int(f, p + "attention.head_count", 1024);
  hp.n_kv_heads = f.find(p + "attention.head_count_kv")
                      ? positive_int(f, p + "attention.head_count_kv", 1024)
                      : hp.n_heads;
  hp.ctx_train = f.find(p + "context_length") ? positive_int(f, p + "context_length", 1 << 24) : 2048;
  if (hp.n_heads % hp.n_kv_heads != 0) {
    throw GgufError(fmt::format("{}: attention.head_count {} is not a multiple of head_count_kv {}",
                                f.path(), hp.n_heads, hp.n_kv_heads));
  }
  if (f.find(p + "attention.key_length")) {
    hp.head_dim = positive_int(f, p + "attention.key_length", 1024);
  } else {
    if (hp.dim % hp.n_heads != 0) {
      throw GgufError(fmt::format("{}: embedding_length {} is not divisible by head_count {}",
                                  f.path(), hp.dim, hp.n_heads));
    }
    hp.head_dim = hp.dim / hp.n_heads;
  }
  // Baton's attention and KV cache use one head size for keys and values.
  if (const auto v = f.opt_u64(p + "attention.value_length"); v && *v != static_cast<uint64_t>(hp.head_dim)) {
    throw GgufError(fmt::format("{}: {}attention.value_length {} differs from the key head size {}; baton needs them equal",
                                f.path(), p, *v, hp.head_dim));
  }
  if (hp.head_dim % 2 != 0) {
    throw GgufError(fmt::format("{}: head dimension {} must be even for RoPE", f.path(), hp.head_dim));
  }
  hp.rms_eps = finite_float(f, p + "attention.layer_norm_rms_epsilon").value_or(1e-5f);
  if (!(hp.rms_eps > 0.0f) || hp.rms_eps > 1.0f) {
    throw GgufError(fmt::format("{}: layer_norm_rms_epsilon must be in (0, 1], found {}", f.path(), hp.rms_eps));
  }

  hp.rope.head_dim = hp.head_dim;
  hp.rope.rope_dims = f.find(p + "rope.dimension_count")
                          ? positive_int(f, p + "rope.dimension_count", hp.head_dim)
                          : hp.head_dim;
  if (hp.rope.rope_dims % 2 != 0) {
    throw GgufError(fmt::format("{}: rope.dimension_count {} must be even", f.path(), hp.rope.rope_dims));
  }
  hp.rope.theta = finite_float(f, p + "rope.freq_base").value_or(10000.0f);
  if (!(hp.rope.theta > 1.0f)) {
    throw GgufError(fmt::format("{}: rope.freq_base must be > 1, found {}", f.path(), hp.rope.theta));
  }
  apply_architecture(f, hp);
  read_rope_scaling(f, hp);

  // The vocabulary size comes from the embedding when the file has it; a shard fetched by
  // a middle stage has no embedding and relies on <arch>.vocab_size (which the
  // coordinator always writes into shard metadata).
  const auto* embd = f.find_tensor("token_embd.weight");
  const auto declared_vocab = f.opt_u64(p + "vocab_size");
  if (embd) {
    if (embd->dims.size() != 2) {
      throw GgufError(fmt::format("{}: tensor 'token_embd.weight' must be 2-D, found {} dims", f.path(), embd->dims.size()));
    }
    if (declared_vocab && *declared_vocab != embd->dims[1]) {
      throw GgufError(fmt::format("{}: {}vocab_size {} does not match token_embd.weight rows {}",
                                  f.path(), p, *declared_vocab, embd->dims[1]));
    }
    if (embd->dims[1] == 0 || embd->dims[1] > (1u << 24)) {
      throw GgufError(fmt::format("{}: token_embd.weight has {} rows, expected 1..{}", f.path(), embd->dims[1], 1u << 24));
    }
    hp.vocab_size = static_cast<int>(embd->dims[1]);
  } else if (declared_vocab) {
    hp.vocab_size = positive_int(f, p + "vocab_size", 1u << 24);
  } else {
    throw GgufError(fmt::format("{}: tensor 'token_embd.weight' is missing (and no {}vocab_size is given)", f.path(), p));
  }
  // Shards say explicitly whether the head is tied, since they may lack both tensors.
  hp.tied_output = f.opt_bool("baton.shard.tied_output").value_or(f.find_tensor("output.weight") == nullptr);
  if (hp.arch == Architecture::Gemma2 || hp.arch == Architecture::Gemma3) read_gemma_hparams(f, hp);
  return hp;
}

}  // namespace baton
