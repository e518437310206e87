#include "node/stage/shard_cache.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>

namespace fs = std::filesystem;

namespace baton {

std::vector<CachedShard> list_cached_shards(const std::string& cache_dir) {
  std::vector<CachedShard> out;
  std::error_code ec;
  const fs::path root = fs::path(cache_dir) / "shards";
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& model : fs::directory_iterator(root, ec)) {
    if (!model.is_directory(ec)) continue;
    for (const auto& f : fs::directory_iterator(model.path(), ec)) {
      if (!f.is_regular_file(ec)) continue;
      CachedShard s;
      s.path = f.path();
      s.model_hash = model.path().filename().string();
      s.bytes = f.file_size(ec);
      s.last_used = f.last_write_time(ec);
      out.push_back(std::move(s));
    }
  }
  std::sort(out.begin(), out.end(), [](const CachedShard& a, const CachedShard& b) { return a.last_used > b.last_used; });
  return out;
}

void touch_cached_shard(const fs::path& shard) {
  std::error_code ec;
  fs::last_write_time(shard, fs::file_time_type::clock::now(), ec);
}

std::vector<CachedShard> trim_shard_cache(const std::string& cache_dir, uint64_t max_bytes, const fs::path& keep) {
  std::vector<CachedShard> shards = list_cached_shards(cache_dir);
  uint64_t total = 0;
  for (const auto& s : shards) total += s.bytes;
  std::vector<CachedShard> dropped;
  std::error_code ec;
  // Oldest first, from the back of the most-recent-first list.
  for (auto it = shards.rbegin(); it != shards.rend() && total > max_bytes; ++it) {
    if (fs::equivalent(it->path, keep, ec)) continue;
    if (!fs::remove(it->path, ec)) continue;
    total -= it->bytes;
    dropped.push_back(*it);
    spdlog::info("shard cache over its cap: dropped {} ({:.1f} MiB, least recently used)", it->path.string(),
                 it->bytes / 1048576.0);
  }
  // Model folders left empty go too.
  for (const auto& d : dropped) {
    if (fs::is_empty(d.path.parent_path(), ec)) fs::remove(d.path.parent_path(), ec);
  }
  return dropped;
}

}  // namespace baton
