#include "node/model_source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "model/hparams.h"
#include "node/model_identity.h"
#include "node/thread_job.h"
#include "transport/rpc_peer.h"

namespace baton {

std::vector<std::string> shard_tensor_names(const GgufFile& file, int first, int last, bool embed, bool head) {
  const HyperParams hp = read_hparams(file);
  if (first < 0 || last > hp.n_layers || first > last) {
    throw std::invalid_argument(fmt::format("layer range [{}, {}) is outside the model's {} layers", first, last, hp.n_layers));
  }
  std::vector<std::string> names;
  for (const GgufTensor& t : file.tensors()) {
    const std::string& n = t.name;
    bool wanted = false;
    if (n.rfind("blk.", 0) == 0) {
      const int layer = std::atoi(n.c_str() + 4);
      wanted = layer >= first && layer < last;
    } else if (n == "token_embd.weight") {
      wanted = embed || (head && hp.tied_output);
    } else if (n == "output_norm.weight" || n == "output.weight") {
      wanted = head;
    } else if (n == "rope_freqs.weight" || n == "rope_factors_long.weight" || n == "rope_factors_short.weight") {
      wanted = last > first;  // RoPE factors (Llama 3, LongRoPE): one tensor every layer uses
    }
    if (wanted) names.push_back(n);
  }
  return names;
}

std::vector<uint8_t> shard_metadata_image(const GgufFile& file) {
  const HyperParams hp = read_hparams(file);
  GgufWriter w(3, file.alignment());
  for (const auto& [key, value] : file.metadata()) {
    if (key == "general.alignment") continue;  // the writer sets its own
    w.set(key, value);
  }
  w.set_u32(hp.arch_name + ".vocab_size", static_cast<uint32_t>(hp.vocab_size));
  w.set_bool("baton.shard.tied_output", hp.tied_output);
  return w.serialize();
}

kj::Promise<void> ModelSourceServer::manifest(ManifestContext context) {
  auto p = context.getParams();
  std::vector<std::string> names;
  try {
    names = shard_tensor_names(file_, p.getFirst(), p.getLast(), p.getWithEmbedding(), p.getWithHead());
  } catch (const std::exception& e) {
    throw_rpc_error(e.what());
  }
  // Hashing a range of a multi-GB model takes seconds: on a thread of its own, so the
  // coordinator keeps serving meanwhile. Each tensor is hashed once per process.
  std::vector<const GgufTensor*> missing;
  for (const std::string& n : names) {
    if (!hashes_.count(n)) missing.push_back(file_.find_tensor(n));
  }
  using Hashes = std::vector<std::pair<std::string, std::vector<uint8_t>>>;
  auto hashed = run_on_own_thread<Hashes>([missing] {
    Hashes out;
    for (const GgufTensor* t : missing) out.emplace_back(t->name, sha256(t->data, t->nbytes));
    return out;
  });
  return hashed.then([this, context, names = std::move(names)](Hashes computed) mutable {
    for (auto& [name, sha] : computed) hashes_.emplace(name, std::move(sha));
    auto p = context.getParams();
    const auto meta = shard_metadata_image(file_);
    auto m = context.getResults().initManifest();
    m.setModelHash(hash_);
    m.setMetadata(kj::arrayPtr(meta.data(), meta.size()));
    auto list = m.initTensors(static_cast<unsigned>(names.size()));
    for (unsigned i = 0; i < names.size(); ++i) {
      const GgufTensor& t = *file_.find_tensor(names[i]);
      auto e = list[i];
      e.setName(t.name);
      auto dims = e.initDims(static_cast<unsigned>(t.dims.size()));
      for (unsigned d = 0; d < t.dims.size(); ++d) dims.set(d, t.dims[d]);
      e.setDtype(static_cast<uint32_t>(t.dtype));
      e.setSize(t.nbytes);
      const auto& h = hashes_.at(t.name);
      e.setSha256(kj::arrayPtr(h.data(), h.size()));
    }
    spdlog::info("serving manifest of layers [{}, {}): {} tensors", p.getFirst(), p.getLast(), names.size());
  });
}

kj::Promise<void> ModelSourceServer::read(ReadContext context) {
  auto p = context.getParams();
  const GgufTensor* t = file_.find_tensor(std::string(p.getName().cStr()));
  if (!t) throw_rpc_error(fmt::format("no tensor named '{}'", p.getName().cStr()));
  const uint64_t offset = p.getOffset();
  const uint32_t length = p.getLength();
  if (length == 0 || length > kMaxShardChunk || offset > t->nbytes || length > t->nbytes - offset) {
    throw_rpc_error(fmt::format("read of '{}' [{}, +{}) is outside its {} bytes or over the {} byte chunk limit",
                                t->name, offset, length, t->nbytes, kMaxShardChunk));
  }
  context.getResults().setData(kj::arrayPtr(t->data + offset, length));
  return kj::READY_NOW;
}

}  // namespace baton
