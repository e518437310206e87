// One block's intermediate rows, shared by the block functions of model/transformer*.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "model/transformer.h"

namespace baton {

// Allocated once per forward call, not per layer: fresh multi-megabyte buffers for every
// block cost page faults and zeroing worth a third of a 128-token prefill.
struct Transformer::BlockBuffers {
  BlockBuffers(const HyperParams& hp, int64_t n)
      : x(static_cast<size_t>(n * hp.dim)),
        q(static_cast<size_t>(n * hp.q_dim())),
        k(static_cast<size_t>(n * hp.kv_dim())),
        v(static_cast<size_t>(n * hp.kv_dim())),
        attn(static_cast<size_t>(n * hp.q_dim())),
        out(static_cast<size_t>(n * hp.dim)),
        gate(static_cast<size_t>(n * hp.ffn_dim)),
        up(static_cast<size_t>(n * hp.ffn_dim)) {}
  std::vector<float> x, q, k, v;  // n x dim (normed input), n x q_dim, n x kv_dim, n x kv_dim
  std::vector<float> attn, out;   // n x q_dim, n x dim
  std::vector<float> gate, up;    // n x ffn_dim each
};

}  // namespace baton
