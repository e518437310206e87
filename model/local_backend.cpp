#include "model/local_backend.h"

#include <stdexcept>

namespace baton {

LocalBackend::LocalBackend(const Transformer& tf, DType kv_dtype, int64_t context, ThreadPool* pool)
    : tf_(tf),
      kv_(kv_dtype, tf.weights().range, context, tf.hparams().kv_dim(), tf.hparams().sliding_windows()),
      pool_(pool) {
  const auto& w = tf.weights();
  if (!w.has_embedding || !w.has_head || w.range.first != 0 || w.range.last != tf.hparams().n_layers) {
    throw std::invalid_argument("a local backend needs the whole model (all layers, embedding and head)");
  }
}

std::vector<float> LocalBackend::run_layers(std::span<const int32_t> tokens, int64_t pos0) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const auto dim = static_cast<size_t>(tf_.hparams().dim);
  // Positions after pos0 are a speculative step's rejected drafts: drop them.
  if (pos0 < kv_.size()) kv_.set_size(pos0);
  std::vector<float> hidden(static_cast<size_t>(n) * dim);
  tf_.embed(tokens, hidden.data());
  tf_.forward_layers(0, tf_.hparams().n_layers, hidden.data(), n, pos0, kv_, pool_);
  return hidden;
}

std::vector<float> LocalBackend::run(std::span<const int32_t> tokens, int64_t pos0, int64_t head_rows) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const auto dim = static_cast<size_t>(tf_.hparams().dim);
  const std::vector<float> hidden = run_layers(tokens, pos0);
  std::vector<float> logits(static_cast<size_t>(head_rows) * static_cast<size_t>(tf_.hparams().vocab_size));
  tf_.head(hidden.data() + static_cast<size_t>(n - head_rows) * dim, head_rows, logits.data(), pool_);
  return logits;
}

std::vector<float> LocalBackend::forward(std::span<const int32_t> tokens, int64_t pos0) {
  return run(tokens, pos0, 1);  // only the last row's logits are needed for sampling
}

std::vector<float> LocalBackend::forward_rows(std::span<const int32_t> tokens, int64_t pos0) {
  return run(tokens, pos0, static_cast<int64_t>(tokens.size()));
}

std::vector<float> LocalBackend::forward_embedding_sum(std::span<const int32_t> tokens, int64_t pos0) {
  const std::vector<float> hidden = run_layers(tokens, pos0);
  std::vector<float> sum(static_cast<size_t>(tf_.hparams().dim), 0.0f);
  tf_.add_final_norms(hidden.data(), static_cast<int64_t>(tokens.size()), sum.data());
  return sum;
}

void LocalBackend::truncate(int64_t n_positions) {
  if (n_positions < kv_.size()) kv_.set_size(n_positions);
}

}  // namespace baton
