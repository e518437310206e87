// Perplexity of a model on a token stream, the way the shipped model's held-out figure
// was measured in PyTorch (tools/train/train.py): the stream is cut into non-overlapping
// windows of `context` + 1 tokens, window i starting at token i * context; each window
// starts from an empty KV cache, its first `context` tokens go in and all `context`
// predictions (of tokens 1 .. context of the window) are scored. The tail that does not
// fill a window is not scored.
//
// llama.cpp's perplexity tool differs: its windows are `context` tokens long, the first
// replaced by BOS, and only the second half of each window is scored (every scored token
// then has at least context/2 tokens before it). Its figures are lower for the same model
// and context; compare like with like.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "tensor/dtype.h"

namespace baton {

class ThreadPool;
class Transformer;

struct PerplexityOptions {
  int64_t context = 0;           // tokens fed per window (and predictions scored)
  int64_t batch = 256;           // rows per forward call (bounds the logits buffer)
  DType kv_dtype = DType::F16;
  int64_t max_windows = 0;       // score only the first this many windows; 0: all
  // After each window: (windows done, windows total, perplexity so far).
  std::function<void(int64_t done, int64_t total, double ppl)> progress;
};

struct PerplexityResult {
  int64_t windows = 0;
  int64_t predicted = 0;          // tokens scored
  double mean_nll = 0;            // nats per token
  double mean_nll_stderr = 0;     // standard error of the mean over the scored tokens
  double perplexity = 0;          // exp(mean_nll)
  double perplexity_stderr = 0;   // perplexity * mean_nll_stderr (first-order)
};

// Number of windows a stream of n tokens gives (at most max_windows when that is > 0).
int64_t perplexity_windows(int64_t n_tokens, int64_t context, int64_t max_windows = 0);

// The transformer must hold every layer, the embedding and the head. Throws
// std::invalid_argument when the stream is shorter than one window or context < 1 or
// larger than the model's context length.
PerplexityResult measure_perplexity(const Transformer& model, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options, ThreadPool* pool);

}  // namespace baton
