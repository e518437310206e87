// What a model costs to hold and to run, per layer: the only facts about a model the
// partition planner needs. Built from a parsed GGUF file (no I/O here: the caller opens
// the file) or from explicit numbers (tests, what-if planning).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/sliding_window.h"
#include "tensor/dtype.h"

namespace baton {

class GgufFile;

struct ModelCostProfile {
  std::string architecture;  // general.architecture, informational
  int n_layers = 0;
  // Bytes of every "blk.N.*" tensor as stored (quantised sizes count), index N.
  std::vector<uint64_t> layer_weight_bytes;
  // FLOPs of one token through layer N that do not depend on the position:
  // 2 per weight element (one multiply-add per weight in the matrix-vector products).
  std::vector<double> layer_flops;
  uint64_t embed_bytes = 0;   // token_embd.weight
  // Bytes the last stage must hold: output_norm + output.weight, or token_embd.weight when
  // the head is tied to the embedding (the last stage needs its own copy then).
  uint64_t head_bytes = 0;
  // When tied, a single stage holding both ends keeps token_embd once: these bytes are
  // counted in both embed_bytes and head_bytes and must then be subtracted once.
  uint64_t tied_shared_bytes = 0;
  double head_flops = 0;      // 2 * vocab * dim for the logits
  int dim = 0;                // hidden size: one activation row has `dim` elements
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  int ctx_train = 0;          // context_length the model was trained with (0 if unknown)
  // Sliding-window layers (Gemma 2/3) keep fewer KV positions than the context.
  SlidingWindows sliding;

  uint64_t total_weight_bytes() const;  // layers + embed + head (tied counted once)
  // K and V for one position of one layer: 2 * n_kv_heads * head_dim elements.
  double kv_bytes_per_token_per_layer(DType kv_dtype) const;
  // K and V the layers [first, last) hold at a context of ctx positions (a sliding-window
  // layer holds only what it can read: model/sliding_window.h).
  double kv_bytes(int first, int last, int64_t ctx, DType kv_dtype) const;
  // Attention FLOPs of one decoded token in one layer per cached position:
  // scores q.k (2 * head_dim per head) and the weighted sum of V (2 * head_dim per head).
  double attention_flops_per_position() const;
  // Empty when consistent; otherwise what is wrong ("layer_weight_bytes has 3 entries, n_layers is 4").
  std::string validate() const;
};

// Bytes per stored element of a KV cache dtype (q8_0: 34 bytes per 32 elements).
// Throws std::invalid_argument for dtypes a KV cache cannot use.
double kv_bytes_per_element(DType kv_dtype);

// From a parsed GGUF file: hyper-parameters under "<general.architecture>." and the tensor
// table. Throws GgufError naming the key or tensor when something is missing or
// inconsistent (a block index past block_count, a block without tensors, ...).
ModelCostProfile cost_profile_from_gguf(const GgufFile& file);

// Explicit numbers for tests and what-if planning: every layer the same.
struct UniformModelShape {
  int n_layers = 0;
  uint64_t layer_weight_bytes = 0;
  uint64_t layer_weight_elements = 0;
  uint64_t embed_bytes = 0;
  uint64_t head_bytes = 0;
  bool tied_output = false;  // head_bytes then includes the embedding copy
  int dim = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  int ctx_train = 0;
};
ModelCostProfile make_uniform_cost_profile(const UniformModelShape& shape);

}  // namespace baton
