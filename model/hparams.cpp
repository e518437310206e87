#include "model/hparams.h"

#include <fmt/format.h>

#include <cmath>
#include <optional>

#include "model/gguf.h"

namespace baton {

namespace {

Architecture parse_architecture(const std::string& name, const std::string& label) {
  if (name == "llama") return Architecture::Llama;
  if (name == "mistral") return Architecture::Mistral;
  if (name == "qwen2") return Architecture::Qwen2;
  if (name == "gemma2") return Architecture::Gemma2;
  if (name == "gemma3") return Architecture::Gemma3;
  throw GgufError(fmt::format("{}: unsupported architecture '{}' (baton runs llama, mistral, qwen2, gemma2, gemma3)",
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

}  // namespace

std::string architecture_name(Architecture arch) {
  switch (arch) {
    case Architecture::Llama: return "llama";
    case Architecture::Mistral: return "mistral";
    case Architecture::Qwen2: return "qwen2";
    case Architecture::Gemma2: return "gemma2";
    case Architecture::Gemma3: return "gemma3";
  }
  return "unknown";
}

HyperParams read_hparams(const GgufFile& f) {
  HyperParams hp;
  hp.arch_name = f.get_string("general.architecture");
  hp.arch = parse_architecture(hp.arch_name, f.path());
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
  // Linear RoPE scaling (e.g. TinyLlama-style context extension): position *= 1/factor.
  const auto scaling_type = f.opt_string(p + "rope.scaling.type");
  const auto scaling_factor = finite_float(f, p + "rope.scaling.factor");
  if (scaling_type && *scaling_type != "none" && *scaling_type != "linear") {
    throw GgufError(fmt::format("{}: rope.scaling.type '{}' is not supported (none, linear)", f.path(), *scaling_type));
  }
  if (scaling_factor && (!scaling_type || *scaling_type == "linear")) {
    if (!(*scaling_factor >= 1.0)) {
      throw GgufError(fmt::format("{}: rope.scaling.factor must be >= 1, found {}", f.path(), *scaling_factor));
    }
    hp.rope.freq_scale = static_cast<float>(1.0 / *scaling_factor);
  }
  // qwen2 rotates the two halves of each head (GPT-NeoX layout); llama/mistral interleave.
  hp.rope.layout = hp.arch == Architecture::Qwen2 ? RopeLayout::NeoX : RopeLayout::Normal;
  hp.qkv_bias = hp.arch == Architecture::Qwen2;

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
