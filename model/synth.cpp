#include "model/synth.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <numbers>
#include <stdexcept>

#include "model/synth_gemma.h"
#include "tensor/kernels.h"

namespace baton {

namespace {

// splitmix64: tiny, portable and identical on every platform, unlike <random>'s
// distributions, so a synthesised model is the same file everywhere.
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float uniform() { return static_cast<float>(static_cast<double>(next() >> 11) * 0x1.0p-53 * 2.0 - 1.0); }

 private:
  uint64_t state_;
};

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

const char* kChatmlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// Which matrix of the model a type is chosen for.
enum class Role { Embedding, Head, AttnV, FfnDown, Other };

// llama.cpp's use_more_bits: the first and last eighth of the layers and every third in between.
bool more_bits(int layer, int n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

// The type llama.cpp's quantiser picks for a K-quant whose rows are not whole 256-blocks.
DType k_fallback(DType t) {
  switch (t) {
    case DType::Q4_K: return DType::Q5_0;
    case DType::Q5_K: return DType::Q5_1;
    case DType::Q6_K: return DType::Q8_0;
    default: return t;
  }
}

// A mix follows llama.cpp's llama_tensor_get_type for its *_K_M presets: the output head in
// Q6_K (a tied embedding counts as the head); attn_v and ffn_down in Q6_K on the layers where more_bits holds, the base K-quant
// elsewhere and everywhere else; then llama.cpp's fallback for rows that are not whole
// 256-blocks (so a feed-forward width like 544 gives Q5_0 / Q8_0 tensors, as in real files).
DType mix_type(SynthMix mix, Role role, int layer, int n_layers, int64_t cols) {
  const DType base = mix == SynthMix::Q5_K_M ? DType::Q5_K : DType::Q4_K;
  DType t = base;
  if (role == Role::Head) t = DType::Q6_K;
  if ((role == Role::AttnV || role == Role::FfnDown) && more_bits(layer, n_layers)) t = DType::Q6_K;
  if (!row_fits_blocks(t, static_cast<uint64_t>(cols))) t = k_fallback(t);
  return t;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

std::optional<SynthMix> parse_synth_mix(std::string_view name) {
  if (iequals(name, "q4_K_M")) return SynthMix::Q4_K_M;
  if (iequals(name, "q5_K_M")) return SynthMix::Q5_K_M;
  return std::nullopt;
}

std::string_view synth_mix_name(SynthMix mix) {
  switch (mix) {
    case SynthMix::Q4_K_M: return "q4_K_M";
    case SynthMix::Q5_K_M: return "q5_K_M";
    case SynthMix::None: break;
  }
  return "";
}

SynthShape synth_shape(const std::string& size) {
  // head_dim stays a multiple of 32 so the int8 KV cache applies; ffn a multiple of 256
  // so K-quants apply to every matrix.
  if (size == "tiny") return {2, 256, 512, 8, 4, 1024, 512};
  // tiny with a feed-forward width that is not a multiple of 256, as some real models have:
  // K-quant files then carry other types for ffn_down (see mix_type).
  if (size == "tiny-odd") return {2, 256, 544, 8, 4, 1024, 512};
  // tiny with six layers: the first Gemma 3 pattern (five sliding-window layers, one global).
  if (size == "tiny6") return {6, 256, 512, 8, 4, 1024, 512};
  if (size == "small") return {6, 512, 1536, 8, 4, 4096, 1024};
  if (size == "110m") return {12, 768, 2048, 12, 4, 32000, 2048};
  // Llama-2-7B's shapes (6.7B parameters; about 3.8 GB in q4_0): what a phone cannot hold.
  if (size == "7b") return {32, 4096, 11008, 32, 32, 32000, 4096};
  throw std::invalid_argument(fmt::format("unknown synthetic model size '{}' (tiny, tiny-odd, tiny6, small, 110m, 7b)", size));
}

std::vector<uint8_t> quantize_matrix(DType dtype, const std::vector<float>& values, int64_t rows, int64_t cols) {
  const uint64_t rb = row_bytes(dtype, static_cast<uint64_t>(cols));
  std::vector<uint8_t> out(rb * static_cast<uint64_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    quantize_row(dtype, values.data() + r * cols, out.data() + rb * static_cast<uint64_t>(r), cols);
  }
  return out;
}

void write_tokenizer_metadata(GgufWriter& w, const Vocabulary& vocab) {
  const bool llama = vocab.kind == TokenizerKind::Llama;
  w.set_string("tokenizer.ggml.model", llama ? "llama" : "gpt2");
  if (!llama) w.set_string("tokenizer.ggml.pre", vocab.pre);
  w.set_string_array("tokenizer.ggml.tokens", vocab.tokens);
  if (!vocab.scores.empty()) w.set_f32_array("tokenizer.ggml.scores", vocab.scores);
  std::vector<int32_t> types;
  types.reserve(vocab.types.size());
  for (TokenType t : vocab.types) types.push_back(static_cast<int32_t>(t));
  w.set_i32_array("tokenizer.ggml.token_type", types);
  if (!vocab.merges.empty()) w.set_string_array("tokenizer.ggml.merges", vocab.merges);
  auto set_id = [&](const char* key, int32_t id) {
    if (id >= 0) w.set_u32(key, static_cast<uint32_t>(id));
  };
  set_id("tokenizer.ggml.bos_token_id", vocab.bos);
  set_id("tokenizer.ggml.eos_token_id", vocab.eos);
  set_id("tokenizer.ggml.eot_token_id", vocab.eot);
  set_id("tokenizer.ggml.unknown_token_id", vocab.unk);
  set_id("tokenizer.ggml.padding_token_id", vocab.pad);
  w.set_bool("tokenizer.ggml.add_bos_token", vocab.add_bos);
  w.set_bool("tokenizer.ggml.add_space_prefix", vocab.add_space_prefix);
  w.set_string("tokenizer.chat_template", kChatmlTemplate);
}

std::vector<float> llama3_rope_factors(const Llama3RopeScaling& s, float theta, int rope_dims) {
  if (!(s.factor >= 1.0f) || !(s.low_freq_factor > 0.0f) || !(s.high_freq_factor > s.low_freq_factor) ||
      s.original_context <= 0 || rope_dims <= 0 || rope_dims % 2 != 0 || !(theta > 1.0f)) {
    throw std::invalid_argument(fmt::format(
        "llama3 rope scaling needs factor >= 1, 0 < low_freq_factor < high_freq_factor and an original context > 0 "
        "(found factor {}, low {}, high {}, original context {})",
        s.factor, s.low_freq_factor, s.high_freq_factor, s.original_context));
  }
  const double context = s.original_context;
  const double low_freq_wavelen = context / s.low_freq_factor;
  const double high_freq_wavelen = context / s.high_freq_factor;
  std::vector<float> factors;
  for (int i = 0; i < rope_dims; i += 2) {
    // The converter computes the base frequencies in float32.
    const float freq = 1.0f / std::pow(theta, static_cast<float>(i) / static_cast<float>(rope_dims));
    const double wavelen = 2.0 * std::numbers::pi / static_cast<double>(freq);
    if (wavelen < high_freq_wavelen) {
      factors.push_back(1.0f);
    } else if (wavelen > low_freq_wavelen) {
      factors.push_back(s.factor);
    } else {
      const double smooth = (context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      factors.push_back(static_cast<float>(1.0 / ((1.0 - smooth) / s.factor + smooth)));
    }
  }
  return factors;
}

std::vector<float> longrope_factors(bool long_factors, int rope_dims) {
  if (rope_dims < 4 || rope_dims % 2 != 0) {
    throw std::invalid_argument(fmt::format("LongRoPE factors need an even rope dimension count >= 4, found {}", rope_dims));
  }
  const int pairs = rope_dims / 2;
  std::vector<float> factors;
  for (int i = 0; i < pairs; ++i) {
    const double t = static_cast<double>(i) / (pairs - 1);
    factors.push_back(static_cast<float>(long_factors ? 1.0 + 31.0 * t * t : 1.0 + t));
  }
  return factors;
}

std::string synth_variant_name(const SynthOptions& o) {
  std::string v;
  auto add = [&v](const std::string& part) { v += v.empty() ? part : "-" + part; };
  if (o.llama3_rope) {
    add(fmt::format("llama3rope{:g}-{:g}-{:g}-{}", o.llama3_rope->factor, o.llama3_rope->low_freq_factor,
                    o.llama3_rope->high_freq_factor, o.llama3_rope->original_context));
  }
  if (o.long_rope) add(fmt::format("longrope{}", o.long_rope->original_context));
  if (o.yarn_rope) add(fmt::format("yarn{:g}-{}", o.yarn_rope->factor, o.yarn_rope->original_context));
  if (o.tied_output) add("tied");
  return v;
}

namespace {

// The head size a synthesised model of `arch` gets. Qwen3's is twice dim / n_heads, so its
// query width differs from the model width as in the real models (Qwen3-0.6B: width 1024,
// 16 heads of 128), and attention.key_length is what says so.
int synth_head_dim(Architecture arch, const SynthShape& s) {
  return arch == Architecture::Qwen3 ? 2 * s.dim / s.n_heads : s.dim / s.n_heads;
}

float synth_rope_theta(const SynthOptions& opt) {
  if (opt.arch == Architecture::Qwen2 || opt.arch == Architecture::Qwen3 || opt.arch == Architecture::Gemma3) {
    return 1000000.0f;
  }
  if (opt.llama3_rope) return 500000.0f;  // Llama 3's base
  return 10000.0f;
}

// The rope.scaling.* keys of a LongRoPE or YaRN file, as llama.cpp's converter writes them
// (Phi3MiniModel for LongRoPE: no scaling type, the attention factor from the two contexts;
// the generic rope_parameters path for YaRN).
void write_rope_scaling_metadata(GgufWriter& w, const SynthOptions& opt, const SynthShape& s) {
  const std::string p = architecture_name(opt.arch) + ".";
  if (opt.long_rope) {
    const int original = opt.long_rope->original_context;
    const double scale = static_cast<double>(s.ctx) / original;
    const double attn_factor = scale > 1.0 ? std::sqrt(1.0 + std::log(scale) / std::log(static_cast<double>(original))) : 1.0;
    w.set_u32(p + "rope.scaling.original_context_length", static_cast<uint32_t>(original));
    w.set_f32(p + "rope.scaling.attn_factor", static_cast<float>(attn_factor));
  }
  if (opt.yarn_rope) {
    w.set_string(p + "rope.scaling.type", "yarn");
    w.set_f32(p + "rope.scaling.factor", opt.yarn_rope->factor);
    w.set_u32(p + "rope.scaling.original_context_length", static_cast<uint32_t>(opt.yarn_rope->original_context));
  }
}

// Tensors the synthesiser writes per block (for its progress count).
int synth_tensors_per_layer(Architecture arch) {
  switch (arch) {
    case Architecture::Qwen2: return 12;  // + q/k/v biases
    case Architecture::Qwen3: return 11;  // + q/k head norms
    case Architecture::Phi3: return 6;    // attn_qkv and ffn_up fused
    case Architecture::Gemma2: return 11;  // + post-attention and post-ffn norms
    case Architecture::Gemma3: return 13;  // + those and q/k head norms
    default: return 9;
  }
}

}  // namespace

GgufWriter synth_model(const SynthOptions& opt) {
  const SynthShape s = opt.shape ? *opt.shape : synth_shape(opt.size);
  const int head_dim = synth_head_dim(opt.arch, s);
  if (opt.llama3_rope && opt.arch != Architecture::Llama) {
    throw std::invalid_argument("llama3 rope scaling (rope_freqs) is a llama option");
  }
  if (opt.long_rope && opt.arch != Architecture::Phi3) {
    throw std::invalid_argument("longrope scaling (rope_factors_long/short) is a phi3 option");
  }
  if (opt.yarn_rope && is_gemma(opt.arch)) throw std::invalid_argument("yarn scaling is not synthesised for gemma");
  if (int(opt.llama3_rope.has_value()) + int(opt.long_rope.has_value()) + int(opt.yarn_rope.has_value()) > 1) {
    throw std::invalid_argument("one RoPE scaling at a time (llama3, longrope or yarn)");
  }
  if (opt.long_rope && opt.long_rope->original_context <= 0) {
    throw std::invalid_argument("longrope scaling needs an original context > 0");
  }
  if (opt.yarn_rope && (!(opt.yarn_rope->factor >= 1.0f) || opt.yarn_rope->original_context <= 0)) {
    throw std::invalid_argument(fmt::format("yarn scaling needs a factor >= 1 and an original context > 0 (found {}, {})",
                                            opt.yarn_rope->factor, opt.yarn_rope->original_context));
  }
  const std::string variant = synth_variant_name(opt);
  const std::string arch = architecture_name(opt.arch);
  const std::string p = arch + ".";
  GgufWriter w;
  w.set_string("general.architecture", arch);
  const std::string type_name =
      opt.mix != SynthMix::None ? std::string(synth_mix_name(opt.mix)) : std::string(dtype_name(opt.dtype));
  w.set_string("general.name", variant.empty() ? fmt::format("baton-synth-{}-{}", opt.size, type_name)
                                               : fmt::format("baton-synth-{}-{}-{}", opt.size, type_name, variant));
  w.set_u32("general.alignment", 32);
  w.set_u32(p + "block_count", static_cast<uint32_t>(s.n_layers));
  w.set_u32(p + "context_length", static_cast<uint32_t>(s.ctx));
  w.set_u32(p + "embedding_length", static_cast<uint32_t>(s.dim));
  w.set_u32(p + "feed_forward_length", static_cast<uint32_t>(s.ffn_dim));
  w.set_u32(p + "attention.head_count", static_cast<uint32_t>(s.n_heads));
  w.set_u32(p + "attention.head_count_kv", static_cast<uint32_t>(s.n_kv_heads));
  if (opt.arch == Architecture::Qwen3) {
    w.set_u32(p + "attention.key_length", static_cast<uint32_t>(head_dim));
    w.set_u32(p + "attention.value_length", static_cast<uint32_t>(head_dim));
  }
  w.set_u32(p + "rope.dimension_count", static_cast<uint32_t>(head_dim));
  w.set_f32(p + "rope.freq_base", synth_rope_theta(opt));
  w.set_f32(p + "attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_u32(p + "vocab_size", static_cast<uint32_t>(s.vocab));
  write_rope_scaling_metadata(w, opt, s);
  const bool gemma = is_gemma(opt.arch);
  if (gemma) write_gemma_metadata(w, opt.arch, head_dim);
  write_tokenizer_metadata(w, synth_vocabulary(opt.tokenizer, s.vocab));

  SplitMix rng(opt.seed);
  const int total = (gemma ? 2 : 3) - (opt.tied_output ? 1 : 0) + (opt.llama3_rope ? 1 : 0) + (opt.long_rope ? 2 : 0) +
                    synth_tensors_per_layer(opt.arch) * s.n_layers;
  int done = 0;
  auto report = [&] {
    ++done;
    if (opt.progress) opt.progress(done, total);
  };
  // Uniform weights with std 1/sqrt(fan_in) (uniform in [-a, a] has std a/sqrt(3)), so
  // activations keep a sane scale through the layers and logits are not degenerate.
  // The type of one matrix: opt.dtype (Q8_0 then F32 where its blocks do not fit, as
  // llama.cpp falls back), or what the mix picks.
  auto type_for = [&](Role role, int layer, int64_t cols) {
    if (opt.mix != SynthMix::None) return mix_type(opt.mix, role, layer, s.n_layers, cols);
    DType t = opt.dtype;
    if (role == Role::Embedding || role == Role::Head) return t;
    if (!row_fits_blocks(t, static_cast<uint64_t>(cols))) t = DType::Q8_0;
    if (!row_fits_blocks(t, static_cast<uint64_t>(cols))) t = DType::F32;
    return t;
  };
  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows, Role role, int layer) {
    std::vector<float> v(static_cast<size_t>(rows * cols));
    const float a = std::sqrt(3.0f / static_cast<float>(cols));
    for (auto& x : v) x = a * rng.uniform();
    const DType t = type_for(role, layer, cols);
    w.add_tensor(name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}, t, quantize_matrix(t, v, rows, cols));
    report();
  };
  auto vector = [&](const std::string& name, int64_t n, float centre, float spread) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = centre + spread * rng.uniform();
    w.add_tensor(name, {static_cast<uint64_t>(n)}, DType::F32, f32_bytes(v));
    report();
  };
  const int q_dim = s.n_heads * head_dim, kv_dim = s.n_kv_heads * head_dim;
  // Embeddings with std ~1 so the first RMSNorm sees well-scaled rows. Gemma's are smaller
  // (std ~0.3): its embedding also serves as the output head, where std 1 would put most
  // logits at the soft cap, and its input is scaled by sqrt(dim) anyway. A tied embedding
  // of the other architectures takes the head's scale (below): the RMSNorms make the blocks
  // indifferent to it, and the logits keep the untied models' range.
  {
    std::vector<float> v(static_cast<size_t>(s.vocab) * static_cast<size_t>(s.dim));
    const float amplitude = gemma ? 0.5f : opt.tied_output ? 4.0f * std::sqrt(3.0f / static_cast<float>(s.dim)) : 1.7f;
    for (auto& x : v) x = amplitude * rng.uniform();
    // A tied embedding is also the head, so a mix gives it the head's type, as llama.cpp's
    // quantiser does for a file without output.weight (Gemma's Q4_K_M: token_embd in Q6_K).
    const bool tied = gemma || opt.tied_output;
    const DType t = type_for(tied ? Role::Head : Role::Embedding, 0, s.dim);
    w.add_tensor("token_embd.weight", {static_cast<uint64_t>(s.dim), static_cast<uint64_t>(s.vocab)}, t,
                 quantize_matrix(t, v, s.vocab, s.dim));
    report();
  }
  for (int il = 0; il < s.n_layers; ++il) {
    const std::string b = fmt::format("blk.{}.", il);
    vector(b + "attn_norm.weight", s.dim, 1.0f, 0.1f);
    if (opt.arch == Architecture::Phi3) {
      matrix(b + "attn_qkv.weight", s.dim, q_dim + 2 * kv_dim, Role::Other, il);  // q rows, then k, then v
    } else {
      matrix(b + "attn_q.weight", s.dim, q_dim, Role::Other, il);
      matrix(b + "attn_k.weight", s.dim, kv_dim, Role::Other, il);
      matrix(b + "attn_v.weight", s.dim, kv_dim, Role::AttnV, il);
    }
    if (opt.arch == Architecture::Qwen2) {
      vector(b + "attn_q.bias", q_dim, 0.0f, 0.1f);
      vector(b + "attn_k.bias", kv_dim, 0.0f, 0.1f);
      vector(b + "attn_v.bias", kv_dim, 0.0f, 0.1f);
    }
    if (opt.arch == Architecture::Gemma3) {
      vector(b + "attn_q_norm.weight", head_dim, 1.0f, 0.1f);
      vector(b + "attn_k_norm.weight", head_dim, 1.0f, 0.1f);
    }
    if (opt.arch == Architecture::Qwen3) {
      // Spread well away from 1, so a forward that skipped the head norms would show.
      vector(b + "attn_q_norm.weight", head_dim, 1.0f, 0.5f);
      vector(b + "attn_k_norm.weight", head_dim, 1.0f, 0.5f);
    }
    matrix(b + "attn_output.weight", q_dim, s.dim, Role::Other, il);
    // Gemma's post-norms set how much each sub-block adds to the sqrt(dim)-scaled
    // embedding: about 4 keeps the layers' share of the residual comparable to it.
    if (gemma) vector(b + "post_attention_norm.weight", s.dim, 4.0f, 0.5f);
    vector(b + "ffn_norm.weight", s.dim, 1.0f, 0.1f);
    if (opt.arch == Architecture::Phi3) {
      matrix(b + "ffn_up.weight", s.dim, 2 * s.ffn_dim, Role::Other, il);  // gate rows, then up rows
    } else {
      matrix(b + "ffn_gate.weight", s.dim, s.ffn_dim, Role::Other, il);
      matrix(b + "ffn_up.weight", s.dim, s.ffn_dim, Role::Other, il);
    }
    matrix(b + "ffn_down.weight", s.ffn_dim, s.dim, Role::FfnDown, il);
    if (gemma) vector(b + "post_ffw_norm.weight", s.dim, 4.0f, 0.5f);
  }
  vector("output_norm.weight", s.dim, 1.0f, 0.1f);
  // Gemma reuses the embedding as the output head, as its real files do.
  if (gemma) return w;
  // Output scaled up so the logits have a clear top token (a random model's logits are
  // otherwise nearly flat, which makes greedy comparisons across dtypes meaningless).
  // A tied model has no output matrix: its head is the embedding, drawn at this scale.
  if (!opt.tied_output) {
    std::vector<float> v(static_cast<size_t>(s.vocab) * static_cast<size_t>(s.dim));
    const float a = 4.0f * std::sqrt(3.0f / static_cast<float>(s.dim));
    for (auto& x : v) x = a * rng.uniform();
    const DType t = type_for(Role::Head, 0, s.dim);
    w.add_tensor("output.weight", {static_cast<uint64_t>(s.dim), static_cast<uint64_t>(s.vocab)}, t,
                 quantize_matrix(t, v, s.vocab, s.dim));
    report();
  }
  if (opt.llama3_rope) {
    w.add_tensor("rope_freqs.weight", {static_cast<uint64_t>(head_dim / 2)}, DType::F32,
                 f32_bytes(llama3_rope_factors(*opt.llama3_rope, synth_rope_theta(opt), head_dim)));
    report();
  }
  if (opt.long_rope) {
    for (const bool long_factors : {true, false}) {
      w.add_tensor(long_factors ? "rope_factors_long.weight" : "rope_factors_short.weight",
                   {static_cast<uint64_t>(head_dim / 2)}, DType::F32, f32_bytes(longrope_factors(long_factors, head_dim)));
      report();
    }
  }
  return w;
}

}  // namespace baton
