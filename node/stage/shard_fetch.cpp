#include "node/stage/shard_fetch.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "model/gguf.h"
#include "node/model_identity.h"
#include "node/stage/shard_cache.h"
#include "node/model_source.h"
#include "transport/rpc_peer.h"

namespace fs = std::filesystem;

namespace baton {

namespace {

struct Entry {
  std::string name;
  std::vector<uint64_t> dims;
  DType dtype;
  uint64_t size;
  std::vector<uint8_t> sha;
};

struct FetchState {
  rpc::ModelSource::Client source;
  ShardRequest request;
  std::vector<Entry> entries;
  std::vector<uint8_t> metadata;
  std::string path;
  GgufWriter writer;
  size_t index = 0;
  uint64_t offset = 0;
  std::vector<uint8_t> current;
  uint64_t total = 0, done = 0;
  int last_decile = -1;

  explicit FetchState(rpc::ModelSource::Client s) : source(kj::mv(s)) {}
};

// True when the cached shard holds every manifest tensor with the right bytes.
bool cached_shard_matches(const std::string& path, const std::vector<Entry>& entries) {
  if (!fs::exists(path)) return false;
  try {
    GgufFile f = GgufFile::open(path);
    for (const Entry& e : entries) {
      const GgufTensor* t = f.find_tensor(e.name);
      if (!t || t->nbytes != e.size || t->dtype != e.dtype || sha256(t->data, t->nbytes) != e.sha) return false;
    }
    return true;
  } catch (const std::exception& e) {
    spdlog::warn("cached shard {} is unusable ({}); fetching again", path, e.what());
    return false;
  }
}

kj::Promise<void> fetch_next(FetchState& st) {
  if (st.index == st.entries.size()) return kj::READY_NOW;
  const Entry& e = st.entries[st.index];
  const uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(kMaxShardChunk, e.size - st.offset));
  auto req = st.source.readRequest();
  req.setName(e.name);
  req.setOffset(st.offset);
  req.setLength(len);
  return req.send().then([&st, len](capnp::Response<rpc::ModelSource::ReadResults> r) {
    const Entry& e = st.entries[st.index];
    auto data = r.getData();
    if (data.size() != len) {
      throw_rpc_error(fmt::format("tensor '{}': asked for {} bytes at {}, got {}", e.name, len, st.offset, data.size()));
    }
    st.current.insert(st.current.end(), data.begin(), data.end());
    st.offset += len;
    st.done += len;
    const int decile = static_cast<int>(st.done * 10 / std::max<uint64_t>(st.total, 1));
    if (decile != st.last_decile) {
      st.last_decile = decile;
      spdlog::info("fetching layers [{}, {}): {}% ({:.1f} / {:.1f} MiB)", st.request.first, st.request.last,
                   decile * 10, st.done / 1048576.0, st.total / 1048576.0);
    }
    if (st.offset == e.size) {
      if (sha256(st.current.data(), st.current.size()) != e.sha) {
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

kj::Promise<std::string> fetch_shard(rpc::ModelSource::Client source, ShardRequest request) {
  auto req = source.manifestRequest();
  req.setFirst(request.first);
  req.setLast(request.last);
  req.setWithEmbedding(request.with_embedding);
  req.setWithHead(request.with_head);
  auto st = kj::heap<FetchState>(kj::mv(source));
  st->request = std::move(request);
  return req.send().then([st = kj::mv(st)](capnp::Response<rpc::ModelSource::ManifestResults> r) mutable {
    auto m = r.getManifest();
    const ShardRequest& rq = st->request;
    if (std::string(m.getModelHash().cStr()) != rq.model_hash) {
      throw_rpc_error(fmt::format("model source serves model {} but the assignment is for {}", m.getModelHash().cStr(),
                                  rq.model_hash));
    }
    if (m.getTensors().size() > 65536) throw_rpc_error("manifest lists too many tensors");
    for (auto t : m.getTensors()) {
      Entry e;
      e.name = t.getName();
      if (t.getDims().size() == 0 || t.getDims().size() > 4) {
        throw_rpc_error(fmt::format("manifest tensor '{}' has {} dims (1..4 allowed)", e.name, t.getDims().size()));
      }
      for (auto d : t.getDims()) e.dims.push_back(d);
      const auto info = dtype_info(t.getDtype());
      if (!info) throw_rpc_error(fmt::format("manifest tensor '{}' has unsupported dtype id {}", e.name, t.getDtype()));
      e.dtype = info->type;
      e.size = t.getSize();
      e.sha.assign(t.getSha256().begin(), t.getSha256().end());
      if (e.sha.size() != 32 || e.size == 0) throw_rpc_error(fmt::format("manifest entry '{}' is malformed", e.name));
      st->total += e.size;
      st->entries.push_back(std::move(e));
    }
    rq.check_fits(st->total);
    st->metadata.assign(m.getMetadata().begin(), m.getMetadata().end());
    const fs::path dir = fs::path(rq.cache_dir) / "shards" / rq.model_hash;
    st->path = (dir / fmt::format("layers-{}-{}-e{}-h{}.gguf", rq.first, rq.last, int(rq.with_embedding),
                                  int(rq.with_head)))
                   .string();
    if (cached_shard_matches(st->path, st->entries)) {
      spdlog::info("layers [{}, {}) found in the shard cache ({}), nothing to fetch", rq.first, rq.last, st->path);
      touch_cached_shard(st->path);
      return kj::Promise<std::string>(st->path);
    }
    fs::create_directories(dir);
    // The shard carries the model's metadata so it loads like any GGUF file.
    GgufFile meta = GgufFile::parse(st->metadata, "shard metadata");
    for (const auto& [key, value] : meta.metadata()) {
      if (key != "general.alignment") st->writer.set(key, value);
    }
    auto& ref = *st;
    return fetch_next(ref).then([st = kj::mv(st)]() {
      st->writer.write(st->path);
      spdlog::info("layers [{}, {}) fetched and verified: {:.1f} MiB cached in {}", st->request.first,
                   st->request.last, st->total / 1048576.0, st->path);
      if (st->request.cache_max_bytes > 0) trim_shard_cache(st->request.cache_dir, st->request.cache_max_bytes, st->path);
      return st->path;
    });
  });
}

}  // namespace baton
