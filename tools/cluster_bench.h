// `baton bench --nodes N,...`: local clusters of real node processes on loopback, driven
// by an in-process coordinator; prints decode tokens/s, time to first token, bytes per
// token per hop (raw and on the wire) and per-hop overhead, per wire format; or, with
// --sessions, aggregate decode tokens/s of several sessions in flight at once.
#pragma once

#include <string>
#include <vector>

namespace baton::cli {

struct ClusterBenchArgs {
  std::string model;
  std::vector<int> nodes{1, 2, 3};
  std::vector<std::string> wires{"f32", "int8+zstd"};
  int32_t prompt_tokens = 64;
  int32_t gen_tokens = 64;
  unsigned threads = 2;  // per node, and for the single-process baseline
  // Non-empty: instead of the wire comparison, run this many sessions at once on a cluster
  // of each node count (wire int8+zstd) and print aggregate decode tokens/s.
  std::vector<int> sessions;
  bool lockstep = false;  // all sessions in one batch group (for comparison)
  bool pin = false;       // node i runs only on CPU i mod cores (like separate devices)
  // Decode as an API request with default sampling asks (temperature 1, no top-k): the
  // last stage samples and returns the token, or with full_logits returns every logit
  // and the coordinator samples (how it worked before sampling moved to the last stage).
  bool full_logits = false;
};

int run_cluster_bench(const ClusterBenchArgs& args);

}  // namespace baton::cli
