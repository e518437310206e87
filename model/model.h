// A model opened from GGUF for one stage (or all layers): the mapped file, its
// hyper-parameters, the tokenizer, the bound weights and the transformer over them.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/hparams.h"
#include "model/tokenizer.h"
#include "model/transformer.h"
#include "model/weights.h"

namespace baton {

struct ModelOpenOptions {
  std::optional<LayerRange> range;        // default: all layers
  std::optional<bool> with_embedding;     // default: range starts at 0
  std::optional<bool> with_head;          // default: range ends at n_layers
  bool with_tokenizer = true;
  // Reads the stage's weight pages into memory up front so the first token is not slow;
  // reports (bytes done, bytes total) along the way.
  bool prefault = true;
  std::function<void(uint64_t done, uint64_t total)> progress;

  // What a coordinator opens: metadata and tokenizer, no layers, nothing read up front.
  static ModelOpenOptions without_layers() {
    ModelOpenOptions o;
    o.range = LayerRange{0, 0};
    o.with_embedding = false;
    o.with_head = false;
    o.prefault = false;
    return o;
  }
};

class Model {
 public:
  // Throws GgufError / std::invalid_argument with a clear message.
  static std::unique_ptr<Model> open(const std::string& path, const ModelOpenOptions& options = {});

  const GgufFile& file() const { return file_; }
  const HyperParams& hparams() const { return hparams_; }
  const StageWeights& weights() const { return weights_; }
  const Transformer& transformer() const { return *transformer_; }
  bool has_tokenizer() const { return tokenizer_ != nullptr; }
  const Tokenizer& tokenizer() const;  // throws if opened without one
  // Reads the stage's weight pages now (see ModelOpenOptions::prefault).
  void prefault(const std::function<void(uint64_t done, uint64_t total)>& progress) const;
  // Chat template source from tokenizer.chat_template ("" if absent).
  std::string chat_template_source() const;

 private:
  explicit Model(GgufFile file);

  GgufFile file_;
  HyperParams hparams_;
  std::vector<std::vector<float>> owned_f32_;
  StageWeights weights_;
  std::unique_ptr<Transformer> transformer_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

}  // namespace baton
