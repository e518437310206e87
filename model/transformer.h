// The transformer forward, callable in pieces so pipeline stages can run their part:
//   embed(tokens) -> hidden; forward_layers(first, last, hidden, ...) ; head(hidden) -> logits.
// A full forward is embed + forward_layers(0, n_layers) + head. Hidden states are
// row-major [n_tokens][dim] f32. The math is pure: buffers in, buffers out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "model/hparams.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace baton {

class ThreadPool;

class Transformer {
 public:
  // `weights` must outlive the transformer (they point into the mapped file). Builds the
  // RoPE tables once. Throws std::invalid_argument for inconsistent RoPE parameters.
  Transformer(const HyperParams& hp, const StageWeights& weights);

  const HyperParams& hparams() const { return hp_; }
  const StageWeights& weights() const { return w_; }

  // hidden (n x dim) = token embeddings. Throws std::out_of_range for ids outside the vocab.
  void embed(std::span<const int32_t> tokens, float* hidden) const;

  // Runs blocks [first, last) (inside this stage's range) over n_tokens rows at positions
  // pos0.. in place. Writes those positions into `kv`; when `last` is the cache's last
  // layer, sets kv.size() to pos0+n_tokens.
  // Throws std::out_of_range if pos0 != kv.size() (positions must be contiguous) or the
  // cache would overflow.
  void forward_layers(int first, int last, float* hidden, int64_t n_tokens, int64_t pos0,
                      KVCache& kv, ThreadPool* pool) const;

  // Several sequences at once (each with its own rows, positions and cache): the linear
  // layers run over all rows together, so weights are read once per batch; attention
  // runs per sequence. forward_layers is the batch of one.
  struct Sequence {
    float* hidden = nullptr;  // n_tokens x dim, in place
    int64_t n_tokens = 0;
    int64_t pos0 = 0;
    KVCache* kv = nullptr;
  };
  void forward_layers_batch(int first, int last, std::span<const Sequence> batch, ThreadPool* pool) const;

  // logits (n x vocab) from the final norm and output head of n hidden rows.
  void head(const float* hidden, int64_t n_tokens, float* logits, ThreadPool* pool) const;
  // Embeddings: adds the final norm of each of n hidden rows, in row order, to `sum` (dim
  // floats). The stage holding the head has the norm's weights.
  void add_final_norms(const float* hidden, int64_t n_tokens, float* sum) const;

 private:
  struct BlockBuffers;  // one block's intermediate rows, reused by every layer of a call
  void block(const LayerWeights& L, int layer, float* hidden, int64_t n, std::span<const Sequence> batch,
             BlockBuffers& buf, ThreadPool* pool) const;
  // Gemma 2 / 3's block (model/transformer_gemma.cpp): same buffers and batching.
  void gemma_block(const LayerWeights& L, int layer, float* hidden, int64_t n, std::span<const Sequence> batch,
                   BlockBuffers& buf, ThreadPool* pool) const;
  // The RoPE of `layer` for a sequence whose KV cache holds `context` positions: LongRoPE's
  // long factors when the context exceeds the original one (llama.cpp decides on its
  // per-sequence context the same way), Gemma's own RoPE on sliding layers.
  const RopeTable& rope_for(int layer, int64_t context) const;

  HyperParams hp_;
  const StageWeights& w_;
  RopeTable rope_;                         // hp_.rope with rope_freqs or LongRoPE's short factors
  std::optional<RopeTable> rope_long_;     // LongRoPE's long factors
  std::optional<RopeTable> rope_sliding_;  // Gemma's sliding-window layers
};

// y = W x for n rows of x (uses matvec for one row, matmul otherwise).
void linear(const WeightView& w, const float* x, int64_t n, float* y, ThreadPool* pool);

}  // namespace baton
