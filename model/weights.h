// Views of the weights a stage needs, pointing into the mapped GGUF file: only the
// layers of its range, plus the embedding (first stage) and the head (last stage).
// Every tensor's dims and dtype are checked against the hyper-parameters on load.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/hparams.h"
#include "tensor/kernels.h"

namespace baton {

class GgufFile;

// Half-open range of transformer blocks [first, last).
struct LayerRange {
  int first = 0;
  int last = 0;
  int size() const { return last - first; }
  bool contains(int layer) const { return layer >= first && layer < last; }
};

// Phi-3's fused attn_qkv and ffn_up are bound as row ranges of the one tensor (views, no
// copy): attn_q/k/v and ffn_gate/up then point into it, and together cover it exactly, so
// sums over these views count its bytes once.
struct LayerWeights {
  WeightView attn_q, attn_k, attn_v, attn_output;
  WeightView ffn_gate, ffn_up, ffn_down;
  const float* attn_norm = nullptr;
  const float* ffn_norm = nullptr;
  const float* bias_q = nullptr;  // qwen2 only
  const float* bias_k = nullptr;
  const float* bias_v = nullptr;
  const float* post_attn_norm = nullptr;  // Gemma: norm of the attention output before the residual
  const float* post_ffn_norm = nullptr;   // Gemma: same for the feed-forward output
  const float* attn_q_norm = nullptr;     // Qwen3, Gemma 3: RMS norm of each query head (head_dim)
  const float* attn_k_norm = nullptr;     // Qwen3, Gemma 3: same for each key head
};

struct StageWeights {
  LayerRange range;
  bool has_embedding = false;
  bool has_head = false;
  WeightView token_embedding{};  // rows = vocab, cols = dim
  WeightView output{};           // rows = vocab, cols = dim (token_embd when tied)
  const float* output_norm = nullptr;
  // Llama 3: rope_dims/2 divisors of the RoPE frequencies (rope_freqs.weight, one tensor
  // shared by every layer, so every stage with layers binds it); null when absent.
  const float* rope_freqs = nullptr;
  // LongRoPE (Phi-3 128k, Phi-3.5): the divisors for contexts beyond
  // rope.scaling.original_context_length, and for contexts up to it; both or neither.
  const float* rope_factors_long = nullptr;
  const float* rope_factors_short = nullptr;
  std::vector<LayerWeights> layers;  // layers[i] is block range.first + i
  uint64_t bytes = 0;                // tensor bytes this stage references

  const LayerWeights& layer(int block) const { return layers[static_cast<size_t>(block - range.first)]; }
};

// Binds the stage's tensors. 1-D norm/bias vectors that are not stored as F32 are
// converted into `owned_f32` (kept alive by the caller alongside the file).
// Throws GgufError naming the tensor and expected vs found dims/dtype.
StageWeights bind_stage_weights(const GgufFile& file, const HyperParams& hp, LayerRange range,
                                bool with_embedding, bool with_head,
                                std::vector<std::vector<float>>& owned_f32);

// What a decode step of these weights reads and multiplies: the seven matrices of every
// layer and the output head (the embedding row is looked up, not multiplied). Bytes as
// stored, elements at 2 FLOPs each: `baton bench`'s GB/s and GFLOP/s, and the figure a
// node calibrates, come from these.
uint64_t decode_weight_bytes(const StageWeights& w);
uint64_t decode_weight_elements(const StageWeights& w);

// Weight types the matvec kernels accept for 2-D tensors.
bool is_supported_weight_dtype(DType t);

}  // namespace baton
