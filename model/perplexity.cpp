#include "model/perplexity.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "model/kv_cache.h"
#include "model/transformer.h"

namespace baton {

namespace {

// -log softmax(logits)[target], in double: log-sum-exp shifted by the largest logit.
double token_nll(const float* logits, int64_t vocab, int32_t target) {
  const float top = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - top);
  return std::log(sum) + top - logits[target];
}

// Running sums of the scored tokens' NLL and its square.
struct NllSums {
  double sum = 0, sum_sq = 0;
  int64_t n = 0;
  void add(double nll) {
    sum += nll;
    sum_sq += nll * nll;
    ++n;
  }
};

// Feeds window[0 .. context) through the model from an empty cache, `batch` rows at a
// time, and scores the prediction of window[i + 1] at every position i.
void score_window(const Transformer& model, std::span<const int32_t> window, const PerplexityOptions& o, KVCache& kv,
                  ThreadPool* pool, NllSums& sums) {
  const HyperParams& hp = model.hparams();
  const int64_t context = static_cast<int64_t>(window.size()) - 1;
  kv.clear();
  std::vector<float> hidden, logits;
  for (int64_t pos0 = 0; pos0 < context; pos0 += o.batch) {
    const int64_t rows = std::min(o.batch, context - pos0);
    hidden.resize(static_cast<size_t>(rows * hp.dim));       // [rows, dim]
    logits.resize(static_cast<size_t>(rows * hp.vocab_size));  // [rows, vocab]
    model.embed(window.subspan(static_cast<size_t>(pos0), static_cast<size_t>(rows)), hidden.data());
    model.forward_layers(0, hp.n_layers, hidden.data(), rows, pos0, kv, pool);
    model.head(hidden.data(), rows, logits.data(), pool);
    for (int64_t r = 0; r < rows; ++r) {
      sums.add(token_nll(logits.data() + r * hp.vocab_size, hp.vocab_size, window[static_cast<size_t>(pos0 + r + 1)]));
    }
  }
}

}  // namespace

int64_t perplexity_windows(int64_t n_tokens, int64_t context, int64_t max_windows) {
  const int64_t n = context < 1 || n_tokens < 1 ? 0 : (n_tokens - 1) / context;
  return max_windows > 0 ? std::min(n, max_windows) : n;
}

PerplexityResult measure_perplexity(const Transformer& model, std::span<const int32_t> tokens,
                                    const PerplexityOptions& o, ThreadPool* pool) {
  const HyperParams& hp = model.hparams();
  const StageWeights& w = model.weights();
  if (!w.has_embedding || !w.has_head || w.range.first != 0 || w.range.last != hp.n_layers) {
    throw std::invalid_argument("perplexity needs the whole model: every layer, the embedding and the head");
  }
  if (o.context < 1 || o.batch < 1) throw std::invalid_argument("perplexity: context and batch must be at least 1");
  if (hp.ctx_train > 0 && o.context > hp.ctx_train) {
    throw std::invalid_argument(
        fmt::format("a context of {} tokens is longer than the model's context length {}", o.context, hp.ctx_train));
  }
  const int64_t n_windows = perplexity_windows(static_cast<int64_t>(tokens.size()), o.context, o.max_windows);
  if (n_windows == 0) {
    throw std::invalid_argument(fmt::format("the text has {} tokens; one window needs {} (context + 1): give a longer "
                                            "text or a smaller context", tokens.size(), o.context + 1));
  }
  for (int32_t t : tokens) {
    if (t < 0 || t >= hp.vocab_size) throw std::invalid_argument(fmt::format("token id {} is outside the vocabulary", t));
  }
  KVCache kv(o.kv_dtype, LayerRange{0, hp.n_layers}, o.context, hp.kv_dim(), hp.sliding_windows());
  NllSums sums;
  for (int64_t i = 0; i < n_windows; ++i) {
    score_window(model, tokens.subspan(static_cast<size_t>(i * o.context), static_cast<size_t>(o.context + 1)), o, kv,
                 pool, sums);
    if (o.progress) o.progress(i + 1, n_windows, std::exp(sums.sum / static_cast<double>(sums.n)));
  }
  PerplexityResult r;
  r.windows = n_windows;
  r.predicted = sums.n;
  const double n = static_cast<double>(sums.n);
  r.mean_nll = sums.sum / n;
  // Sample variance of the per-token NLL over n - 1 (0 for a single token).
  const double var = sums.n > 1 ? std::max(0.0, (sums.sum_sq - n * r.mean_nll * r.mean_nll) / (n - 1)) : 0.0;
  r.mean_nll_stderr = std::sqrt(var / n);
  r.perplexity = std::exp(r.mean_nll);
  r.perplexity_stderr = r.perplexity * r.mean_nll_stderr;
  return r;
}

}  // namespace baton
