// The shard cache keeps under its cap by dropping least recently used shards, never the
// one in use.
#include "node/stage/shard_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace baton {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ShardCache : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("shard-cache-" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path shard(const std::string& model, const std::string& name, size_t mib, std::chrono::minutes age) {
    const fs::path p = dir_ / "shards" / model / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << std::string(mib << 20, 'w');
    fs::last_write_time(p, fs::file_time_type::clock::now() - age);
    return p;
  }
  fs::path dir_;
};

TEST_F(ShardCache, ListsMostRecentFirst) {
  EXPECT_TRUE(list_cached_shards(dir_.string()).empty());
  shard("m1", "a.gguf", 1, 30min);
  shard("m2", "b.gguf", 2, 5min);
  const auto all = list_cached_shards(dir_.string());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].path.filename(), "b.gguf");
  EXPECT_EQ(all[0].model_hash, "m2");
  EXPECT_EQ(all[0].bytes, 2u << 20);
}

TEST_F(ShardCache, TrimDropsLeastRecentlyUsedButNeverTheShardInUse) {
  const auto oldest = shard("m1", "oldest.gguf", 2, 60min);
  const auto in_use = shard("m1", "in-use.gguf", 2, 50min);
  const auto middle = shard("m2", "middle.gguf", 2, 40min);
  const auto newest = shard("m2", "newest.gguf", 2, 1min);
  const auto dropped = trim_shard_cache(dir_.string(), 5u << 20, in_use);
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_FALSE(fs::exists(oldest));
  EXPECT_FALSE(fs::exists(middle));
  EXPECT_TRUE(fs::exists(in_use));
  EXPECT_TRUE(fs::exists(newest));
  // Used again: it becomes the most recent and survives the next trim.
  touch_cached_shard(in_use);
  trim_shard_cache(dir_.string(), 2u << 20, fs::path());
  EXPECT_TRUE(fs::exists(in_use));
  EXPECT_FALSE(fs::exists(newest));
  EXPECT_FALSE(fs::exists(dir_ / "shards" / "m2")) << "an emptied model folder is removed";
  EXPECT_TRUE(trim_shard_cache(dir_.string(), 100u << 20, fs::path()).empty());
}

}  // namespace
}  // namespace baton
