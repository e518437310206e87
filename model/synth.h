// Deterministic synthetic models: real GGUF files with valid metadata, a real tokenizer
// table and random (seeded, portable) weights, for shape/dtype tests and benchmarks.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "model/gguf.h"
#include "model/hparams.h"
#include "model/tokenizer.h"

namespace baton {

struct SynthShape {
  int n_layers, dim, ffn_dim, n_heads, n_kv_heads, vocab, ctx;
};

struct SynthOptions {
  std::string size = "tiny";             // tiny | small | 110m | 7b
  std::optional<SynthShape> shape;       // any other shape (then `size` only names it)
  DType dtype = DType::F32;              // matrices; norms stay f32
  Architecture arch = Architecture::Llama;
  TokenizerKind tokenizer = TokenizerKind::Llama;
  uint64_t seed = 1;
  // Called with (tensors done, tensors total) while building.
  std::function<void(int, int)> progress;
};

// Throws std::invalid_argument for an unknown size name.
SynthShape synth_shape(const std::string& size);

GgufWriter synth_model(const SynthOptions& options);

// Writes the tokenizer.ggml.* keys (and a chatml chat template) for a vocabulary.
void write_tokenizer_metadata(GgufWriter& writer, const Vocabulary& vocab);

// Quantises a row-major f32 matrix (rows x cols) into `dtype`'s block layout.
std::vector<uint8_t> quantize_matrix(DType dtype, const std::vector<float>& values, int64_t rows, int64_t cols);

}  // namespace baton
