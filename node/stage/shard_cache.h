// The node's disk cache of fetched shards (<cache>/shards/<model hash>/layers-*.gguf):
// what is in it, and keeping it under a size cap by dropping the least recently used
// shards. A shard in use is marked used (its time stamp) and never dropped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace baton {

struct CachedShard {
  std::filesystem::path path;
  std::string model_hash;  // the folder it sits in
  uint64_t bytes = 0;
  std::filesystem::file_time_type last_used;
};

// Every shard file under `cache_dir`, most recently used first; empty if there is no cache.
std::vector<CachedShard> list_cached_shards(const std::string& cache_dir);

// Marks a shard as just used.
void touch_cached_shard(const std::filesystem::path& shard);

// Deletes least recently used shards (never `keep`) until the cache holds at most
// `max_bytes`; returns the shards deleted. Partly written files (*.part) count too.
std::vector<CachedShard> trim_shard_cache(const std::string& cache_dir, uint64_t max_bytes,
                                          const std::filesystem::path& keep);

}  // namespace baton
