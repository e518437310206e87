// Hyper-parameters of a Llama-family model, read from GGUF metadata, and the tensor
// names and shapes each architecture must have.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/sliding_window.h"
#include "tensor/dtype.h"
#include "tensor/kernels.h"

namespace baton {

class GgufFile;

enum class Architecture { Llama, Mistral, Qwen2, Gemma2, Gemma3, Qwen3, Phi3 };

// <arch>.rope.scaling.type. LongRope: per-pair frequency divisors from rope_factors_long
// when the context in use exceeds rope.original_context, else rope_factors_short (Phi-3
// 128k files have these tensors without the key; llama files need the key to have them).
enum class RopeScaling { None, Linear, Yarn, LongRope };

// What Gemma 2 and 3 add to the Llama block: a scaled embedding, GELU feed-forward,
// norms after attention and after the feed-forward, sliding-window attention on some
// layers (with their own RoPE), soft-capped scores and logits (2) and Q/K norms (3).
struct GemmaParams {
  bool enabled = false;
  float embed_scale = 1.0f;     // sqrt(embedding_length)
  float attn_scale = 0.0f;      // score scale (0: 1/sqrt(head_dim))
  float attn_softcap = 0.0f;    // 0: none
  float final_softcap = 0.0f;   // 0: none
  bool qk_norm = false;         // attn_q_norm / attn_k_norm per head (Gemma 3)
  int sliding_window = 0;       // positions a sliding layer sees, its own included
  std::vector<bool> sliding;    // per layer: true for a sliding-window layer
  RopeParams rope_sliding;      // RoPE of the sliding layers (the others use HyperParams::rope)

  bool is_sliding(int layer) const {
    return layer >= 0 && static_cast<size_t>(layer) < sliding.size() && sliding[static_cast<size_t>(layer)];
  }
};

struct HyperParams {
  Architecture arch = Architecture::Llama;
  std::string arch_name;     // as in general.architecture
  int n_layers = 0;
  int dim = 0;               // embedding_length
  int ffn_dim = 0;           // feed_forward_length
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;          // dim / n_heads unless attention.key_length says otherwise
  int vocab_size = 0;
  int ctx_train = 0;         // context_length the model was trained with
  float rms_eps = 1e-5f;
  RopeParams rope;           // theta, freq scale, layout (NeoX for qwen2), rotated dims, YaRN, attn factor
  RopeScaling rope_scaling = RopeScaling::Linear;  // as llama.cpp: linear unless the file says otherwise
  bool qkv_bias = false;     // qwen2
  bool qk_norm = false;      // qwen3: RMSNorm over each query and key head before RoPE
  bool fused_qkv = false;    // phi3: one attn_qkv matrix (q rows, then k, then v)
  bool fused_gate_up = false;  // phi3: one ffn_up matrix of 2*ffn rows (gate half, then up half)
  bool tied_output = false;  // no output.weight: the head reuses token_embd

  // Gemma 2 / 3 (read by read_gemma_hparams; neutral for the other architectures).
  GemmaParams gemma;

  int q_dim() const { return n_heads * head_dim; }
  // The sliding-window layers, for sizing KV caches (none outside Gemma).
  SlidingWindows sliding_windows() const { return {gemma.sliding_window, gemma.sliding}; }
  int kv_dim() const { return n_kv_heads * head_dim; }
};

// Reads and checks hyper-parameters (positive, consistent: n_heads % n_kv_heads == 0,
// rope dims even and <= head_dim, vocab matches the token table). Throws GgufError
// naming the key and the expected vs found value.
HyperParams read_hparams(const GgufFile& file);

std::string architecture_name(Architecture arch);
// "llama", "qwen3", ... as general.architecture spells them; nullopt for others.
std::optional<Architecture> parse_architecture(std::string_view name);

// The Gemma 2 / 3 part of read_hparams (model/hparams_gemma.cpp): fills hp.gemma from the
// <arch>.* keys once the common ones are read. Throws GgufError naming the key.
void read_gemma_hparams(const GgufFile& file, HyperParams& hp);

}  // namespace baton
