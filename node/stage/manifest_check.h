// A node trusts only what the coordinator's manifest says: the model's metadata and, per
// tensor, name, dims, dtype, size and SHA-256. A fetched shard, a cached shard and the
// node's own copy of the model are all checked against it tensor by tensor before use.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "transport/baton.capnp.h"

namespace baton {

struct ManifestTensor {
  std::string name;
  std::vector<uint64_t> dims;
  DType dtype = DType::F32;
  uint64_t size = 0;
  std::vector<uint8_t> sha256;
};

struct ShardManifest {
  std::string model_hash;
  std::vector<uint8_t> metadata;  // a GGUF image with the model's metadata, no tensors
  std::vector<ManifestTensor> tensors;
  uint64_t total_bytes = 0;
};

// Reads a manifest received from the coordinator, bounding every field; throws
// std::invalid_argument naming the problem.
ShardManifest read_manifest(rpc::ModelManifest::Reader m);

// SHA-256 over the metadata as the shard image carries it (sorted keys, without
// general.alignment): equal digests mean equal hyper-parameters, tokenizer and template.
// Computed on shard_metadata_image(file), so a whole model, a shard cut from it and the
// manifest's image all compare equal when they describe the same model.
std::vector<uint8_t> shard_metadata_digest(const GgufFile& file);

// SHA-256 values of tensors already found equal to a manifest's, by tensor name.
using KnownTensorHashes = std::map<std::string, std::vector<uint8_t>>;

// What differs between `file` and the manifest, "" when nothing does. Every manifest
// tensor must be in the file with the same dims, dtype, size and bytes (SHA-256); with
// `exact`, the file may hold no other tensors (a shard). Tensors whose hash `known`
// already holds with the manifest's value are not hashed again; the ones found good are
// added to it.
std::string manifest_mismatch(const GgufFile& file, const ShardManifest& manifest, bool exact,
                              KnownTensorHashes* known = nullptr);

}  // namespace baton
