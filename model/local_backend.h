// ForwardBackend that runs every layer in this process (`baton run`, the reference for
// distributed output).
#pragma once

#include "model/generation.h"
#include "model/kv_cache.h"
#include "model/transformer.h"

namespace baton {

class ThreadPool;

class LocalBackend final : public ForwardBackend {
 public:
  // The transformer must hold all layers, the embedding and the head.
  LocalBackend(const Transformer& transformer, DType kv_dtype, int64_t context, ThreadPool* pool);

  std::vector<float> forward(std::span<const int32_t> tokens, int64_t pos0) override;
  std::vector<float> forward_rows(std::span<const int32_t> tokens, int64_t pos0) override;
  std::vector<float> forward_embedding_sum(std::span<const int32_t> tokens, int64_t pos0) override;
  void truncate(int64_t n_positions) override;
  int64_t reusable_prefix(int64_t n) const override { return kv_.reusable_prefix(n); }
  int64_t context_capacity() const override { return kv_.capacity(); }
  const KVCache& kv_cache() const { return kv_; }

 private:
  // Runs the tokens through every layer (hidden states, n x dim).
  std::vector<float> run_layers(std::span<const int32_t> tokens, int64_t pos0);
  // And the head for the last `head_rows` of them.
  std::vector<float> run(std::span<const int32_t> tokens, int64_t pos0, int64_t head_rows);

  const Transformer& tf_;
  KVCache kv_;
  ThreadPool* pool_;
};

}  // namespace baton
