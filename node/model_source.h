// The coordinator's side of shard transfer: tells a node which tensors its layer range
// needs (with sizes and SHA-256) and serves their bytes in bounded chunks.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "transport/baton.capnp.h"

namespace baton {

inline constexpr uint32_t kMaxShardChunk = 4u << 20;

// Names of the tensors a stage needs: blk.N.* for N in [first, last), token_embd when
// embedding (or when the head is tied), output_norm and output when holding the head,
// rope_freqs (Llama 3) or rope_factors_long/short (LongRoPE) when holding any layer.
std::vector<std::string> shard_tensor_names(const GgufFile& file, int first, int last, bool embed, bool head);

// A GGUF image with the model's metadata (no tensors), plus what a shard needs to stand
// alone: <arch>.vocab_size and baton.shard.tied_output.
std::vector<uint8_t> shard_metadata_image(const GgufFile& file);

class ModelSourceServer final : public rpc::ModelSource::Server {
 public:
  ModelSourceServer(const GgufFile& file, std::string model_hash) : file_(file), hash_(std::move(model_hash)) {}

 protected:
  kj::Promise<void> manifest(ManifestContext context) override;
  kj::Promise<void> read(ReadContext context) override;

 private:
  const GgufFile& file_;
  std::string hash_;
  std::map<std::string, std::vector<uint8_t>> hashes_;  // computed once per tensor
};

}  // namespace baton
