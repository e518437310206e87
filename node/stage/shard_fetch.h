// The node's side of shard transfer: asks the coordinator which tensors its range needs
// (the manifest: metadata, and per tensor dims, dtype, size, SHA-256), checks they fit,
// then reuses a copy from the disk cache that matches the manifest exactly or fetches
// them in chunks (progress logged), verifies each tensor's SHA-256, and writes a
// stand-alone GGUF shard atomically into the cache so that a restart does not fetch again.
// A node's own model copy is checked against the same manifest before use.
#pragma once

#include <functional>
#include <string>

#include "node/stage/manifest_check.h"
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

// The manifest of the request's tensors; fails (RPC error) when the source serves another
// model or the manifest is malformed.
kj::Promise<ShardManifest> request_manifest(rpc::ModelSource::Client source, const ShardRequest& request);

// Resolves to the path of the verified shard file.
kj::Promise<std::string> fetch_shard(rpc::ModelSource::Client source, ShardRequest request, ShardManifest manifest);

// Checks the node's own model file against the manifest on a thread of its own (the
// event loop keeps serving); tensors found good are remembered under `cache_dir`, keyed
// by the file's identity. Resolves to "" when the file matches, else to what differs.
kj::Promise<std::string> verify_own_copy(std::string model_path, std::string cache_dir, ShardManifest manifest);

}  // namespace baton
