// The node's side of shard transfer: asks the coordinator which tensors its range needs,
// checks they fit, then reuses a verified copy from the disk cache or fetches them in
// chunks (progress logged), verifies each tensor's SHA-256, and writes a stand-alone GGUF
// shard atomically into the cache so that a restart does not fetch again.
#pragma once

#include <functional>
#include <string>

#include "transport/baton.capnp.h"

namespace baton {

struct ShardRequest {
  std::string model_hash;
  int first = 0, last = 0;
  bool with_embedding = false, with_head = false;
  std::string cache_dir;
  uint64_t cache_max_bytes = 0;  // 0: no cap; else least recently used shards go first
  // Called with the shard's total tensor bytes before anything is fetched; throws to refuse.
  std::function<void(uint64_t weight_bytes)> check_fits;
};

// Resolves to the path of the verified shard file.
kj::Promise<std::string> fetch_shard(rpc::ModelSource::Client source, ShardRequest request);

}  // namespace baton
