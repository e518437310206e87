// Gemma 2 / 3 hyper-parameters. Keys, defaults and the layer pattern follow what llama.cpp
// reads from the files its converter writes (convert_hf_to_gguf's Gemma2Model / Gemma3Model):
//   gemma2: every other layer slides (0, 2, 4, ...), window 4096 unless
//           attention.sliding_window says otherwise, attention scores capped at
//           attn_logit_softcapping (50) and logits at final_logit_softcapping (30), sliding
//           layers with the same RoPE as the others unless rope.freq_base_swa is given;
//   gemma3: five sliding layers to one global (layer i slides unless i % 6 == 5), only when
//           attention.sliding_window is present; sliding layers use RoPE base 10000 (or
//           rope.freq_base_swa) without the file's linear rope scaling, which applies to the
//           global layers only; logits capped only if final_logit_softcapping is given.
// attention.sliding_window_pattern, when present, overrides the pattern: a period n (layer
// i slides unless i % n == n - 1) or one flag per layer.
#include <fmt/format.h>

#include <cmath>

#include "model/gguf.h"
#include "model/hparams.h"
#include "model/sliding_window.h"

namespace baton {

namespace {

float positive_float(const GgufFile& f, const std::string& key, float fallback) {
  const auto v = f.opt_f64(key);
  if (!v) return fallback;
  const auto x = static_cast<float>(*v);
  if (!std::isfinite(x) || !(x > 0.0f)) {
    throw GgufError(fmt::format("{}: '{}' must be a positive finite number, found {}", f.path(), key, *v));
  }
  return x;
}

// llama.cpp's default pattern: period n, the last layer of each period global.
std::vector<bool> periodic_pattern(int n_layers, uint64_t period) {
  std::vector<bool> sliding(static_cast<size_t>(n_layers));
  for (int il = 0; il < n_layers; ++il) sliding[static_cast<size_t>(il)] = static_cast<uint64_t>(il) % period < period - 1;
  return sliding;
}

std::vector<bool> read_pattern(const GgufFile& f, const std::string& key, int n_layers, uint64_t default_period) {
  const GgufValue* v = f.find(key);
  if (v == nullptr) return periodic_pattern(n_layers, default_period);
  if (v->type == GgufType::ARRAY) {
    const auto& arr = *std::get<std::shared_ptr<GgufArray>>(v->v);
    if (arr.items.size() != static_cast<size_t>(n_layers)) {
      throw GgufError(fmt::format("{}: '{}' has {} entries, expected one per layer ({})", f.path(), key,
                                  arr.items.size(), n_layers));
    }
    std::vector<bool> sliding;
    for (const GgufValue& item : arr.items) {
      if (const auto* b = std::get_if<bool>(&item.v)) {
        sliding.push_back(*b);
      } else if (const auto* u = std::get_if<uint64_t>(&item.v)) {
        sliding.push_back(*u != 0);
      } else if (const auto* i = std::get_if<int64_t>(&item.v)) {
        sliding.push_back(*i != 0);
      } else {
        throw GgufError(fmt::format("{}: '{}' must hold booleans or integers, found {}", f.path(), key,
                                    gguf_type_name(arr.elem_type)));
      }
    }
    return sliding;
  }
  const uint64_t period = f.get_u64(key);
  if (period == 0 || period > 1024) {
    throw GgufError(fmt::format("{}: '{}' must be in [1, 1024], found {}", f.path(), key, period));
  }
  return periodic_pattern(n_layers, period);
}

}  // namespace

SlidingWindows read_sliding_windows(const GgufFile& f, std::string_view arch_name, int n_layers) {
  const bool gemma2 = arch_name == "gemma2";
  if (!gemma2 && arch_name != "gemma3") return {};
  const std::string p = std::string(arch_name) + ".";
  const std::string window_key = p + "attention.sliding_window";
  const auto window = f.opt_u64(window_key);
  if (window && (*window == 0 || *window > (1u << 24))) {
    // gemma3 files without sliding layers leave the key out rather than writing 0.
    throw GgufError(fmt::format("{}: '{}' must be in [1, {}], found {}", f.path(), window_key, 1u << 24, *window));
  }
  SlidingWindows out;
  if (gemma2 || window) {
    out.window = static_cast<int>(window.value_or(4096));
    out.sliding = read_pattern(f, p + "attention.sliding_window_pattern", n_layers, gemma2 ? 2 : 6);
  }
  return out;
}

void read_gemma_hparams(const GgufFile& f, HyperParams& hp) {
  const bool gemma2 = hp.arch == Architecture::Gemma2;
  const std::string p = hp.arch_name + ".";
  GemmaParams& g = hp.gemma;
  g.enabled = true;
  g.embed_scale = std::sqrt(static_cast<float>(hp.dim));
  g.qk_norm = !gemma2;
  // Gemma rotates the two halves of each head (NeoX layout).
  hp.rope.layout = RopeLayout::NeoX;
  // Gemma 2 always reuses the embedding as the output head (llama.cpp ignores output.weight).
  if (gemma2) hp.tied_output = true;

  // query_pre_attn_scalar is not in the file: llama.cpp takes it to be head_dim except for
  // the 27B models (recognised by their layer count), where it is dim / n_heads.
  const bool is_27b = hp.n_layers == (gemma2 ? 46 : 62);
  g.attn_scale = 1.0f / std::sqrt(static_cast<float>(is_27b ? hp.dim / hp.n_heads : hp.head_dim));

  if (gemma2) {
    g.attn_softcap = positive_float(f, p + "attn_logit_softcapping", 50.0f);
    g.final_softcap = positive_float(f, p + "final_logit_softcapping", 30.0f);
  } else {
    g.final_softcap = positive_float(f, p + "final_logit_softcapping", 0.0f);
  }

  SlidingWindows windows = read_sliding_windows(f, hp.arch_name, hp.n_layers);
  g.sliding_window = windows.window;
  g.sliding = std::move(windows.sliding);

  g.rope_sliding = hp.rope;
  if (!gemma2) {
    g.rope_sliding.theta = 10000.0f;
    g.rope_sliding.freq_scale = 1.0f;
  }
  g.rope_sliding.theta = positive_float(f, p + "rope.freq_base_swa", g.rope_sliding.theta);
  if (!(g.rope_sliding.theta > 1.0f)) {
    throw GgufError(fmt::format("{}: rope.freq_base_swa must be > 1, found {}", f.path(), g.rope_sliding.theta));
  }
}

}  // namespace baton
