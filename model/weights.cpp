#include "model/weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "model/gguf.h"
#include "tensor/kernels.h"

namespace baton {

bool is_supported_weight_dtype(DType t) {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16:
    case DType::Q8_0: case DType::Q4_0: case DType::Q4_K: case DType::Q6_K:
    case DType::Q5_0: case DType::Q5_1: case DType::IQ4_NL: case DType::Q5_K:
      return true;
    default:
      return false;
  }
}

namespace {

class Binder {
 public:
  Binder(const GgufFile& f, std::vector<std::vector<float>>& owned) : f_(f), owned_(owned) {}

  const GgufTensor& expect(const std::string& name, std::vector<uint64_t> dims) {
    const GgufTensor& t = f_.require_tensor(name, dims);  // names tensor, expected vs found
    bytes += t.nbytes;
    return t;
  }

  WeightView matrix(const std::string& name, uint64_t cols, uint64_t rows) {
    const GgufTensor& t = expect(name, {cols, rows});
    if (!is_supported_weight_dtype(t.dtype)) {
      throw GgufError(fmt::format("{}: tensor '{}' has dtype {}, which matvec does not support",
                                  f_.path(), name, dtype_name(t.dtype)));
    }
    return WeightView{t.dtype, t.data, static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
  }

  const float* vector(const std::string& name, uint64_t n) {
    const GgufTensor& t = expect(name, {n});
    if (t.dtype == DType::F32) return reinterpret_cast<const float*>(t.data);
    if (t.dtype != DType::F16 && t.dtype != DType::BF16) {
      throw GgufError(fmt::format("{}: tensor '{}' has dtype {}; 1-D tensors must be f32, f16 or bf16",
                                  f_.path(), name, dtype_name(t.dtype)));
    }
    auto& out = owned_.emplace_back(n);
    dequantize_row(t.dtype, t.data, out.data(), static_cast<int64_t>(n));
    return out.data();
  }

  uint64_t bytes = 0;

 private:
  const GgufFile& f_;
  std::vector<std::vector<float>>& owned_;
};

// Rows [first, first + count) of a matrix, pointing into the same bytes.
WeightView row_range(const WeightView& whole, int64_t first, int64_t count) {
  const uint64_t stride = row_bytes(whole.dtype, static_cast<uint64_t>(whole.cols));
  return WeightView{whole.dtype, static_cast<const uint8_t*>(whole.data) + stride * static_cast<uint64_t>(first), count,
                    whole.cols};
}

// q, k and v: three tensors, or row ranges of Phi-3's attn_qkv (q rows, then k, then v);
// then the output projection, and the biases (Qwen2) or head norms (Qwen3).
void bind_attention(Binder& b, const HyperParams& hp, const std::string& p, LayerWeights& L) {
  const auto dim = static_cast<uint64_t>(hp.dim);
  const auto q_dim = static_cast<uint64_t>(hp.q_dim());
  const auto kv_dim = static_cast<uint64_t>(hp.kv_dim());
  if (hp.fused_qkv) {
    const WeightView qkv = b.matrix(p + "attn_qkv.weight", dim, q_dim + 2 * kv_dim);
    L.attn_q = row_range(qkv, 0, hp.q_dim());
    L.attn_k = row_range(qkv, hp.q_dim(), hp.kv_dim());
    L.attn_v = row_range(qkv, hp.q_dim() + hp.kv_dim(), hp.kv_dim());
  } else {
    L.attn_q = b.matrix(p + "attn_q.weight", dim, q_dim);
    L.attn_k = b.matrix(p + "attn_k.weight", dim, kv_dim);
    L.attn_v = b.matrix(p + "attn_v.weight", dim, kv_dim);
  }
  L.attn_output = b.matrix(p + "attn_output.weight", q_dim, dim);
  if (hp.qkv_bias) {
    L.bias_q = b.vector(p + "attn_q.bias", q_dim);
    L.bias_k = b.vector(p + "attn_k.bias", kv_dim);
    L.bias_v = b.vector(p + "attn_v.bias", kv_dim);
  }
  if (hp.qk_norm) {
    L.attn_q_norm = b.vector(p + "attn_q_norm.weight", static_cast<uint64_t>(hp.head_dim));
    L.attn_k_norm = b.vector(p + "attn_k_norm.weight", static_cast<uint64_t>(hp.head_dim));
  }
}

// gate, up and down: three tensors, or gate and up as the two halves of Phi-3's ffn_up.
void bind_ffn(Binder& b, const HyperParams& hp, const std::string& p, LayerWeights& L) {
  const auto dim = static_cast<uint64_t>(hp.dim);
  const auto ffn = static_cast<uint64_t>(hp.ffn_dim);
  if (hp.fused_gate_up) {
    const WeightView gate_up = b.matrix(p + "ffn_up.weight", dim, 2 * ffn);
    L.ffn_gate = row_range(gate_up, 0, hp.ffn_dim);
    L.ffn_up = row_range(gate_up, hp.ffn_dim, hp.ffn_dim);
  } else {
    L.ffn_gate = b.matrix(p + "ffn_gate.weight", dim, ffn);
    L.ffn_up = b.matrix(p + "ffn_up.weight", dim, ffn);
  }
  L.ffn_down = b.matrix(p + "ffn_down.weight", ffn, dim);
}

// One tensor of rope_dims/2 per-pair RoPE frequency divisors, each finite and positive.
const float* rope_factor_vector(Binder& b, const GgufFile& f, const HyperParams& hp, const char* name) {
  const int n = hp.rope.rope_dims / 2;
  const float* factors = b.vector(name, static_cast<uint64_t>(n));
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(factors[i]) || !(factors[i] > 0.0f)) {
      throw GgufError(fmt::format("{}: tensor '{}' value {} is {}; RoPE frequency factors must be finite and positive",
                                  f.path(), name, i, factors[i]));
    }
  }
  return factors;
}

// The per-pair RoPE frequency divisors, one tensor shared by every layer: Llama 3's
// rope_freqs.weight (llama files; Mistral files are llama files by another name), or
// LongRoPE's rope_factors_long.weight and rope_factors_short.weight (phi3 files, and llama
// files whose rope.scaling.type is longrope, as llama.cpp reads them). Anywhere else they
// are refused rather than silently ignored.
void bind_rope_factors(Binder& b, const GgufFile& f, const HyperParams& hp, StageWeights& w) {
  constexpr const char* kFreqs = "rope_freqs.weight";
  constexpr const char* kLong = "rope_factors_long.weight";
  constexpr const char* kShort = "rope_factors_short.weight";
  const bool llama = hp.arch == Architecture::Llama || hp.arch == Architecture::Mistral;
  const bool has_freqs = f.find_tensor(kFreqs) != nullptr;
  const bool has_long = f.find_tensor(kLong) != nullptr;
  const bool has_short = f.find_tensor(kShort) != nullptr;
  if (has_freqs && !llama) {
    throw GgufError(fmt::format("{}: tensor '{}' is only defined for llama models, not {}", f.path(), kFreqs, hp.arch_name));
  }
  const bool long_rope = hp.arch == Architecture::Phi3 || (llama && hp.rope_scaling == RopeScaling::LongRope);
  if ((has_long || has_short) && !long_rope) {
    throw GgufError(fmt::format("{}: tensor '{}' (LongRoPE) is only read for phi3 files and llama files whose "
                                "rope.scaling.type is longrope, not this {} file",
                                f.path(), has_long ? kLong : kShort, hp.arch_name));
  }
  if (has_long != has_short) {
    throw GgufError(fmt::format("{}: the file has '{}' but not '{}'; LongRoPE needs both (the context decides which applies)",
                                f.path(), has_long ? kLong : kShort, has_long ? kShort : kLong));
  }
  if (has_long && has_freqs) {
    throw GgufError(fmt::format("{}: the file has both '{}' and LongRoPE's '{}'; only one set of RoPE factors can apply",
                                f.path(), kFreqs, kLong));
  }
  if (hp.rope_scaling == RopeScaling::LongRope && !has_long) {
    throw GgufError(fmt::format("{}: {}.rope.scaling.type is longrope but the file has no '{}' and '{}'", f.path(),
                                hp.arch_name, kLong, kShort));
  }
  if (has_freqs) w.rope_freqs = rope_factor_vector(b, f, hp, kFreqs);
  if (has_long) {
    w.rope_factors_long = rope_factor_vector(b, f, hp, kLong);
    w.rope_factors_short = rope_factor_vector(b, f, hp, kShort);
  }
}

}  // namespace

StageWeights bind_stage_weights(const GgufFile& f, const HyperParams& hp, LayerRange range,
                                bool with_embedding, bool with_head,
                                std::vector<std::vector<float>>& owned_f32) {
  if (range.first < 0 || range.last > hp.n_layers || range.first > range.last) {
    throw std::invalid_argument(fmt::format("layer range [{}, {}) is outside the model's {} layers",
                                            range.first, range.last, hp.n_layers));
  }
  Binder b(f, owned_f32);
  StageWeights w;
  w.range = range;
  const auto dim = static_cast<uint64_t>(hp.dim);
  const auto vocab = static_cast<uint64_t>(hp.vocab_size);
  if (with_embedding) {
    w.has_embedding = true;
    w.token_embedding = b.matrix("token_embd.weight", dim, vocab);
  }
  if (with_head) {
    w.has_head = true;
    w.output_norm = b.vector("output_norm.weight", dim);
    if (hp.tied_output) {
      // Counted once even when this stage also embeds: same bytes in the mapping.
      w.output = with_embedding ? w.token_embedding : b.matrix("token_embd.weight", dim, vocab);
    } else {
      w.output = b.matrix("output.weight", dim, vocab);
    }
  }
  if (range.size() > 0) bind_rope_factors(b, f, hp, w);
  for (int il = range.first; il < range.last; ++il) {
    const std::string p = fmt::format("blk.{}.", il);
    LayerWeights L;
    L.attn_norm = b.vector(p + "attn_norm.weight", dim);
    bind_attention(b, hp, p, L);
    L.ffn_norm = b.vector(p + "ffn_norm.weight", dim);
    bind_ffn(b, hp, p, L);
    if (hp.gemma.enabled) {
      L.post_attn_norm = b.vector(p + "post_attention_norm.weight", dim);
      L.post_ffn_norm = b.vector(p + "post_ffw_norm.weight", dim);
    }
    if (hp.gemma.qk_norm) {
      L.attn_q_norm = b.vector(p + "attn_q_norm.weight", static_cast<uint64_t>(hp.head_dim));
      L.attn_k_norm = b.vector(p + "attn_k_norm.weight", static_cast<uint64_t>(hp.head_dim));
    }
    w.layers.push_back(L);
  }
  w.bytes = b.bytes;
  return w;
}

namespace {
template <typename Measure>
uint64_t sum_decode_matrices(const StageWeights& w, Measure measure) {
  uint64_t total = w.has_head ? measure(w.output) : 0;
  for (const auto& L : w.layers) {
    for (const WeightView* m : {&L.attn_q, &L.attn_k, &L.attn_v, &L.attn_output, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) {
      total += measure(*m);
    }
  }
  return total;
}
}  // namespace

uint64_t decode_weight_bytes(const StageWeights& w) {
  return sum_decode_matrices(w, [](const WeightView& v) {
    return row_bytes(v.dtype, static_cast<uint64_t>(v.cols)) * static_cast<uint64_t>(v.rows);
  });
}

uint64_t decode_weight_elements(const StageWeights& w) {
  return sum_decode_matrices(w, [](const WeightView& v) { return static_cast<uint64_t>(v.rows) * static_cast<uint64_t>(v.cols); });
}

}  // namespace baton
