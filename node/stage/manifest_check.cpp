#include "node/stage/manifest_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>
#include <stdexcept>

#include "node/model_identity.h"
#include "node/model_source.h"

namespace baton {

namespace {

constexpr size_t kMaxManifestTensors = 65536;
constexpr size_t kMaxTensorNameBytes = 256;  // GGML_MAX_NAME is 64; leave room

std::string dims_text(const std::vector<uint64_t>& dims) { return fmt::format("[{}]", fmt::join(dims, ", ")); }

}  // namespace

ShardManifest read_manifest(rpc::ModelManifest::Reader m) {
  ShardManifest out;
  out.model_hash = m.getModelHash();
  if (m.getTensors().size() > kMaxManifestTensors) {
    throw std::invalid_argument(fmt::format("manifest lists {} tensors (at most {})", m.getTensors().size(), kMaxManifestTensors));
  }
  std::set<std::string> seen;
  for (auto t : m.getTensors()) {
    ManifestTensor e;
    if (t.getName().size() == 0 || t.getName().size() > kMaxTensorNameBytes) {
      throw std::invalid_argument(fmt::format("manifest tensor name of {} bytes (1..{} allowed)", t.getName().size(), kMaxTensorNameBytes));
    }
    e.name = t.getName();
    if (!seen.insert(e.name).second) throw std::invalid_argument(fmt::format("manifest lists tensor '{}' twice", e.name));
    if (t.getDims().size() == 0 || t.getDims().size() > 4) {
      throw std::invalid_argument(fmt::format("manifest tensor '{}' has {} dims (1..4 allowed)", e.name, t.getDims().size()));
    }
    for (auto d : t.getDims()) e.dims.push_back(d);
    const auto info = dtype_info(t.getDtype());
    if (!info) throw std::invalid_argument(fmt::format("manifest tensor '{}' has unsupported dtype id {}", e.name, t.getDtype()));
    e.dtype = info->type;
    e.size = t.getSize();
    e.sha256.assign(t.getSha256().begin(), t.getSha256().end());
    if (e.sha256.size() != 32 || e.size == 0) throw std::invalid_argument(fmt::format("manifest entry '{}' is malformed", e.name));
    out.total_bytes += e.size;
    out.tensors.push_back(std::move(e));
  }
  out.metadata.assign(m.getMetadata().begin(), m.getMetadata().end());
  return out;
}

std::vector<uint8_t> shard_metadata_digest(const GgufFile& file) {
  const GgufFile image = GgufFile::parse(shard_metadata_image(file), "shard metadata");
  GgufWriter canonical(3, 32);
  for (const auto& [key, value] : image.metadata()) {  // std::map: sorted, whatever order the file had
    if (key != "general.alignment") canonical.set(key, value);
  }
  const std::vector<uint8_t> bytes = canonical.serialize();
  return sha256(bytes.data(), bytes.size());
}

std::string manifest_mismatch(const GgufFile& file, const ShardManifest& manifest, bool exact, KnownTensorHashes* known) {
  std::vector<uint8_t> expected;
  try {
    expected = shard_metadata_digest(GgufFile::parse(manifest.metadata, "manifest metadata"));
  } catch (const std::exception& e) {
    return fmt::format("the manifest's metadata is unusable: {}", e.what());
  }
  try {
    if (shard_metadata_digest(file) != expected) {
      return "its metadata differs from the coordinator's model (hyper-parameters, tokenizer or template)";
    }
  } catch (const std::exception& e) {
    return fmt::format("its metadata differs from the coordinator's model and is invalid: {}", e.what());
  }
  for (const ManifestTensor& e : manifest.tensors) {
    const GgufTensor* t = file.find_tensor(e.name);
    if (!t) return fmt::format("tensor '{}' is missing", e.name);
    if (t->dims != e.dims || t->dtype != e.dtype || t->nbytes != e.size) {
      return fmt::format("tensor '{}' is {} {} ({} bytes), the model's is {} {} ({} bytes)", e.name, dtype_name(t->dtype),
                         dims_text(t->dims), t->nbytes, dtype_name(e.dtype), dims_text(e.dims), e.size);
    }
    if (known) {
      const auto it = known->find(e.name);
      if (it != known->end() && it->second == e.sha256) continue;
    }
    if (sha256(t->data, t->nbytes) != e.sha256) return fmt::format("tensor '{}' has different bytes (SHA-256)", e.name);
    if (known) (*known)[e.name] = e.sha256;
  }
  if (exact && file.tensors().size() != manifest.tensors.size()) {
    return fmt::format("it holds {} tensors, the assignment needs {}", file.tensors().size(), manifest.tensors.size());
  }
  return "";
}

}  // namespace baton
