// Hyper-parameters of a Llama-family model, read from GGUF metadata, and the tensor
// names and shapes each architecture must have.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/dtype.h"
#include "tensor/kernels.h"

namespace baton {

class GgufFile;

enum class Architecture { Llama, Mistral, Qwen2 };

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
  RopeParams rope;           // theta, freq scale, layout (NeoX for qwen2), rotated dims
  bool qkv_bias = false;     // qwen2
  bool tied_output = false;  // no output.weight: the head reuses token_embd

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
};

// Reads and checks hyper-parameters (positive, consistent: n_heads % n_kv_heads == 0,
// rope dims even and <= head_dim, vocab matches the token table). Throws GgufError
// naming the key and the expected vs found value.
HyperParams read_hparams(const GgufFile& file);

std::string architecture_name(Architecture arch);

}  // namespace baton
