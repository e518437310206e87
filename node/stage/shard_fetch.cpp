#include "node/stage/shard_fetch.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "model/gguf.h"
#include "node/model_identity.h"
#include "node/stage/shard_cache.h"
#include "node/model_source.h"
#include "node/stage/verified_tensors.h"
#include "node/thread_job.h"
#include "transport/rpc_peer.h"

namespace fs = std::filesystem;

namespace baton {

namespace {

struct FetchState {
  rpc::ModelSource::Client source;
  ShardRequest request;
  ShardManifest manifest;
  std::string path;
  GgufWriter writer;
  size_t index = 0;
  uint64_t offset = 0;
  std::vector<uint8_t> current;
  uint64_t done = 0;
  int last_decile = -1;

  explicit FetchState(rpc::ModelSource::Client s) : source(kj::mv(s)) {}
};

// "" when the cached shard at `path` holds exactly the manifest's metadata and tensors,
// else why not (a shard that does not parse included): it is then fetched again.
std::string cached_shard_mismatch(const std::string& path, const ShardManifest& manifest) {
  if (!fs::exists(path)) return "not cached";
  try {
    return manifest_mismatch(GgufFile::open(path), manifest, /*exact=*/true);
  } catch (const std::exception& e) {
    return e.what();
  }
}

kj::Promise<void> fetch_next(FetchState& st) {
  if (st.index == st.manifest.tensors.size()) return kj::READY_NOW;
  const ManifestTensor& e = st.manifest.tensors[st.index];
  const uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(kMaxShardChunk, e.size - st.offset));
  auto req = st.source.readRequest();
  req.setName(e.name);
  req.setOffset(st.offset);
  req.setLength(len);
  return req.send().then([&st, len](capnp::Response<rpc::ModelSource::ReadResults> r) {
    const ManifestTensor& e = st.manifest.tensors[st.index];
    auto data = r.getData();
    if (data.size() != len) {
      throw_rpc_error(fmt::format("tensor '{}': asked for {} bytes at {}, got {}", e.name, len, st.offset, data.size()));
    }
    st.current.insert(st.current.end(), data.begin(), data.end());
    st.offset += len;
    st.done += len;
    const int decile = static_cast<int>(st.done * 10 / std::max<uint64_t>(st.manifest.total_bytes, 1));
    if (decile != st.last_decile) {
      st.last_decile = decile;
      spdlog::info("fetching layers [{}, {}): {}% ({:.1f} / {:.1f} MiB)", st.request.first, st.request.last,
                   decile * 10, st.done / 1048576.0, st.manifest.total_bytes / 1048576.0);
    }
    if (st.offset == e.size) {
      if (sha256(st.current.data(), st.current.size()) != e.sha256) {
        throw_rpc_error(fmt::format("tensor '{}' failed its SHA-256 check after transfer", e.name));
      }
      st.writer.add_tensor(e.name, e.dims, e.dtype, std::move(st.current));
      st.current = {};
      st.offset = 0;
      ++st.index;
    }
    return fetch_next(st);
  });
}

}  // namespace

kj::Promise<ShardManifest> request_manifest(rpc::ModelSource::Client source, const ShardRequest& request) {
  auto req = source.manifestRequest();
  req.setFirst(request.first);
  req.setLast(request.last);
  req.setWithEmbedding(request.with_embedding);
  req.setWithHead(request.with_head);
  return req.send().then([model_hash = request.model_hash](capnp::Response<rpc::ModelSource::ManifestResults> r) {
    ShardManifest m;
    try {
      m = read_manifest(r.getManifest());
    } catch (const std::exception& e) {
      throw_rpc_error(e.what());
    }
    if (m.model_hash != model_hash) {
      throw_rpc_error(fmt::format("model source serves model {} but the assignment is for {}", m.model_hash, model_hash));
    }
    return m;
  });
}

kj::Promise<std::string> fetch_shard(rpc::ModelSource::Client source, ShardRequest request, ShardManifest manifest) {
  auto st = kj::heap<FetchState>(kj::mv(source));
  st->request = std::move(request);
  st->manifest = std::move(manifest);
  const ShardRequest& rq = st->request;
  rq.check_fits(st->manifest.total_bytes);
  const fs::path dir = fs::path(rq.cache_dir) / "shards" / rq.model_hash;
  st->path = (dir / fmt::format("layers-{}-{}-e{}-h{}.gguf", rq.first, rq.last, int(rq.with_embedding), int(rq.with_head)))
                 .string();
  // Hashing a cached shard takes a while for big ranges: off the event loop.
  auto check = run_on_own_thread<std::string>(
      [path = st->path, manifest = st->manifest] { return cached_shard_mismatch(path, manifest); });
  return check.then([st = kj::mv(st), dir](std::string mismatch) mutable -> kj::Promise<std::string> {
    const ShardRequest& rq = st->request;
    if (mismatch.empty()) {
      spdlog::info("layers [{}, {}) found in the shard cache ({}), nothing to fetch", rq.first, rq.last, st->path);
      touch_cached_shard(st->path);
      return kj::Promise<std::string>(st->path);
    }
    if (mismatch != "not cached") {
      spdlog::warn("cached shard {} does not match the coordinator's model ({}); fetching it again", st->path, mismatch);
    }
    fs::create_directories(dir);
    // The shard carries the model's metadata so it loads like any GGUF file.
    GgufFile meta = GgufFile::parse(st->manifest.metadata, "shard metadata");
    for (const auto& [key, value] : meta.metadata()) {
      if (key != "general.alignment") st->writer.set(key, value);
    }
    auto& ref = *st;
    return fetch_next(ref).then([st = kj::mv(st)]() {
      st->writer.write(st->path);
      spdlog::info("layers [{}, {}) fetched and verified: {:.1f} MiB cached in {}", st->request.first,
                   st->request.last, st->manifest.total_bytes / 1048576.0, st->path);
      if (st->request.cache_max_bytes > 0) trim_shard_cache(st->request.cache_dir, st->request.cache_max_bytes, st->path);
      return st->path;
    });
  });
}

kj::Promise<std::string> verify_own_copy(std::string model_path, std::string cache_dir, ShardManifest manifest) {
  return run_on_own_thread<std::string>([model_path = std::move(model_path), cache_dir = std::move(cache_dir),
                                         manifest = std::move(manifest)]() -> std::string {
    try {
      VerifiedTensors verified = VerifiedTensors::load(cache_dir, model_path);
      size_t already = 0;
      for (const ManifestTensor& t : manifest.tensors) {
        const auto it = verified.known().find(t.name);
        already += it != verified.known().end() && it->second == t.sha256;
      }
      const std::string mismatch = manifest_mismatch(GgufFile::open(model_path), manifest, /*exact=*/false, &verified.known());
      if (already < manifest.tensors.size()) verified.save();  // whatever was found good, even if not all
      if (mismatch.empty()) {
        spdlog::info("own model copy matches the coordinator's manifest: {} tensors hashed, {} already verified",
                     manifest.tensors.size() - already, already);
      }
      return mismatch;
    } catch (const std::exception& e) {
      return e.what();
    }
  });
}

}  // namespace baton
